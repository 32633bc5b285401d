"""report.html of `invest backtest`: its figures are report.json's, nothing leaves the page,
every chart is drawn, and the backtest stands without it (--no-html, no matplotlib)."""

from __future__ import annotations

import json
import math
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

import invest.runtime
from invest.runtime.backtest.metrics import curve_metrics
from invest.runtime.backtest.report import COLUMNS, format_metric, tearsheet
from invest.runtime.cli import main
from invest.runtime.explain import explain
from invest.runtime.reports.charts import MISSING_EXTRA, envelope
from invest.runtime.reports.tearsheet import (
    Tearsheet,
    decision_size,
    drawdown,
    figures,
    largest_decisions,
    period_returns,
    rolling_sharpe_vol,
    yearly_returns,
)
from tests.reports_support import sample_report
from tests.runtime.reports.page_parse import Page, external, parse

if TYPE_CHECKING:
    from matplotlib.figure import Figure

EXAMPLE = Path(invest.runtime.__file__).parent / "examples" / "config.toml"
CHARTS = {"equity", "equity-log", "drawdown", "yearly", "rolling", "exposure"}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Page, Path]:
    page = sample_report(tmp_path_factory.mktemp("tear"))
    text = page.read_text(encoding="utf-8")
    return text, parse(text), page.parent


def _report(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "report.json").read_text()))


def _cell(v: float | int | None, kind: str) -> str:
    return format_metric(math.nan if v is None else v, kind)


def test_the_metrics_table_shows_report_json_figures(made: tuple[str, Page, Path]) -> None:
    _text, page, out = made
    report = _report(out)
    table = page.tables["metrics"]
    assert table[0] == ["Metric", report["account"], "Index buy&hold", "Equal-weight buy&hold"]
    sources = [
        report["metrics"],
        report["benchmarks"]["index_buy_and_hold"],
        report["benchmarks"]["equal_weight_buy_and_hold"],
    ]
    body = {row[0]: row[1:] for row in table[1:]}
    assert list(body) == [label for _k, label, _kind in COLUMNS]
    for key, label, kind in COLUMNS:
        assert body[label] == [_cell(m[key], kind) for m in sources], label
    # Something real was measured, so a table of dashes cannot pass.
    assert body["Sharpe"][0] != "-"
    assert body["Win rate"][0] != "-"


def test_the_heading_shows_report_json_dates_sessions_and_final_equity(
    made: tuple[str, Page, Path],
) -> None:
    text, _page, out = made
    r = _report(out)
    assert f"{r['start']} .. {r['end']}, {r['sessions']} sessions" in text
    assert f"final equity {r['final_equity']:,.2f}" in text


def test_every_chart_is_one_inline_svg_of_nonzero_size(made: tuple[str, Page, Path]) -> None:
    _text, page, _out = made
    assert set(page.charts) == CHARTS
    for name, svgs in page.charts.items():
        assert len(svgs) == 1, name
        w, h = (float(v.removesuffix("pt")) for v in svgs[0])
        assert w > 0, name
        assert h > 0, name


def test_nothing_on_the_page_reaches_off_the_box(made: tuple[str, Page, Path]) -> None:
    text, page, _out = made
    assert page.charset == "utf-8"
    assert page.scripts == 0
    assert [r for r in page.refs if external(r)] == []
    # The SVGs reference their own clip paths and markers: the check above did see refs.
    assert any(r.startswith("#") for r in page.refs)
    assert "http://" not in text
    assert "https://" not in text


def test_the_parser_would_see_an_external_reference() -> None:
    bad = (
        '<html><head><style>@import "https://cdn.example/x.css";</style></head><body>'
        '<img src="http://example.com/a.png"><div style="background: url(//cdn/x.png)"></div>'
        '<script src="https://cdn.example/a.js"></script></body></html>'
    )
    page = parse(bad)
    assert page.scripts == 1
    assert [r for r in page.refs if external(r)] == [
        "https://cdn.example/x.css",
        "http://example.com/a.png",
        "//cdn/x.png",
        "https://cdn.example/a.js",
    ]


def test_monthly_returns_equal_the_month_ends_of_equity_csv(made: tuple[str, Page, Path]) -> None:
    _text, page, out = made
    eq = pd.read_csv(out / "equity.csv", parse_dates=["date"], index_col="date")["equity"]
    month_end = eq.groupby([eq.index.year, eq.index.month]).last()
    first = pd.Series([eq.iloc[0]])
    ref = pd.concat([first, month_end.reset_index(drop=True)]).pct_change().iloc[1:]
    table = page.tables["monthly-returns"]
    assert table[0][1] == "Jan"
    assert table[0][-1] == "Year"
    cells = {(int(row[0]), m): row[m] for row in table[1:] for m in range(1, 13) if row[m]}
    assert len(cells) == len(ref) == 48
    for (y, m), r in zip(month_end.index, ref, strict=True):
        # equity.csv rounds to cents; a tenth of a percent is far coarser.
        assert cells[(y, m)] == f"{r:+.1%}", (y, m)


