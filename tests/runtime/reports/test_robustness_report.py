"""report.html of `invest robustness`: its tables are report.json's, its charts are the paths'
(mc_paths.csv, mc_fan.csv) and the replays', every chart is there and nothing leaves the page."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from invest.runtime.cli import main
from invest.runtime.reports.charts import MISSING_EXTRA
from tests.runtime.reports.page_parse import Page, external, parse

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from invest.runtime.backtest.robustness_report import RobustnessReport

PATHS = 20
RUN = ["robustness", "--strategy", "trend_king", "--start", "2021-01-04", "--end", "2021-12-31"]
CHARTS = {"mc-fan", "mc-histograms", "bootstrap-histograms", "stress"} | {
    f"crisis-{i}" for i in range(4)
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Page, Path]:
    out = tmp_path_factory.mktemp("rob") / "rob"
    args = [*RUN, "--paths", str(PATHS), "--workers", "1", "--seed", "3", "--out", str(out)]
    assert main(args) == 0
    text = (out / "report.html").read_text(encoding="utf-8")
    return text, parse(text), out


def _report(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "report.json").read_text()))


def _pct(x: float) -> str:
    return f"{x:+.1%}"


def test_the_distribution_table_shows_report_json_quantiles_and_losing_share(
    made: tuple[str, Page, Path],
) -> None:
    _text, page, out = made
    r = _report(out)
    table = page.tables["distributions"]
    assert table[0] == [
        "Method",
        "Total return",
        "Sharpe",
        "Max drawdown",
        "Losing paths",
        "Verdict",
    ]
    assert len(table) == 3
    for row, key in zip(table[1:], ("monte_carlo", "bootstrap"), strict=True):
        d = r[key]
        assert row[0].startswith(
            "Monte Carlo (20 paths" if key == "monte_carlo" else "Bootstrap (20"
        )
        tr, sh, dd = d["total_return"], d["sharpe"], d["max_drawdown"]
        assert row[1] == " / ".join(_pct(tr[k]) for k in ("p5", "median", "p95"))
        assert row[2] == " / ".join(f"{sh[k]:.2f}" for k in ("p5", "median", "p95"))
        assert row[3] == " / ".join(_pct(dd[k]) for k in ("p5", "median", "p95"))
        assert row[4] == f"{d['losing_share']:.1%}"
        assert row[5] == ("OVERFIT" if d["overfit"] else "ok")
    # The bootstrap's p5 and p95 differ: a table of one repeated figure cannot pass.
    assert table[2][1].split(" / ")[0] != table[2][1].split(" / ")[2]


def test_the_baseline_table_and_the_heading_are_report_json(made: tuple[str, Page, Path]) -> None:
    text, page, out = made
    r = _report(out)
    rows = page.tables["baseline"]
    sources = [
        r["baseline"],
        r["benchmarks"]["index_buy_and_hold"],
        r["benchmarks"]["equal_weight_buy_and_hold"],
    ]
    assert [row[0] for row in rows[1:]] == ["trend-king", "Index buy&hold", "Equal-weight buy&hold"]
    for row, m in zip(rows[1:], sources, strict=True):
        assert row[1:] == [
            _pct(m["total_return"]),
            _pct(m["cagr"]),
            f"{m['sharpe']:.2f}",
            _pct(m["max_drawdown"]),
        ]
    w = r["window"]
    assert f"{w['start']} .. {w['end']}, {w['sessions']} sessions" in text
    verdict = "; ".join(r["flags"]) if r["flags"] else "all checks passed"
    assert f"Verdict: {verdict}" in "".join(page.text)


def test_the_stress_table_is_report_json_day_by_day(made: tuple[str, Page, Path]) -> None:
    _text, page, out = made
    s = _report(out)["stress"]
    table = page.tables["stress-days"]
    assert len(table) - 1 == len(s["days"]) >= 20
    for row, d in zip(table[1:], s["days"], strict=True):
        assert row == [
            d["day"],
            f"{d['equity']:,.2f}",
            f"{d['baseline_equity']:,.2f}",
            f"{d['exposure']:.0%}",
            f"{d['baseline_exposure']:.0%}",
        ]
    days = [d["day"] for d in s["days"]]
    i = days.index(s["crash_day"])
    assert i == 5  # five sessions before the crash
    # The crashed run loses what report.json says on the crash day; the other does not.
    crash, eve = s["days"][i], s["days"][i - 1]
    assert crash["equity"] / eve["equity"] - 1 == pytest.approx(s["crash_day_loss"], abs=1e-4)
    assert crash["baseline_equity"] / eve["baseline_equity"] - 1 > s["crash_day_loss"]


def test_the_crisis_table_is_report_json(made: tuple[str, Page, Path]) -> None:
    _text, page, out = made
    crises = _report(out)["crises"]
    table = page.tables["crises"]
    assert len(table) - 1 == len(crises) == 4
    keys = ("strategy", "index_buy_and_hold", "equal_weight_buy_and_hold")
    for row, c in zip(table[1:], crises, strict=True):
        assert row[0] == c["name"]
        assert row[1] == f"{c['start']} .. {c['end']}"
        assert row[2:5] == [f"{_pct(c[k]['return'])} / {_pct(c[k]['max_drawdown'])}" for k in keys]
        assert row[5] == f"{c['strategy_exposure']:.0%}"


def test_every_chart_is_one_inline_svg_and_nothing_leaves_the_page(
    made: tuple[str, Page, Path],
) -> None:
    text, page, _out = made
    assert set(page.charts) == CHARTS
    for name, svgs in page.charts.items():
        assert len(svgs) == 1, name
        assert all(float(v.removesuffix("pt")) > 0 for v in svgs[0]), name
    assert page.scripts == 0
    assert [r for r in page.refs if external(r)] == []
    assert "http://" not in text
    assert "https://" not in text
    for n in _report(made[2])["notes"]:
        assert n in "".join(page.text)


# ---- the charts, read from matplotlib's figure objects


@pytest.fixture(scope="module")
def figs(made: tuple[str, Page, Path]) -> tuple[dict[str, Figure], dict[str, Any], Path]:
    """The page's figures rebuilt from a run of the same seed (the command is deterministic)."""
    from invest.runtime.backtest.robustness_report import page
    from invest.runtime.reports.robustness import figures

    rep = _run(made[2])
    return figures(page(rep)), _report(made[2]), made[2]


