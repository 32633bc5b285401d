"""The robustness report: one HTML page of the Monte Carlo fan, the histograms, the stress, the crises.

It reads plain values: report.json's dict (every number in a table or a caption comes
from it, so the page shows what the JSON says) and the series behind the charts (the
baseline's equity, the fan's percentile curves, the per-path statistics, each crisis
replay's curves). ``backtest.robustness_report.write_html`` builds them from a run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from invest.runtime.reports import charts, html
from invest.runtime.reports.charts import PALETTE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Array = npt.NDArray[np.float64]

#: The per-path statistics the histograms show: (column of the per-path table, title, percent).
HISTOGRAMS = (
    ("total_return", "Total return", True),
    ("sharpe", "Sharpe", False),
    ("max_drawdown", "Max drawdown", True),
)
#: The two benchmarks of a crisis replay: report.json key and label.
CRISIS_SERIES = (
    ("strategy", "Strategy", PALETTE["strategy"]),
    ("index_buy_and_hold", "Index buy&hold", PALETTE["benchmark"]),
    ("equal_weight_buy_and_hold", "Equal-weight buy&hold", PALETTE["equal_weight"]),
)


@dataclass(frozen=True)
class CrisisCurves:
    """One crisis replay's sessions and its three curves as growth of 1 (CRISIS_SERIES keys)."""

    name: str
    days: Sequence[date]
    curves: dict[str, Array]


@dataclass(frozen=True, eq=False)
class RobustnessPage:
    """What the page shows.

    Attributes:
        report: report.json's dict (tables, captions, the verdict, the notes).
        days: the window's sessions.
        baseline: the noise-free replay's equity over ``days``.
        fan: the Monte Carlo's p5, p50 and p95 growth of 1 per session, shape (3, days), or None.
        mc_stats: the Monte Carlo's per-path total return, Sharpe, max drawdown (columns), or None.
        bootstrap_stats: the same for the block bootstrap, or None.
        crises: the curves of each replayed crisis.
    """

    report: dict[str, Any]
    days: Sequence[date]
    baseline: Array
    fan: Array | None = None
    mc_stats: Array | None = None
    bootstrap_stats: Array | None = None
    crises: Sequence[CrisisCurves] = field(default_factory=tuple)


def pct(x: float | None) -> str:
    """A signed percentage with one decimal, ``-`` for a missing value (summary.md's form)."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.1%}"


def num(x: float | None) -> str:
    """A number with two decimals, ``-`` for a missing value."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def _triple(q: dict[str, Any], fmt: Any) -> str:
    return f"{fmt(q['p5'])} / {fmt(q['median'])} / {fmt(q['p95'])}"


def method_label(report: dict[str, Any], key: str) -> str:
    """``Monte Carlo (N paths, ±0.10% uniform)`` or ``Bootstrap (N, fixed blocks of 21)``."""
    d = report[key]
    if key == "monte_carlo":
        noise = d["noise"]
        return (
            f"Monte Carlo ({d['paths']} paths, ±{noise['amplitude']:.2%} {noise['distribution']})"
        )
    kind = report["options"]["bootstrap"]
    return f"Bootstrap ({d['paths']}, {kind} blocks of {d['block_days']})"


