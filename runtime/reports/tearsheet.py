"""The backtest tearsheet: one HTML page of charts and tables over a backtest's values.

It reads plain values (report.json's dict, the daily series, the CLI's metrics
table, the trade rows, the decision records), so the figures on the page are the
ones the caller already wrote to report.json; ``backtest.report.write_html`` builds
them from a result. Daily series are decimated for the charts (``charts.envelope``);
the tables and monthly figures use every day.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from invest.runtime.explain import explain
from invest.runtime.reports import charts, html
from invest.runtime.reports.charts import PALETTE

#: Sessions a year, as the backtest's metrics count them (``backtest.metrics.YEAR``).
YEAR = 252
#: Sessions in a month, for the exposure chart's average.
MONTH = 21
#: Decisions shown with their explanation records.
LARGEST = 10
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Tearsheet:
    """What the page shows; every figure comes from the caller (report.json's source).

    Attributes:
        report: report.json's dict (account, dates, sessions, final equity, notes).
        metrics: the CLI's summary table (header, rows), strategy against both benchmarks.
        trades: the trade list (header, rows) with realised P&L and the exit reason.
        reason_columns: columns of ``trades`` that are free text.
        counts: an options account's counts (what, how many), else None.
        reserved: an options account's cash reserved by its book each day, else None.
    """

    report: dict[str, Any]
    days: Sequence[date]
    equity: Array
    cash: Array
    benchmark: Array
    equal_weight: Array
    benchmark_labels: tuple[str, str]
    metrics: tuple[list[str], list[list[str]]]
    trades: tuple[list[str], list[list[str]]]
    decisions: Sequence[dict[str, Any]]
    reason_columns: tuple[int, ...] = ()
    counts: list[list[str]] | None = None
    reserved: Array | None = None


def drawdown(equity: Array) -> Array:
    """Fall from the running peak, as a fraction (0 at a new high, negative below it)."""
    peak = np.maximum.accumulate(equity)
    return np.divide(equity, peak, out=np.ones(len(equity)), where=peak > 0) - 1.0


def period_returns(days: Sequence[date], equity: Array) -> dict[tuple[int, int], float]:
    """Return of each (year, month) from the previous month's last equity to this one's.

    The first month counts from the first session's equity.
    """
    out: dict[tuple[int, int], float] = {}
    prev = float(equity[0]) if len(equity) else math.nan
    for i, d in enumerate(days):
        key = (d.year, d.month)
        nxt = i + 1 < len(days) and (days[i + 1].year, days[i + 1].month) == key
        if not nxt:
            out[key] = float(equity[i]) / prev - 1.0 if prev > 0 else math.nan
            prev = float(equity[i])
    return out


def yearly_returns(monthly: dict[tuple[int, int], float]) -> dict[int, float]:
    """Each year's return, compounded from its months."""
    years: dict[int, float] = {}
    for (y, _m), r in monthly.items():
        years[y] = (1.0 + years.get(y, 0.0)) * (1.0 + r) - 1.0
    return years


def rolling_sharpe_vol(equity: Array, window: int = YEAR) -> tuple[Array, Array]:
    """Annualised Sharpe and volatility of the last ``window`` daily returns (NaN before).

    Sample standard deviation (ddof 1) and zero risk-free rate, as ``curve_metrics``.
    """
    n = len(equity)
    sharpe, vol = np.full(n, np.nan), np.full(n, np.nan)
    if n <= window:
        return sharpe, vol
    prev = equity[:-1]
    rets = np.divide(np.diff(equity), prev, out=np.zeros(n - 1), where=prev > 0)
    c1 = np.concatenate(([0.0], np.cumsum(rets)))
    c2 = np.concatenate(([0.0], np.cumsum(rets * rets)))
    s1 = c1[window:] - c1[:-window]
    s2 = c2[window:] - c2[:-window]
    mean = s1 / window
    var = np.maximum((s2 - window * mean * mean) / (window - 1), 0.0)
    sd = np.sqrt(var)
    vol[window:] = sd * math.sqrt(YEAR)
    sharpe[window:] = np.divide(mean, sd, out=np.zeros_like(sd), where=sd > 1e-12) * math.sqrt(YEAR)
    return sharpe, vol


def decision_size(rec: dict[str, Any]) -> float:
    """Money a decision moved: stock orders' quantity x price, option orders' premium x 100."""
    total = 0.0
    for o in rec.get("orders", []):
        if "qty" in o:
            total += abs(float(o["qty"]) * float(o.get("ref_price") or 0.0))
        else:
            total += abs(float(o.get("contracts") or 0) * float(o.get("limit") or 0.0) * 100)
    return total


def largest_decisions(
    decisions: Sequence[dict[str, Any]], n: int = LARGEST
) -> list[dict[str, Any]]:
    """The ``n`` decisions that moved the most money, in date order."""
    sized = [(decision_size(r), i) for i, r in enumerate(decisions) if r.get("orders")]
    top = sorted(sized, key=lambda x: (-x[0], x[1]))[:n]
    return [decisions[i] for _s, i in sorted(top, key=lambda x: x[1])]


def _line(ax: Any, x: Any, y: Array, **kw: Any) -> None:
    keep = charts.envelope(y)
    ax.plot(x[keep], y[keep], **kw)


def _equity_figure(t: Tearsheet, x: Any, log: bool) -> Figure:
    fig = charts.new_figure(8.0, 3.2)
    ax = fig.axes[0]
    _line(ax, x, t.equity, color=PALETTE["strategy"], label=t.report["account"], lw=1.5)
    _line(ax, x, t.benchmark, color=PALETTE["benchmark"], label=t.benchmark_labels[0])
    _line(ax, x, t.equal_weight, color=PALETTE["equal_weight"], label=t.benchmark_labels[1])
    charts.money_axis(ax, log=log)
    charts.date_axis(ax)
    ax.set_title("Equity (log scale)" if log else "Equity")
    ax.legend(loc="upper left")
    return fig


def _drawdown_figure(t: Tearsheet, x: Any) -> Figure:
    fig = charts.new_figure(8.0, 2.6)
    ax = fig.axes[0]
    dd = drawdown(t.equity)
    keep = charts.envelope(dd)
    ax.fill_between(x[keep], dd[keep], 0.0, color=PALETTE["drawdown"], alpha=0.35, lw=0)
    ax.plot(x[keep], dd[keep], color=PALETTE["drawdown"], lw=0.8, label=t.report["account"])
    _line(
        ax,
        x,
        drawdown(t.benchmark),
        color=PALETTE["benchmark"],
        lw=0.8,
        label=t.benchmark_labels[0],
    )
    charts.percent_axis(ax)
    charts.date_axis(ax)
    ax.set_title("Underwater: fall from the running peak")
    ax.legend(loc="lower left")
    return fig


def _yearly_figure(t: Tearsheet, years: dict[int, float], bench_years: dict[int, float]) -> Figure:
    fig = charts.new_figure(8.0, 2.8)
    ax = fig.axes[0]
    ys = sorted(years)
    pos = np.arange(len(ys), dtype=np.float64)
    ax.bar(
        pos - 0.2, [years[y] for y in ys], 0.4, color=PALETTE["strategy"], label=t.report["account"]
    )
    ax.bar(
        pos + 0.2,
        [bench_years.get(y, 0.0) for y in ys],
        0.4,
        color=PALETTE["benchmark"],
        label=t.benchmark_labels[0],
    )
    ax.axhline(0.0, color="#666666", lw=0.6)
    step = max(len(ys) // 16, 1)
    ax.set_xticks(pos[::step], [str(y) for y in ys[::step]])
    charts.percent_axis(ax)
    ax.set_title("Yearly returns")
    ax.legend(loc="upper left")
    return fig


def _rolling_figure(t: Tearsheet, x: Any) -> Figure:
    fig = charts.new_figure(8.0, 4.0, rows=2)
    top, bottom = fig.axes
    sharpe, vol = rolling_sharpe_vol(t.equity)
    bsharpe, bvol = rolling_sharpe_vol(t.benchmark)
    ok = np.isfinite(sharpe)
    if ok.any():
        xs = x[ok]
        _line(top, xs, sharpe[ok], color=PALETTE["strategy"], label=t.report["account"])
        _line(top, xs, bsharpe[ok], color=PALETTE["benchmark"], label=t.benchmark_labels[0])
        _line(bottom, xs, vol[ok], color=PALETTE["strategy"], label=t.report["account"])
        _line(bottom, xs, bvol[ok], color=PALETTE["benchmark"], label=t.benchmark_labels[0])
        top.legend(loc="upper left")
    else:
        top.text(0.5, 0.5, f"needs more than {YEAR} sessions", ha="center", transform=top.transAxes)
        top.plot(x[[0, -1]], [0.0, 0.0], alpha=0.0)  # the date axis still spans the run
    top.axhline(0.0, color="#666666", lw=0.6)
    top.set_title("Rolling 12-month Sharpe")
    bottom.set_title("Rolling 12-month volatility")
    charts.percent_axis(bottom)
    charts.date_axis(bottom)
    return fig


def trailing_mean(values: Array, window: int = MONTH) -> Array:
    """Mean of the last ``window`` values at each row (fewer at the start)."""
    c = np.concatenate(([0.0], np.cumsum(values)))
    n = np.arange(1, len(values) + 1)
    lo = np.maximum(n - window, 0)
    out: Array = (c[n] - c[lo]) / (n - lo)
    return out


def _exposure_figure(t: Tearsheet, x: Any) -> Figure:
    # Daily exposure flips between 0 and 100 % whenever the regime turns, which at
    # 8,000 sessions draws a solid band; a month's average shows how invested it was.
    fig = charts.new_figure(8.0, 2.6)
    ax = fig.axes[0]
    eq = t.equity
    cash = trailing_mean(np.divide(t.cash, eq, out=np.zeros(len(eq)), where=eq > 0))
    _line(ax, x, 1.0 - cash, color=PALETTE["exposure"], label="Invested")
    _line(ax, x, cash, color=PALETTE["cash"], label="Cash")
    if t.reserved is not None:
        res = np.divide(t.reserved, eq, out=np.zeros(len(eq)), where=eq > 0)
        _line(ax, x, trailing_mean(res), color=PALETTE["equal_weight"], label="Reserved by options")
    ax.set_ylim(0.0, 1.2)  # room for the legend above 100 %
    ax.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0])
    charts.percent_axis(ax)
    charts.date_axis(ax)
    ax.set_title(f"Exposure and cash, share of equity ({MONTH}-session average)")
    ax.legend(loc="upper left", ncols=3)
    return fig