def test_the_trade_list_has_every_closed_trade_with_pnl_and_reason(
    made: tuple[str, Page, Path],
) -> None:
    _text, page, out = made
    trades = pd.read_csv(out / "trades.csv")
    table = page.tables["trades"]
    assert table[0][-3:] == ["P&L", "P&L %", "Exit reason"]
    sells = trades["side"] == "sell"
    assert len(table) - 1 == sells.sum()
    assert sells.sum() > 10
    assert {row[-1] for row in table[1:]} <= set(trades.loc[sells, "reason"])


def test_the_largest_decisions_are_shown_with_their_explanation(
    made: tuple[str, Page, Path],
) -> None:
    _text, page, out = made
    records = [json.loads(x) for x in (out / "decisions.jsonl").read_text().splitlines()]
    top = largest_decisions(records)
    assert len(top) == 10
    joined = "".join(page.text)
    for rec in top:
        assert explain(rec) in joined
    smallest_shown = min(decision_size(r) for r in top)
    others = [decision_size(r) for r in records if r.get("orders") and r not in top]
    assert max(others) <= smallest_shown


def test_the_notes_are_on_the_page(made: tuple[str, Page, Path]) -> None:
    _text, page, out = made
    notes = _report(out)["notes"]
    assert any("survivorship" in n for n in notes)
    joined = "".join(page.text)
    for n in notes:
        assert n in joined