def distribution_rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per method that ran: quantiles of return, Sharpe, drawdown; losing share; verdict."""
    rows = []
    for key in ("monte_carlo", "bootstrap"):
        if key not in report:
            continue
        d = report[key]
        share = d["losing_share"]
        rows.append(
            [
                method_label(report, key),
                _triple(d["total_return"], pct),
                _triple(d["sharpe"], num),
                _triple(d["max_drawdown"], pct),
                "-" if share is None else f"{share:.1%}",
                "OVERFIT" if d["overfit"] else "ok",
            ]
        )
    return rows


DISTRIBUTION_HEADER = [
    "Method",
    "Total return",
    "Sharpe",
    "Max drawdown",
    "Losing paths",
    "Verdict",
]
BASELINE_HEADER = ["Series", "Total return", "CAGR", "Sharpe", "Max drawdown"]
CRISIS_HEADER = ["Crisis", "Sessions", "Strategy", "Index B&H", "Equal-weight B&H", "Exposure"]
STRESS_HEADER = ["Session", "Equity", "Without the crash", "Exposure", "Without the crash"]


def baseline_rows(report: dict[str, Any]) -> list[list[str]]:
    """The noise-free replay against both buy-and-holds over the window."""
    b = report["benchmarks"]
    series = (
        (report["account"], report["baseline"]),
        ("Index buy&hold", b["index_buy_and_hold"]),
        ("Equal-weight buy&hold", b["equal_weight_buy_and_hold"]),
    )
    return [
        [name, pct(m["total_return"]), pct(m["cagr"]), num(m["sharpe"]), pct(m["max_drawdown"])]
        for name, m in series
    ]


def crisis_rows(report: dict[str, Any]) -> list[list[str]]:
    """Return / max drawdown of the strategy and both buy-and-holds in each crisis."""
    rows = []
    for c in report.get("crises", []):
        pairs = [c[k] for k, _l, _c in CRISIS_SERIES]
        if any(p is None for p in pairs):
            rows.append([c["name"], f"{c['window'][0]} .. {c['window'][1]}", c["note"], "", "", ""])
            continue
        cells = [f"{pct(p['return'])} / {pct(p['max_drawdown'])}" for p in pairs]
        exposure = c["strategy_exposure"]
        shown = "-" if exposure is None else f"{exposure:.0%}"
        rows.append([c["name"], f"{c['start']} .. {c['end']}", *cells, shown])
    return rows


def stress_rows(stress: dict[str, Any]) -> list[list[str]]:
    """The stress window day by day: both runs' equity and exposure."""
    return [
        [
            d["day"],
            f"{d['equity']:,.2f}",
            f"{d['baseline_equity']:,.2f}",
            f"{d['exposure']:.0%}",
            f"{d['baseline_exposure']:.0%}",
        ]
        for d in stress["days"]
    ]


def stress_facts(s: dict[str, Any]) -> list[str]:
    """What the crash did, in words (summary.md's list)."""
    stops = ", ".join(f"{x['symbol']} ({x['day']})" for x in s["stop_losses"]) or "none"
    if s["regime_flip_day"]:
        flip = f"{s['regime_flip_day']} ({s['sessions_to_flip']} sessions after the crash)"
    else:
        flip = "already DEFENSE before the crash" if s["regime_before"] == "DEFENSE" else "no flip"
    derisk = (
        f"yes, after {s['sessions_to_derisk']} session(s)"
        if s["de_risked"]
        else f"no (not within {s['sessions']} sessions)"
    )
    k = s["sessions"]
    return [
        f"Crash day chosen as: {s['chosen_by']}.",
        f"Index on the crash day: {pct(s['index_return'])}; account: {pct(s['crash_day_loss'])}",
        f"Account {k} sessions later: {pct(s['loss_after'])} from the eve of the crash; "
        f"worst point afterwards {pct(s['worst_after'])}",
        f"Final equity against the run without the crash: {pct(s['end_vs_baseline'])}; "
        f"max drawdown {pct(s['max_drawdown'])} (without: {pct(s['baseline_max_drawdown'])})",
        f"Exposure: {s['exposure_before']:.0%} before, {s['exposure_crash_day']:.0%} on the "
        f"crash day, {s['exposure_after']:.0%} {k} sessions later",
        f"Stop-loss exits within {k} sessions: {len(s['stop_losses'])} ({stops}); "
        f"same days without the crash: {s['baseline_stop_losses']}",
        f"Regime: {s['regime_before'] or '-'} before; DEFENSE: {flip}",
        f"Drawdown brake: {s['brake_day'] or 'not engaged'}",
        f"De-risked (exposure halved) within {k} sessions: {derisk}",
    ]


def losing_text(share: float | None) -> str:
    """The caption of the return histogram's zero line."""
    return "losing paths: -" if share is None else f"{share:.1%} losing paths"


# ---------------------------------------------------------------------------- charts