def _heat(r: float) -> str:
    """A cell's background: green for gains, red for losses, stronger up to +-10 %."""
    if math.isnan(r):
        return ""
    a = min(abs(r) / 0.10, 1.0) * 0.55
    rgb = "46,139,87" if r >= 0 else "192,57,43"
    return f"background: rgba({rgb},{a:.2f})"


def _signed(r: float) -> str:
    """A return as "+1.2%"; one that rounds to zero is "+0.0%", never "-0.0%"."""
    return f"{r + 0.0 if round(r, 3) != 0 else 0.0:+.1%}"


def monthly_table(
    monthly: dict[tuple[int, int], float],
) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """Header, rows and cell styles of the monthly returns heatmap (a year per row)."""
    years = yearly_returns(monthly)
    header = ["Year", *MONTHS, "Year"]
    rows, styles = [], []
    for y in sorted(years):
        cells, st = [str(y)], [""]
        for m in range(1, 13):
            r = monthly.get((y, m))
            cells.append("" if r is None or math.isnan(r) else _signed(r))
            st.append("" if r is None else _heat(r))
        cells.append(_signed(years[y]))
        st.append(_heat(years[y]) + "; font-weight: bold")
        rows.append(cells)
        styles.append(st)
    return header, rows, styles


def figures(t: Tearsheet) -> dict[str, Figure]:
    """The page's charts by name (its ``data-chart``), in page order.

    Raises:
        charts.ReportsExtraMissing: matplotlib is not installed.
    """
    if not len(t.days):
        raise ValueError("a tearsheet needs at least one session")
    x = charts.day_array(t.days)
    monthly = period_returns(t.days, t.equity)
    bench_years = yearly_returns(period_returns(t.days, t.benchmark))
    with charts.style():
        return {
            "equity": _equity_figure(t, x, log=False),
            "equity-log": _equity_figure(t, x, log=True),
            "drawdown": _drawdown_figure(t, x),
            "yearly": _yearly_figure(t, yearly_returns(monthly), bench_years),
            "rolling": _rolling_figure(t, x),
            "exposure": _exposure_figure(t, x),
        }


