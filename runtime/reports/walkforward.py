"""The walk-forward report: per-year bars of each strategy and benchmark, and its tables.

It reads the walk-forward table as a model pack's manifest carries it (``columns``,
``rows``, ``metric``: one row per test year, the period first, then a ``split`` column
and one column per series) and the chained out-of-sample figures of its promotion
section, as plain values, so the page shows the manifest's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from invest.runtime.reports import charts, html
from invest.runtime.reports.charts import PALETTE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Colours of the strategy series in column order; benchmarks take the house colours.
STRATEGY_COLORS = (PALETTE["strategy"], PALETTE["positive"], "#7b4fa0", "#17becf")
#: The chained table's columns: (label, key in each series' figures, percent).
CHAINED = (
    ("CAGR", "cagr", True),
    ("Sharpe", "sharpe", False),
    ("Max drawdown", "max_drawdown", True),
    ("Total return", "total_return", True),
)


@dataclass(frozen=True)
class WalkForward:
    """A walk-forward table: ``columns`` (period first), ``rows``, what the numbers measure."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    metric: str = ""

    @property
    def percent(self) -> bool:
        """True when the numbers are fractions (returns), shown as percentages."""
        return self.metric.startswith("total_return")

    def series(self) -> list[str]:
        """The columns holding a number for each period (strategies and benchmarks)."""
        return [
            c
            for j, c in enumerate(self.columns)
            if j > 0
            and any(_number(r[j]) for r in self.rows)
            and all(_number(r[j]) or r[j] is None for r in self.rows)
        ]

    def values(self, name: str) -> list[float]:
        """Column ``name`` as floats (NaN for a missing value)."""
        j = list(self.columns).index(name)
        return [float(r[j]) if _number(r[j]) else math.nan for r in self.rows]

    def splits(self) -> list[str]:
        """Each period's split (``validation``, ``test``), or empty strings without that column."""
        if "split" not in self.columns:
            return [""] * len(self.rows)
        j = list(self.columns).index("split")
        return [str(r[j]) for r in self.rows]


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def is_benchmark(name: str) -> bool:
    """Buy-and-hold columns (``index_bh``, ``equal_weight_bh``) and the like."""
    return name.endswith("_bh") or name in ("index", "equal_weight")


def series_color(name: str, series: Sequence[str]) -> str:
    """The house colour of a series: equal weight orange, other benchmarks grey, strategies in turn."""
    if "equal_weight" in name:
        return PALETTE["equal_weight"]
    if is_benchmark(name) or "index" in name:
        return PALETTE["benchmark"]
    strategies = [s for s in series if not is_benchmark(s) and "index" not in s]
    return STRATEGY_COLORS[strategies.index(name) % len(STRATEGY_COLORS)]


def cell(x: Any, percent: bool) -> str:
    """A value of the table: a percentage or 4 decimals for numbers, ``-`` for None."""
    if not _number(x):
        return "-" if x is None else str(x)
    if isinstance(x, int) and not percent:
        return str(x)
    return f"{x:+.1%}" if percent else f"{x:.4f}"


def table_rows(wf: WalkForward) -> list[list[str]]:
    """The table as text: the period and split as written, the numbers formatted."""
    series = set(wf.series())
    return [
        [
            cell(x, wf.percent) if c in series else str(x)
            for c, x in zip(wf.columns, r, strict=False)
        ]
        for r in wf.rows
    ]


def chained_rows(chained: dict[str, Any]) -> list[list[str]]:
    """The chained out-of-sample figures: one row per (split, series)."""
    rows = []
    for split in ("test", "validation"):
        for name, f in (chained.get(split) or {}).items():
            if not isinstance(f, dict):
                continue
            cells = [
                ("-" if not _number(f.get(k)) else f"{f[k]:+.1%}" if p else f"{f[k]:.2f}")
                for _label, k, p in CHAINED
            ]
            rows.append([split, name, *cells])
    return rows


def bars_figure(wf: WalkForward) -> Figure:
    """Grouped bars: one group per period, one bar per series; test periods shaded.

    Build inside :func:`charts.style`.
    """
    series = wf.series()
    periods = [str(r[0]) for r in wf.rows]
    fig = charts.new_figure(8.0, 3.4)
    ax = fig.axes[0]
    pos = np.arange(len(periods), dtype=np.float64)
    width = 0.84 / max(len(series), 1)
    for k, name in enumerate(series):
        offset = (k - (len(series) - 1) / 2) * width
        ax.bar(
            pos + offset,
            wf.values(name),
            width,
            color=series_color(name, series),
            label=name,
        )
    splits = wf.splits()
    tests = [i for i, s in enumerate(splits) if s == "test"]
    if tests:
        ax.axvspan(
            tests[0] - 0.5, tests[-1] + 0.5, color="#000000", alpha=0.05, lw=0, label="test years"
        )
    ax.axhline(0.0, color="#666666", lw=0.6)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + (hi - lo) * 0.3)  # room for the legend above the bars
    step = max(len(periods) // 18, 1)
    ax.set_xticks(pos[::step], periods[::step])
    ax.set_xlim(-0.6, len(periods) - 0.4)
    if wf.percent:
        charts.percent_axis(ax)
    ax.set_title(f"Walk-forward, each year out of sample: {wf.metric or 'metric not named'}")
    ax.legend(loc="upper left", ncols=3, fontsize=7.5)
    return fig


def figures(wf: WalkForward) -> dict[str, Figure]:
    """The walk-forward charts by name (``data-chart``).

    Raises:
        charts.ReportsExtraMissing: matplotlib is not installed.
    """
    if not wf.rows or not wf.series():
        return {}
    with charts.style():
        return {"walk-forward": bars_figure(wf)}


def walk_forward_parts(wf: WalkForward, chained: dict[str, Any] | None) -> list[str]:
    """The page parts of a walk-forward: the bars, the per-year table, the chained table."""
    parts = []
    for name, fig in figures(wf).items():
        parts.append(
            html.chart(
                name,
                charts.figure_svg(fig),
                "Each year is traded by models that never saw it (the shaded years are the test "
                "years the promotion gate judges; earlier years are validation, reported only).",
            )
        )
    split = tuple(j for j, c in enumerate(wf.columns) if c == "split")
    parts.append(html.table("walk-forward", list(wf.columns), table_rows(wf), text_columns=split))
    if chained:
        rows = chained_rows(chained)
        if rows:
            header = ["Split", "Series", *(label for label, _k, _p in CHAINED)]
            parts.append(html.paragraph("The years of each split chained into one curve:"))
            parts.append(html.table("chained", header, rows, text_columns=(1,)))
    return parts