def _fan_figure(p: RobustnessPage, x: Any) -> Figure:
    assert p.fan is not None
    fig = charts.new_figure(8.0, 3.2)
    ax = fig.axes[0]
    start = float(p.baseline[0])
    lo, mid, hi = (p.fan[i] * start for i in range(3))
    paths = p.report["monte_carlo"]["paths"]
    keep = np.union1d(charts.envelope(lo), charts.envelope(hi))
    ax.fill_between(
        x[keep], lo[keep], hi[keep], color=PALETTE["strategy"], alpha=0.18, lw=0,
        label=f"p5 to p95 of {paths} paths",
    )  # fmt: skip
    keep = charts.envelope(mid)
    ax.plot(x[keep], mid[keep], color=PALETTE["strategy"], label="Median path (p50)")
    keep = charts.envelope(p.baseline)
    ax.plot(
        x[keep], p.baseline[keep], color=PALETTE["text"], lw=0.9, ls="--", label="Without noise"
    )
    charts.money_axis(ax)
    charts.date_axis(ax)
    ax.set_title("Monte Carlo fan: equity over the noisy paths")
    ax.legend(loc="upper left")
    return fig


def _histogram_figure(stats: Array, share: float | None, title: str) -> Figure:
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    # Three panels side by side with their own x scales: new_figure's axes share x.
    fig = charts.new_figure(8.0, 2.9)
    fig.delaxes(fig.axes[0])
    axes = fig.subplots(1, 3)
    fig.subplots_adjust(left=0.55 / 8.0, top=1 - 0.65 / 2.9, wspace=0.3)
    fig.suptitle(title, fontweight="bold", fontsize=10.0)
    for ax, (j, (_col, label, is_pct)) in zip(axes, enumerate(HISTOGRAMS), strict=True):
        values = stats[:, j][np.isfinite(stats[:, j])]
        bins = int(min(30, max(5, math.ceil(math.sqrt(len(values))) * 2)))
        ax.hist(values, bins=bins, color=PALETTE["strategy"], alpha=0.8)
        ax.set_title(label, fontweight="normal")
        ax.xaxis.set_major_locator(MaxNLocator(4))  # a third of the width: few labels fit
        if is_pct:
            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        ax.set_ylabel("paths" if j == 0 else "")
        if j == 0:
            ax.axvline(0.0, color=PALETTE["negative"], lw=1.2)
            ax.text(
                0.02, 0.95, losing_text(share), transform=ax.transAxes, va="top",
                color=PALETTE["negative"], fontsize=8.0,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5},
            )  # fmt: skip
    return fig


def _stress_figure(stress: dict[str, Any]) -> Figure:
    days = stress["days"]
    x = charts.day_array([date.fromisoformat(d["day"]) for d in days])
    fig = charts.new_figure(8.0, 4.0, rows=2)
    top, bottom = fig.axes
    crash: Any = np.datetime64(stress["crash_day"])  # matplotlib's stubs say float
    top.plot(x, [d["equity"] for d in days], color=PALETTE["drawdown"], label="With the crash")
    top.plot(x, [d["baseline_equity"] for d in days], color=PALETTE["benchmark"], label="Without")
    bottom.plot(x, [d["exposure"] for d in days], color=PALETTE["drawdown"], label="With the crash")
    bottom.plot(
        x, [d["baseline_exposure"] for d in days], color=PALETTE["benchmark"], label="Without"
    )
    for ax in (top, bottom):
        ax.axvline(crash, color="#666666", lw=0.8, ls=":")
    charts.money_axis(top)
    charts.percent_axis(bottom)
    bottom.set_ylim(0.0, 1.05)
    charts.date_axis(bottom)
    top.set_title(f"Stress: -{stress['drop']:.0%} in one day on {stress['crash_day']}: equity")
    bottom.set_title("Exposure (invested share of equity)")
    top.legend(loc="lower left")
    return fig


def _crisis_figure(c: CrisisCurves) -> Figure:
    fig = charts.new_figure(8.0, 2.4)
    ax = fig.axes[0]
    x = charts.day_array(c.days)
    for key, label, color in CRISIS_SERIES:
        y = c.curves[key] - 1.0
        keep = charts.envelope(y)
        ax.plot(x[keep], y[keep], color=color, label=label, lw=1.4 if key == "strategy" else 1.0)
    ax.axhline(0.0, color="#666666", lw=0.6)
    charts.percent_axis(ax)
    charts.date_axis(ax)
    ax.set_title(f"{c.name}: return since the window's first session")
    ax.legend(loc="best", ncols=3)
    return fig


def crisis_chart_name(i: int) -> str:
    """The ``data-chart`` name of the i-th crisis chart (report.json's order)."""
    return f"crisis-{i}"


