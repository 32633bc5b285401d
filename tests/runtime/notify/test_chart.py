"""The report chart: read from matplotlib's figure objects (labels, legend, lines, markers),
and a pixel snapshot of the PNG at 1080 px.

The snapshot is compared with matplotlib's own ``compare_images`` (RMS of the pixel
difference, 0-255 scale) under :data:`SNAPSHOT_TOL`: matplotlib's wheels draw text
with the FreeType they bundle, so the same version gives the same pixels, and the
tolerance absorbs anti-aliasing changes of another FreeType build; a moved line, a
lost label or another layout is far above it. Update the file with
``pytest tests/runtime/notify --snapshot-update`` and look at it before committing.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from invest.runtime.notify.chart import (
    DATE_FORMAT,
    BenchmarkSeries,
    EquitySeries,
    TradeMark,
    report_figure,
    report_png,
)
from tests.runtime.notify.events import DAY, curves

pytest.importorskip("matplotlib")

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.testing.compare import compare_images

SNAPSHOT = Path(__file__).parent / "snapshots" / "daily_report_1080.png"
SNAPSHOT_TOL = 2.0

ONE = curves(None).curves[0]
BENCH = curves(None).benchmark


def drawn(fig: Figure | None) -> tuple[Axes, Axes]:
    assert fig is not None
    FigureCanvasAgg(fig).draw()  # tick labels are set when the figure is drawn
    top, low = fig.axes
    return top, low


def labels(texts: list) -> list[str]:
    return [t.get_text().replace("\u2212", "-") for t in texts if t.get_text()]


def line(ax: Axes, label: str):
    (found,) = [x for x in ax.get_lines() if x.get_label() == label]
    return found


def test_the_axes_carry_dates_values_and_a_legend_of_account_and_benchmark() -> None:
    top, low = drawn(report_figure([ONE], BENCH, title="Daily report 2024-03-14"))
    ticks = labels(low.get_xticklabels())
    days = [datetime.strptime(t, DATE_FORMAT).replace(tzinfo=UTC).date() for t in ticks]
    assert len(days) >= 3
    assert days == sorted(days)
    values = [float(t.replace(",", "")) for t in labels(top.get_yticklabels())]
    assert len(values) >= 3
    assert min(values) <= 10000 <= max(values)
    assert [float(t.rstrip("%")) for t in labels(low.get_yticklabels())]  # drawdown, in percent
    assert labels(top.get_legend().get_texts()) == ["trend-daily", "SP500"]
    fig = top.get_figure()
    assert fig is not None
    assert fig.get_suptitle() == "Daily report 2024-03-14"
    assert "10,234" in [t.get_text() for t in top.texts]  # the last value at the line's end


def test_the_benchmark_is_rebased_to_the_first_equity_on_the_accounts_days() -> None:
    top, _ = drawn(report_figure([ONE], BENCH))
    bench = line(top, "SP500")
    # The account starts on the benchmark's second day: it is rebased there.
    assert list(bench.get_xdata()) == list(ONE.days)
    expected = [10000.0 * c / 5110.0 for c in (5110.0, 5090.0, 5120.0, 5150.0, 5160.0)]
    assert list(bench.get_ydata()) == pytest.approx(expected)


def test_a_missing_benchmark_is_said_never_drawn() -> None:
    for bench, name in ((BenchmarkSeries("SP500"), "SP500 n/a"), (None, "benchmark n/a")):
        top, low = drawn(report_figure([ONE], bench))
        assert labels(top.get_legend().get_texts()) == ["trend-daily", name]
        assert len(line(top, name).get_xdata()) == 0
        assert len(low.get_lines()) == 1  # the account's drawdown only


def test_several_accounts_are_drawn_as_returns_since_their_first_day() -> None:
    top, _ = drawn(report_figure(curves(None).curves, BENCH))
    assert labels(top.get_legend().get_texts()) == ["trend-daily", "rl-weekly", "SP500"]
    assert all(t.endswith("%") for t in labels(top.get_yticklabels()))
    rl = line(top, "rl-weekly")
    assert list(rl.get_ydata()) == pytest.approx([0.0, 0.005, 0.002])
    assert {"+2.3%", "+0.2%"} <= {t.get_text() for t in top.texts}


def test_the_drawdown_panel_shows_the_fall_from_the_peak() -> None:
    _, low = drawn(report_figure([ONE], None))
    (dd,) = low.get_lines()
    assert list(dd.get_ydata()) == pytest.approx([0.0, 0.0, 9990 / 10050 - 1, 0.0, 0.0])


def test_the_days_trades_are_marked_on_their_accounts_line() -> None:
    trades = [
        TradeMark("trend-daily", DAY, "AAPL", "buy"),
        TradeMark("trend-daily", DAY, "MSFT", "buy"),
        TradeMark("trend-daily", DAY, "XOM", "sell"),
        TradeMark("elsewhere", DAY, "KO", "buy"),  # no such line: not drawn
    ]
    top, _ = drawn(report_figure([ONE], BENCH, trades))
    markers = {x.get_marker(): (x.get_xdata()[0], x.get_ydata()[0]) for x in top.get_lines()}
    assert markers["^"] == (DAY, 10234.5)
    assert markers["v"] == (DAY, 10234.5)
    assert {"buy AAPL, MSFT", "sell XOM"} <= {t.get_text() for t in top.texts}
    plain, _ = drawn(report_figure([ONE], BENCH))
    assert {x.get_marker() for x in plain.get_lines()} == {"None"}
    assert not [t for t in plain.texts if t.get_text().startswith(("buy", "sell"))]


def test_nothing_to_draw_gives_no_chart() -> None:
    short = EquitySeries("a", (DAY,), (1.0,))
    assert report_figure([short], BENCH) is None
    assert report_png([], None) is None


def _size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.mark.parametrize("width", [1080, 540])
def test_the_png_is_as_wide_as_asked_and_four_by_five(width: int) -> None:
    png = report_png([ONE], BENCH, width_px=width)
    assert png is not None
    assert _size(png) == (width, width * 5 // 4)
    assert b"matplotlib" not in png  # no Software chunk: the bytes depend on the data only


def test_the_daily_report_png_matches_its_snapshot(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    data = curves(None)
    png = report_png(data.curves, data.benchmark, data.trades, title="Daily report 2024-03-14")
    assert png is not None
    assert png == report_png(
        data.curves, data.benchmark, data.trades, title="Daily report 2024-03-14"
    )  # deterministic in one run
    if request.config.getoption("--snapshot-update", default=False):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_bytes(png)
    actual = tmp_path / "daily_report_1080.png"
    actual.write_bytes(png)
    assert _size(png) == (1080, 1350)
    assert compare_images(str(SNAPSHOT), str(actual), tol=SNAPSHOT_TOL) is None


def test_importing_the_notifiers_chart_path_loads_no_matplotlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys, invest.runtime.notify.chart, invest.runtime.notify.format, "
        "invest.runtime.notify.curves, invest.runtime.notify.discord; "
        "print(sorted(m for m in sys.modules if m.startswith('matplotlib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readme_image_is_what_the_screenshot_script_draws_now(tmp_path: Path) -> None:
    import importlib.util

    script = Path(__file__).parents[3] / "scripts" / "alert_screenshot.py"
    spec = importlib.util.spec_from_file_location("alert_screenshot", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text, png = module.render()
    assert text.startswith("Daily report 2022-04-13")
    assert _size(png) == (1080, 1350)
    actual = tmp_path / "telegram-daily.png"
    actual.write_bytes(png)
    assert compare_images(str(module.OUT), str(actual), tol=SNAPSHOT_TOL) is None
