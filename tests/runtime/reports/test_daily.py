"""The engine's daily page of one account: its chart, tables and files, and the retention."""

from __future__ import annotations

import math
import stat
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.domain import Fill, Side
from invest.runtime.reports import daily
from invest.runtime.reports.charts import MISSING_EXTRA, ReportsExtraMissing
from tests.runtime.reports.page_parse import external, parse

pytest.importorskip("matplotlib")

DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(10)]
EQUITY = [10_000.0, 10_100, 10_050, 9_800, 9_900, 10_200, 10_150, 10_300, 10_250, 10_400]
RECORD: dict[str, Any] = {
    "day": "2024-03-10",
    "account": "alpha",
    "regime": "risk_on",
    "equity": 10_400.0,
    "notes": ["momentum leaders held"],
    "orders": [
        {
            "side": "buy",
            "qty": "3",
            "symbol": "MSFT",
            "ref_price": "410.5",
            "reason": "rank 1 of 10",
        }
    ],
}


def page(**kw: Any) -> daily.DailyPage:
    base: dict[str, Any] = {
        "account": "alpha",
        "day": DAYS[-1],
        "days": DAYS,
        "equity": EQUITY,
        "benchmark": "SPY",
        "bench_days": DAYS,
        "bench_closes": [500.0 + i for i in range(10)],
        "fills": [
            Fill(
                "c1",
                "alpha",
                "MSFT",
                Side.BUY,
                Decimal("3"),
                Decimal("410.50"),
                Decimal("1.00"),
                DAYS[-1],
                "rank 1 of 10",
            )
        ],
        "records": [RECORD],
        "risk": ["realised VaR99 n/a (needs 60 sessions, has 9)", "largest MSFT 11.8%"],
    }
    base.update(kw)
    return daily.DailyPage(**base)


def test_the_page_holds_the_chart_the_fills_the_records_and_the_risk_line() -> None:
    text = daily.page_html(page())
    p = parse(text)
    assert list(p.charts) == ["equity"]
    assert len(p.charts["equity"]) == 1
    assert p.tables["fills"][1] == [
        "MSFT",
        "buy",
        "3",
        "410.50",
        "1,231.50",
        "1.00",
        "rank 1 of 10",
    ]
    body = "".join(p.text)
    assert "order buy 3 MSFT @~410.5: rank 1 of 10" in body
    assert "largest MSFT 11.8%" in body
    assert "equity 10,400.00 (+150.00, +1.46% on the day)" in body
    assert [r for r in p.refs if external(r)] == []
    assert p.scripts == 0


def test_a_day_without_fills_or_records_says_so() -> None:
    body = "".join(parse(daily.page_html(page(fills=(), records=()))).text)
    assert "No fill on this session." in body
    assert "No decision recorded on this session." in body


def test_the_benchmark_is_scaled_to_the_first_equity_and_carried_over_gaps() -> None:
    p = page(bench_days=[DAYS[0], DAYS[2]], bench_closes=[100.0, 110.0])
    scaled = daily.scaled_benchmark(p)
    assert scaled[0] == pytest.approx(10_000.0)
    assert scaled[1] == pytest.approx(10_000.0)  # the last close on or before the day
    assert scaled[2:] == pytest.approx([11_000.0] * 8)


def test_a_benchmark_that_starts_late_starts_at_the_account_equity_of_that_day() -> None:
    scaled = daily.scaled_benchmark(page(bench_days=[DAYS[3]], bench_closes=[50.0]))
    assert all(math.isnan(v) for v in scaled[:3])
    assert scaled[3] == pytest.approx(EQUITY[3])


def test_the_figure_has_dated_axes_money_and_percent_labels_and_a_legend() -> None:
    from invest.runtime.reports import charts

    with charts.style():
        fig = daily.figure(page())
        fig.canvas.draw()  # tick labels exist once drawn
        top, low = fig.axes
        labels = [t.get_text() for t in low.get_xticklabels() if t.get_text()]
        assert any("Mar" in x or "2024" in x for x in labels), labels
        money = [t.get_text() for t in top.get_yticklabels() if t.get_text()]
        assert any("," in x for x in money), money
        pct = [t.get_text() for t in low.get_yticklabels() if t.get_text()]
        assert any(x.endswith("%") for x in pct), pct
        legend = top.get_legend()
        assert legend is not None
        assert [t.get_text() for t in legend.get_texts()] == ["alpha", "SPY"]
        bench = top.get_lines()[1].get_ydata()
        assert bench[0] == pytest.approx(EQUITY[0])


def test_without_benchmark_closes_the_legend_says_n_a() -> None:
    from invest.runtime.reports import charts

    with charts.style():
        fig = daily.figure(page(bench_days=(), bench_closes=()))
        legend = fig.axes[0].get_legend()
        assert legend is not None
        assert [t.get_text() for t in legend.get_texts()] == ["alpha", "SPY n/a"]


def test_write_page_writes_the_page_and_the_png_privately(tmp_path: Path) -> None:
    path = daily.write_page(tmp_path, page(), b"\x89PNG fake")
    assert path == tmp_path / "daily" / "2024-03-10" / "alpha.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (path.parent / "alpha.png").read_bytes() == b"\x89PNG fake"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in path.parent.iterdir()) == ["alpha.html", "alpha.png"]


@pytest.mark.parametrize("name", ["../x", ".hidden", "a/b", ""])
def test_an_account_name_that_is_not_a_file_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="cannot name a report file"):
        daily.write_page(tmp_path, page(account=name))
    assert not (tmp_path / "daily").exists()


def test_one_equity_row_is_not_a_chart() -> None:
    with pytest.raises(ValueError, match="two equity rows"):
        daily.page_html(page(days=DAYS[:1], equity=EQUITY[:1]))


def test_without_matplotlib_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    with pytest.raises(ReportsExtraMissing, match=MISSING_EXTRA.replace("[", r"\[")):
        daily.write_page(tmp_path, page())
    assert list(tmp_path.iterdir()) == []


def test_prune_keeps_the_newest_days_and_nothing_else_is_touched(tmp_path: Path) -> None:
    base = tmp_path / "daily"
    for i in range(6):
        (base / (date(2024, 1, 1) + timedelta(days=i)).isoformat()).mkdir(parents=True)
    (base / "notes").mkdir()
    (base / "2024-01-01" / "alpha.html").write_text("x")
    removed = daily.prune(tmp_path, keep=4)
    assert [p.name for p in removed] == ["2024-01-01", "2024-01-02"]
    assert sorted(p.name for p in base.iterdir()) == [
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
        "2024-01-06",
        "notes",
    ]
    assert daily.prune(tmp_path, keep=4) == []
    with pytest.raises(ValueError, match="at least 1 day"):
        daily.prune(tmp_path, keep=0)