def figures(p: RobustnessPage) -> dict[str, Figure]:
    """The page's charts by name (its ``data-chart``), in page order.

    Raises:
        charts.ReportsExtraMissing: matplotlib is not installed.
    """
    if not len(p.days):
        raise ValueError("a robustness report needs at least one session")
    rep = p.report
    out: dict[str, Figure] = {}
    with charts.style():
        if p.fan is not None:
            out["mc-fan"] = _fan_figure(p, charts.day_array(p.days))
        if p.mc_stats is not None:
            share = rep["monte_carlo"]["losing_share"]
            out["mc-histograms"] = _histogram_figure(
                p.mc_stats, share, method_label(rep, "monte_carlo")
            )
        if p.bootstrap_stats is not None:
            share = rep["bootstrap"]["losing_share"]
            out["bootstrap-histograms"] = _histogram_figure(
                p.bootstrap_stats, share, method_label(rep, "bootstrap")
            )
        if "stress" in rep and rep["stress"]["days"]:
            out["stress"] = _stress_figure(rep["stress"])
        names = [c["name"] for c in rep.get("crises", [])]
        for c in p.crises:
            out[crisis_chart_name(names.index(c.name))] = _crisis_figure(c)
    return out


# ---------------------------------------------------------------------------- the page


def verdict(report: dict[str, Any]) -> str:
    """The verdict line: every failed check, or that all passed."""
    flags = report.get("flags") or []
    return "Verdict: " + ("; ".join(flags) if flags else "all checks passed")


def robustness_html(p: RobustnessPage) -> str:
    """The whole page.

    Raises:
        charts.ReportsExtraMissing: matplotlib is not installed.
    """
    rep = p.report
    svg = {name: charts.figure_svg(fig) for name, fig in figures(p).items()}
    w = rep["window"]
    parts = [
        html.section(
            "Verdict",
            html.paragraph(verdict(rep)),
            html.table("baseline", BASELINE_HEADER, baseline_rows(rep)),
            name="verdict",
        )
    ]
    dist = distribution_rows(rep)
    if dist:
        threshold = rep["options"]["overfit_threshold"]
        blocks = [
            html.table("distributions", DISTRIBUTION_HEADER, distribution_rows(rep)),
            html.paragraph(
                f"p5 / median / p95 over the paths. A losing path ends the window below its "
                f"starting equity; more than {threshold:.0%} of them flags overfitting. The Monte "
                "Carlo re-runs the strategy on slightly different prices; the bootstrap re-orders "
                "the days the strategy actually had, in blocks."
            ),
        ]
        if "mc-fan" in svg:
            blocks.append(
                html.chart(
                    "mc-fan",
                    svg["mc-fan"],
                    "The band holds 90% of the paths on each session; the dashed line is the "
                    "replay on the real prices.",
                )
            )
        for key in ("mc-histograms", "bootstrap-histograms"):
            if key in svg:
                blocks.append(
                    html.chart(key, svg[key], "The red line is zero: paths left of it lost money.")
                )
        parts.append(html.section("Distributions over paths", *blocks, name="distributions"))
    if "stress" in rep:
        s = rep["stress"]
        blocks = [html.bullet_list(stress_facts(s))]
        if "stress" in svg:
            blocks.append(html.chart("stress", svg["stress"], "The dotted line is the crash."))
        blocks.append(html.table("stress-days", STRESS_HEADER, stress_rows(s)))
        parts.append(html.section(f"Stress: -{s['drop']:.0%} in one day", *blocks, name="stress"))
    if rep.get("crises"):
        blocks = [
            html.table("crises", CRISIS_HEADER, crisis_rows(rep), text_columns=(2,)),
            html.paragraph("Return / max drawdown over each window."),
        ]
        for i, c in enumerate(rep["crises"]):
            name = crisis_chart_name(i)
            if name in svg:
                blocks.append(html.chart(name, svg[name], c["window_note"]))
        parts.append(html.section("Crisis replays against buy-and-hold", *blocks, name="crises"))
    parts.append(html.notes_section(list(rep.get("notes") or [])))
    subtitle = (
        f"{w['start']} .. {w['end']}, {w['sessions']} sessions, data {rep.get('data') or '-'}"
    )
    return html.page(f"{rep['account']}: robustness", subtitle, parts)