def test_no_html_writes_the_four_files_and_no_page(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    args = ["backtest", "--strategy", "trend_king", "--start", "2021-06-01", "--end", "2021-12-31"]
    assert main([*args, "--out", str(out), "--no-html"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "decisions.jsonl",
        "equity.csv",
        "report.json",
        "trades.csv",
    ]


def test_without_matplotlib_the_backtest_writes_its_files_and_says_how_to_get_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises
    out = tmp_path / "bt"
    args = ["backtest", "--strategy", "trend_king", "--start", "2021-06-01", "--end", "2021-12-31"]
    assert main([*args, "--out", str(out)]) == 0
    assert (out / "report.json").is_file()
    assert not (out / "report.html").exists()
    err = capsys.readouterr().err
    assert f"no report.html: {MISSING_EXTRA}" in " ".join(err.split())


def test_an_options_backtest_gets_a_page_with_its_counts_and_positions(tmp_path: Path) -> None:
    out = tmp_path / "opt"
    args = ["--config", str(EXAMPLE), "backtest", "--account", "wheel-weekly"]
    rc = main([*args, "--start", "2017-01-03", "--end", "2017-12-29", "--out", str(out)])
    assert rc == 0
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    report = _report(out)
    assert set(page.charts) == CHARTS
    counts = {row[0]: row[1] for row in page.tables["options"][1:]}
    assert counts["Assignments"] == str(report["options"]["assignments"])
    positions = [r for r in page.tables["trades"][1:] if r[2] not in ("stock", "")]
    assert positions, "no option position in the trade list"
    assert all(r[5] for r in positions if r[1]), "a closed position without its realised P&L"


# ---- the computations, against plain references


def test_period_returns_compound_to_the_total_return() -> None:
    from datetime import timedelta

    days = [date(2020, 1, 1) + timedelta(days=i) for i in range(400)]
    rng = np.random.default_rng(7)
    equity = 1000 * np.cumprod(1 + rng.normal(0, 0.01, len(days)))
    monthly = period_returns(days, equity)
    assert len(monthly) == 14
    assert monthly[(2020, 1)] == pytest.approx(equity[30] / equity[0] - 1)
    assert monthly[(2020, 2)] == pytest.approx(equity[59] / equity[30] - 1)
    years = yearly_returns(monthly)
    assert (1 + years[2020]) * (1 + years[2021]) - 1 == pytest.approx(equity[-1] / equity[0] - 1)


def test_rolling_sharpe_and_vol_equal_the_metrics_of_each_window() -> None:
    rng = np.random.default_rng(3)
    equity = 1000 * np.cumprod(1 + rng.normal(0.0004, 0.012, 600))
    sharpe, vol = rolling_sharpe_vol(equity, window=252)
    assert np.isnan(sharpe[:252]).all()
    for t in (252, 400, 599):
        m = curve_metrics(equity[t - 252 : t + 1])
        assert sharpe[t] == pytest.approx(m.sharpe, rel=1e-9)
        assert vol[t] == pytest.approx(m.volatility, rel=1e-9)


def test_drawdown_bottoms_at_the_max_drawdown() -> None:
    equity = np.array([100.0, 120, 90, 95, 130, 65, 140])
    dd = drawdown(equity)
    assert dd.min() == pytest.approx(curve_metrics(equity).max_drawdown)
    assert dd[[0, 1, 4, 6]].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_largest_decisions_rank_by_money_moved_and_keep_date_order() -> None:
    def rec(day: str, *notional: float) -> dict[str, Any]:
        orders = [{"qty": 1, "ref_price": n, "side": "buy", "symbol": "X"} for n in notional]
        return {"day": day, "orders": orders}

    recs = [rec(f"2020-01-{d:02d}", d * 10.0) for d in range(1, 13)]
    recs.insert(3, {"day": "2020-01-31", "orders": []})
    recs.append(rec("2020-02-01", -500.0, 5.0))  # a sell counts by its size
    top = largest_decisions(recs, n=3)
    assert [r["day"] for r in top] == ["2020-01-11", "2020-01-12", "2020-02-01"]


# ---- the charts, read from matplotlib's figure objects


@pytest.fixture(scope="module")
def sheet() -> Tearsheet:
    from invest.runtime.backtest.runner import replay
    from invest.runtime.config import parse_config
    from invest.runtime.cycle import AccountRuntime
    from invest.runtime.data.sample import SampleData
    from invest.runtime.market import load_market

    source = SampleData()
    universe = [s for s in source.symbols() if s != "SP500"]
    settings = parse_config({"accounts": {"tk": {"strategy": "trend_king", "universe": universe}}})
    acct = AccountRuntime.build("tk", settings)
    market = load_market(source, acct, date(2021, 12, 31))
    return tearsheet(replay(acct, market, date(2018, 1, 2)))


def _lines(fig: Figure, axes: int = 0) -> dict[str, Any]:
    return {ln.get_label(): ln for ln in fig.axes[axes].get_lines()}


def test_the_equity_charts_draw_the_three_curves_linear_and_log(sheet: Tearsheet) -> None:
    figs = figures(sheet)
    assert list(figs) == ["equity", "equity-log", "drawdown", "yearly", "rolling", "exposure"]
    for name, scale in (("equity", "linear"), ("equity-log", "log")):
        ax = figs[name].axes[0]
        assert ax.get_yscale() == scale
        lines = _lines(figs[name])
        assert list(lines) == ["tk", "Index buy&hold", "Equal-weight buy&hold"]
        for label, series in zip(
            lines, (sheet.equity, sheet.benchmark, sheet.equal_weight), strict=True
        ):
            keep = envelope(series)
            assert np.array_equal(lines[label].get_ydata(), series[keep]), (name, label)
            assert np.array_equal(
                lines[label].get_xdata(), np.array(sheet.days, dtype="datetime64[D]")[keep]
            )


def test_every_chart_has_dated_or_yearly_x_labels_and_value_labels(sheet: Tearsheet) -> None:
    for name, fig in figures(sheet).items():
        fig.canvas.draw()
        bottom = fig.axes[-1]
        xlabels = " ".join(t.get_text() for t in bottom.get_xticklabels())
        assert any(str(y) in xlabels for y in (2018, 2019, 2020, 2021)), (name, xlabels)
        for ax in fig.axes:
            ylabels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
            assert len(ylabels) >= 3, (name, ylabels)


def test_the_drawdown_chart_reaches_the_max_drawdown(sheet: Tearsheet) -> None:
    line = _lines(figures(sheet)["drawdown"])["tk"]
    assert min(line.get_ydata()) == pytest.approx(curve_metrics(sheet.equity).max_drawdown)
    assert float(sheet.report["metrics"]["max_drawdown"]) == pytest.approx(min(line.get_ydata()))


def test_the_yearly_bars_are_the_compounded_months(sheet: Tearsheet) -> None:
    ax = figures(sheet)["yearly"].axes[0]
    years = yearly_returns(period_returns(sheet.days, sheet.equity))
    bars = [p.get_height() for p in ax.patches][: len(years)]
    assert bars == pytest.approx([years[y] for y in sorted(years)])
    assert sorted(years) == [2018, 2019, 2020, 2021]


def test_the_rolling_chart_ends_at_the_last_years_sharpe_and_volatility(sheet: Tearsheet) -> None:
    fig = figures(sheet)["rolling"]
    last = curve_metrics(sheet.equity[-253:])
    assert _lines(fig, 0)["tk"].get_ydata()[-1] == pytest.approx(last.sharpe)
    assert _lines(fig, 1)["tk"].get_ydata()[-1] == pytest.approx(last.volatility)


def test_the_exposure_chart_is_the_invested_share_of_equity_over_a_month(
    sheet: Tearsheet,
) -> None:
    lines = _lines(figures(sheet)["exposure"])
    cash = pd.Series(sheet.cash / sheet.equity).rolling(21, min_periods=1).mean().to_numpy()
    assert np.allclose(lines["Cash"].get_ydata(), cash[envelope(cash)])
    assert np.allclose(lines["Invested"].get_ydata(), (1 - cash)[envelope(1 - cash)])
    # The mean of the daily shares is report.json's exposure; the averages keep it.
    assert float(np.mean(1 - cash)) == pytest.approx(sheet.report["metrics"]["exposure"], abs=0.02)


def test_a_monthly_return_that_rounds_to_zero_is_never_minus_zero() -> None:
    from invest.runtime.reports.tearsheet import _signed

    assert _signed(-0.00001) == "+0.0%"
    assert _signed(-0.0006) == "-0.1%"
    assert _signed(0.0123) == "+1.2%"