def tearsheet_html(t: Tearsheet) -> str:
    """The whole page.

    Raises:
        charts.ReportsExtraMissing: matplotlib is not installed.
    """
    rep = t.report
    svg = {name: charts.figure_svg(fig) for name, fig in figures(t).items()}
    header, rows, styles = monthly_table(period_returns(t.days, t.equity))
    m_head, m_rows = t.metrics
    tr_head, tr_rows = t.trades
    parts = [
        html.section("Metrics", html.table("metrics", m_head, m_rows), name="metrics"),
        html.section(
            "Equity against both benchmarks",
            html.chart("equity", svg["equity"]),
            html.chart("equity-log", svg["equity-log"]),
            name="equity",
        ),
        html.section("Drawdown", html.chart("drawdown", svg["drawdown"]), name="drawdown"),
        html.section(
            "Monthly and yearly returns",
            html.table("monthly-returns", header, rows, styles),
            html.chart("yearly", svg["yearly"]),
            name="returns",
        ),
        html.section(
            "Rolling 12 months",
            html.chart(
                "rolling", svg["rolling"], "Sharpe and volatility of the last 252 sessions."
            ),
            name="rolling",
        ),
        html.section("Exposure and cash", html.chart("exposure", svg["exposure"]), name="exposure"),
    ]
    if t.counts is not None:
        parts.append(
            html.section(
                "What the options did",
                html.table("options", ["Count", "N"], t.counts),
                name="options",
            )
        )
    parts.append(
        html.section(
            f"Trades ({len(tr_rows)})",
            html.table("trades", tr_head, tr_rows, text_columns=t.reason_columns, scroll=True)
            if tr_rows
            else html.paragraph("No trade was closed."),
            name="trades",
        )
    )
    top = largest_decisions(t.decisions)
    parts.append(
        html.section(
            f"The {len(top)} largest decisions, and why",
            *(html.preformatted(explain(rec)) for rec in top),
            name="decisions",
        )
    )
    parts.append(html.notes_section(list(rep.get("notes") or [])))
    subtitle = (
        f"{rep.get('start')} .. {rep.get('end')}, {rep.get('sessions')} sessions, "
        f"final equity {float(rep.get('final_equity') or 0.0):,.2f}"
    )
    return html.page(f"{rep['account']}: backtest", subtitle, parts)