def _run(out: Path) -> RobustnessReport:
    from invest.runtime.backtest.robustness import Job
    from invest.runtime.backtest.robustness_report import Options, run_robustness
    from invest.runtime.config import parse_config
    from invest.runtime.data.sample import SampleData

    source = SampleData()
    universe = [s for s in source.symbols() if s != "SP500"]
    settings = parse_config({"accounts": {"trend-king": {"universe": universe}}})
    job = Job("trend-king", settings, date(2021, 1, 4))
    frame = source.load((*universe, "SP500"))
    rep = run_robustness(job, frame, date(2021, 12, 31), Options(paths=PATHS, seed=3, workers=1))
    # The same run as the command's: its per-path table is mc_paths.csv.
    assert rep.monte_carlo is not None
    assert rep.monte_carlo.summary.as_dict() == {
        k: v
        for k, v in _report(out)["monte_carlo"].items()
        if k in rep.monte_carlo.summary.as_dict()
    }
    return rep


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_fan_is_mc_fan_csv_and_ends_at_report_json_quantiles(
    figs: tuple[dict[str, Figure], dict[str, Any], Path],
) -> None:
    f, r, out = figs
    ax = f["mc-fan"].axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines) == ["Median path (p50)", "Without noise"]
    rows = _csv(out / "mc_fan.csv")
    assert len(rows) == r["window"]["sessions"] == len(lines["Median path (p50)"].get_ydata())
    for label, col in (("Median path (p50)", "p50"), ("Without noise", "baseline")):
        y = np.asarray(lines[label].get_ydata())
        assert y == pytest.approx([float(x[col]) for x in rows], abs=0.006), label
    # The band's edges: p5 and p95 of the last session are 1 + report.json's return quantiles.
    start = float(rows[0]["baseline"])
    tr = r["monte_carlo"]["total_return"]
    last = rows[-1]
    for col, key in (("p5", "p5"), ("p50", "median"), ("p95", "p95")):
        assert float(last[col]) == pytest.approx(start * (1 + tr[key]), abs=0.02), col
    assert float(last["p5"]) < float(last["p95"])  # the noise spread the paths
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(min(float(x["p5"]) for x in rows), abs=0.006)
    assert band.max() == pytest.approx(max(float(x["p95"]) for x in rows), abs=0.006)


def test_the_histograms_count_every_path_and_mark_the_losing_share(
    figs: tuple[dict[str, Figure], dict[str, Any], Path],
) -> None:
    f, r, out = figs
    table = _csv(out / "mc_paths.csv")
    assert len(table) == PATHS
    fig = f["mc-histograms"]
    assert [ax.get_title() for ax in fig.axes] == ["Total return", "Sharpe", "Max drawdown"]
    for ax, col in zip(fig.axes, ("total_return", "sharpe", "max_drawdown"), strict=True):
        bars = ax.patches
        heights = [p.get_height() for p in bars]
        edges = [p.get_x() for p in bars] + [bars[-1].get_x() + bars[-1].get_width()]
        values = np.array([float(x[col]) for x in table])
        # mc_paths.csv keeps 6 significant digits: the outer edges are the exact extremes.
        edges[0], edges[-1] = edges[0] - 1e-5, edges[-1] + 1e-5
        counts, _e = np.histogram(values, bins=np.array(edges))
        assert heights == pytest.approx(counts.tolist()), col
        assert sum(heights) == PATHS
    first = fig.axes[0]
    [zero] = first.get_lines()
    assert list(zero.get_xdata()) == [0.0, 0.0]
    [text] = first.texts
    assert text.get_text() == f"{r['monte_carlo']['losing_share']:.1%} losing paths"
    boot = f["bootstrap-histograms"].axes[0]
    assert boot.texts[0].get_text() == f"{r['bootstrap']['losing_share']:.1%} losing paths"
    assert sum(p.get_height() for p in boot.patches) == PATHS


def test_each_crisis_chart_ends_at_report_json_returns(
    figs: tuple[dict[str, Figure], dict[str, Any], Path],
) -> None:
    f, r, _out = figs
    keys = {
        "Strategy": "strategy",
        "Index buy&hold": "index_buy_and_hold",
        "Equal-weight buy&hold": "equal_weight_buy_and_hold",
    }
    for i, c in enumerate(r["crises"]):
        ax = f[f"crisis-{i}"].axes[0]
        lines = {ln.get_label(): ln for ln in ax.get_lines() if ln.get_label() in keys}
        assert list(lines) == list(keys)
        for label, key in keys.items():
            y = np.asarray(lines[label].get_ydata())
            assert y[-1] == pytest.approx(c[key]["return"], abs=1e-6), (c["name"], label)
            assert y.min() <= 0.0 or c[key]["max_drawdown"] == 0
        x = lines["Strategy"].get_xdata()
        assert (str(x[0]), str(x[-1])) == (c["start"], c["end"])


def test_the_stress_chart_draws_report_json_days(
    figs: tuple[dict[str, Figure], dict[str, Any], Path],
) -> None:
    f, r, _out = figs
    top, bottom = f["stress"].axes
    days = r["stress"]["days"]
    eq = {
        ln.get_label(): list(ln.get_ydata()) for ln in top.get_lines() if ln.get_label()[0] != "_"
    }
    ex = {
        ln.get_label(): list(ln.get_ydata())
        for ln in bottom.get_lines()
        if ln.get_label()[0] != "_"
    }
    assert eq == {
        "With the crash": [d["equity"] for d in days],
        "Without": [d["baseline_equity"] for d in days],
    }
    assert ex == {
        "With the crash": [d["exposure"] for d in days],
        "Without": [d["baseline_exposure"] for d in days],
    }
    f["stress"].canvas.draw()
    assert any(t.get_text() for t in bottom.get_xticklabels())
    assert len([t for t in top.get_yticklabels() if t.get_text()]) >= 3


# ---- the fan and the switches


def test_the_fan_of_noiseless_paths_is_the_baseline_and_workers_do_not_change_it() -> None:
    from invest.runtime.backtest.robustness import Job, fan, monte_carlo
    from invest.runtime.config import parse_config
    from invest.runtime.data.sample import SampleData

    source = SampleData()
    universe = [s for s in source.symbols() if s != "SP500"]
    settings = parse_config({"accounts": {"tk": {"universe": universe}}})
    job = Job("tk", settings, date(2021, 6, 1))
    frame = source.load((*universe, "SP500")).between(None, date(2021, 12, 31))
    base = job.replay(frame)
    still = monte_carlo(job, frame, paths=2, seed=1, amplitude=0.0, workers=1)
    assert still.fan is not None
    growth = base.equity / base.equity[0]
    for row in still.fan:
        assert row == pytest.approx(growth, rel=1e-6)
    one = monte_carlo(job, frame, paths=4, seed=1, workers=1)
    two = monte_carlo(job, frame, paths=4, seed=1, workers=2)
    assert one.fan is not None
    assert two.fan is not None
    np.testing.assert_array_equal(one.fan, two.fan)
    assert (one.fan[2] - one.fan[0]).max() > 0  # noisy paths spread
    # fan() is numpy's percentile over the paths.
    g = np.array([[1.0, 1.1, 1.2], [1.0, 0.9, 0.8], [1.0, 1.0, 1.3]], dtype=np.float32)
    np.testing.assert_allclose(fan(g), np.percentile(g, [5, 50, 95], axis=0), rtol=1e-7)


def test_no_html_leaves_the_page_out(tmp_path: Path) -> None:
    out = tmp_path / "rob"
    args = [*RUN, "--paths", "4", "--workers", "1", "--parts", "mc,bootstrap", "--out", str(out)]
    assert main([*args, "--no-html"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "mc_fan.csv",
        "mc_paths.csv",
        "report.json",
        "summary.md",
    ]


def test_without_matplotlib_robustness_writes_its_files_and_says_how_to_get_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises
    out = tmp_path / "rob"
    args = [*RUN, "--paths", "4", "--workers", "1", "--parts", "bootstrap", "--out", str(out)]
    assert main([*args]) == 0
    assert (out / "summary.md").is_file()
    assert not (out / "report.html").exists()
    assert f"no report.html: {MISSING_EXTRA}" in capsys.readouterr().err


def test_a_run_of_one_part_gets_a_page_of_that_part(tmp_path: Path) -> None:
    out = tmp_path / "rob"
    args = [*RUN, "--paths", "4", "--workers", "1", "--parts", "bootstrap", "--out", str(out)]
    assert main(args) == 0
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    assert set(page.charts) == {"bootstrap-histograms"}
    assert len(page.tables["distributions"]) == 2
    assert "stress-days" not in page.tables
    assert "crises" not in page.tables
