"""The report charts of the daily and weekly Telegram and Discord messages, drawn with matplotlib.

:func:`report_figure` builds the figure (an equity panel over a drawdown panel,
sharing a dated x axis) and :func:`report_png` renders it; :func:`sparkline`
is the text chart that goes in the message. matplotlib is imported inside the
functions (the Agg canvas, never pyplot: no global figure state, safe on the
engine's notifier thread), so importing this module loads nothing heavy.

Sized for a phone: the PNG is ``width_px`` wide (1080 by default) and 4:5 tall.
The figure is 5.4 x 6.75 inches at ``width_px / 5.4`` dpi, so at 1080 px one
point is 2.78 px: tick labels at 10 pt are 28 px tall, which a 3x phone screen
shows at about 9 css px, the smallest comfortable size. The sizes are in
:data:`FONT_PT`. One account is drawn in its currency with the benchmark
scaled to its first equity; several accounts are drawn as returns since the
first day (percent), so accounts of different sizes share one axis.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DATE_FORMAT",
    "FONT_PT",
    "PALETTE",
    "BenchmarkSeries",
    "EquitySeries",
    "TradeMark",
    "report_figure",
    "report_png",
    "sparkline",
]

#: One colour per account (in order); the benchmark is grey and dashed.
PALETTE: tuple[str, ...] = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf")
BENCH_COLOR = "#6b6b6b"
#: Trade labels: the side is in the marker's shape and the word, the account in its colour.
TRADE_TEXT = "#333333"
#: Font sizes in points (1 pt = 2.78 px at 1080 px wide).
FONT_PT = {"title": 12.0, "tick": 10.0, "legend": 9.5, "end": 9.5, "trade": 8.5, "label": 10.0}
#: The x tick labels: day and month over the year (strptime reads them back).
DATE_FORMAT = "%d %b\n%Y"
_WIDTH_IN, _HEIGHT_IN = 5.4, 6.75
_BARS = "▁▂▃▄▅▆▇█"
#: No "Software: matplotlib x.y" text chunk: the bytes depend on the data and the renderer only.
_METADATA: dict[str, str | None] = {"Software": None}


@dataclass(frozen=True, slots=True)
class EquitySeries:
    """One account's equity on its marked sessions (oldest first)."""

    account: str
    days: tuple[date, ...]
    equity: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class BenchmarkSeries:
    """The benchmark's closes; ``closes`` empty when they are unavailable (the legend says n/a)."""

    symbol: str
    days: tuple[date, ...] = ()
    closes: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class TradeMark:
    """One fill to mark on the chart."""

    account: str
    day: date
    symbol: str
    side: str  # "buy" | "sell"


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """A one-line text chart (``▁▂▄▆█``) of the last ``width`` finite values."""
    pts = [v for v in values if math.isfinite(v)][-width:]
    if not pts:
        return ""
    lo, hi = min(pts), max(pts)
    span = hi - lo or 1.0
    return "".join(_BARS[round((v - lo) / span * (len(_BARS) - 1))] for v in pts)


def _clean(s: EquitySeries) -> tuple[list[date], list[float]]:
    pairs = [(d, float(v)) for d, v in zip(s.days, s.equity, strict=True) if math.isfinite(v)]
    return [d for d, _ in pairs], [v for _, v in pairs]


def _asof(days: Sequence[date], values: Sequence[float], day: date) -> float | None:
    """The last value on or before ``day`` (a benchmark close for an account's session)."""
    out = None
    for d, v in zip(days, values, strict=True):
        if d > day:
            break
        if math.isfinite(v) and v > 0:
            out = v
    return out


def _drawdown(values: Sequence[float]) -> list[float]:
    peak, out = -math.inf, []
    for v in values:
        peak = max(peak, v)
        out.append(v / peak - 1 if peak > 0 else 0.0)
    return out


def _money(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.2f}"


def report_figure(
    curves: Sequence[EquitySeries],
    benchmark: BenchmarkSeries | None,
    trades: Sequence[TradeMark] = (),
    *,
    title: str = "",
    width_px: int = 1080,
) -> Figure | None:
    """The report chart as a matplotlib Figure, or None when no account has two sessions.

    Args:
        curves: each account's equity (colours in :data:`PALETTE` order).
        benchmark: the benchmark, drawn on the accounts' days from their first one;
            None or without closes: the legend says "benchmark n/a" (never invented).
        trades: fills marked on their account's line (buy ^, sell v, in the line's colour,
            "buy AAPL, MSFT" beside).
        title: the line above the chart.
        width_px: the PNG's width; the layout scales with it.
    """
    from matplotlib import dates as mdates
    from matplotlib import ticker
    from matplotlib.figure import Figure

    lines = [(s.account, *_clean(s)) for s in curves]
    lines = [(name, d, v) for name, d, v in lines if len(v) >= 2]
    if not lines:
        return None
    relative = len(lines) > 1
    fig = Figure(figsize=(_WIDTH_IN, _HEIGHT_IN), dpi=width_px / _WIDTH_IN, facecolor="white")
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.08)
    top: Axes = fig.add_subplot(grid[0])
    low: Axes = fig.add_subplot(grid[1], sharex=top)
    font = "DejaVu Sans"  # bundled with matplotlib: the same glyphs on every machine
    first_day = min(d[0] for _, d, _ in lines)
    drawn: dict[str, tuple[list[date], list[float], str]] = {}
    ends: list[tuple[float, str, str, date]] = []  # (y, text, colour, day) of each end label

    def plot(ax: Axes, days: list[date], ys: list[float], **kw: object) -> None:
        ax.plot(days, ys, linewidth=2.0, **kw)  # type: ignore[arg-type]

    for k, (name, days, values) in enumerate(lines):
        color = PALETTE[k % len(PALETTE)]
        ys = [v / values[0] - 1 for v in values] if relative else values
        drawn[name] = (days, ys, color)
        plot(top, days, ys, color=color, label=name)
        plot(low, days, _drawdown(values), color=color)
        ends.append((ys[-1], f"{ys[-1]:+.1%}" if relative else _money(ys[-1]), color, days[-1]))
    bench_days, bench = _bench_line(benchmark, lines, relative, first_day)
    if bench:
        label = benchmark.symbol if benchmark is not None else "benchmark"
        plot(top, bench_days, bench, color=BENCH_COLOR, linestyle="--", label=label, zorder=1)
        closes = [b + 1 for b in bench] if relative else bench
        plot(low, bench_days, _drawdown(closes), color=BENCH_COLOR, linestyle="--", zorder=1)
    else:
        name = f"{benchmark.symbol} n/a" if benchmark is not None else "benchmark n/a"
        top.plot([], [], color=BENCH_COLOR, linestyle="--", label=name)
    _mark_trades(top, trades, drawn, font)
    _end_labels(fig, top, ends, [y for _, ys, _ in drawn.values() for y in ys] + bench, font)

    # Title and legend above the panel, so the legend never hides a line.
    rows = math.ceil((len(lines) + 1) / 2)
    plot_top = 0.935 - 0.035 * rows
    fig.suptitle(
        title, x=0.03, y=0.985, ha="left", fontsize=FONT_PT["title"], fontweight="bold", family=font
    )
    top.legend(
        loc="lower left",
        bbox_to_anchor=(-0.02, 1.0),
        ncol=2,
        frameon=False,
        prop={"family": font, "size": FONT_PT["legend"]},
    )
    if relative:
        top.yaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=1))
        top.set_ylabel("return since start", fontsize=FONT_PT["label"], family=font)
    else:
        top.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _money(v)))
        top.set_ylabel("equity", fontsize=FONT_PT["label"], family=font)
    low.yaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=None))
    low.set_ylabel("drawdown", fontsize=FONT_PT["label"], family=font)
    low.yaxis.set_major_locator(ticker.MaxNLocator(3))
    # "13 Apr" over "2022": short enough for 3 to 5 ticks at 1080 px (ISO days overlap there).
    span = max((d[-1] - d[0]).days for _, d, _ in lines) if lines else 0
    # Under 3 days AutoDateLocator ticks hours (and warns at 2 days): one tick a day then.
    locator: ticker.Locator = (
        mdates.DayLocator()  # type: ignore[no-untyped-call]
        if span < 3
        else mdates.AutoDateLocator(minticks=3, maxticks=5)  # type: ignore[no-untyped-call]
    )
    low.xaxis.set_major_locator(locator)
    low.xaxis.set_major_formatter(mdates.DateFormatter(DATE_FORMAT))  # type: ignore[no-untyped-call]
    for ax in (top, low):
        ax.grid(True, color="#e0e0e0", linewidth=0.8)
        ax.tick_params(labelsize=FONT_PT["tick"])
        for tick in (*ax.get_xticklabels(), *ax.get_yticklabels()):
            tick.set_fontfamily(font)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.margins(x=0.02)
    top.tick_params(labelbottom=False)
    top.margins(y=0.12)  # room for the trade labels above and below the lines
    # Room at the right for the end labels, which sit past the last session.
    fig.subplots_adjust(left=0.17, right=0.83, top=plot_top, bottom=0.09)
    return fig


def _bench_line(
    benchmark: BenchmarkSeries | None,
    lines: Sequence[tuple[str, list[date], list[float]]],
    relative: bool,
    first_day: date,
) -> tuple[list[date], list[float]]:
    """The benchmark on the sessions of the longest account line, rebased to its first point."""
    if benchmark is None or not benchmark.closes:
        return [], []
    _, days, values = max(lines, key=lambda line: len(line[1]))
    closes = [_asof(benchmark.days, benchmark.closes, d) for d in days if d >= first_day]
    if not closes or any(c is None for c in closes):
        return [], []
    base = closes[0]
    assert base is not None
    scale = 1.0 if relative else values[0]
    ys = [(c / base) * scale - (1.0 if relative else 0.0) for c in closes if c is not None]
    return days, ys


def _end_labels(
    fig: Figure, ax: Axes, ends: list[tuple[float, str, str, date]], ys: Sequence[float], font: str
) -> None:
    """Each account's last value right of its line's end, pushed apart so none overlaps."""
    from matplotlib.transforms import offset_copy

    span = (max(ys) - min(ys)) or abs(max(ys)) or 1.0
    gap = span * 0.055  # about one label's height on the panel
    beside = offset_copy(ax.transData, fig=fig, x=5, y=0, units="points")
    placed: list[float] = []
    for y, text, color, day in sorted(ends, key=lambda e: e[0]):
        at = max(y, placed[-1] + gap) if placed else y
        placed.append(at)
        ax.text(
            day,  # type: ignore[arg-type]
            at,
            text,
            transform=beside,
            va="center",
            ha="left",
            color=color,
            fontsize=FONT_PT["end"],
            fontweight="bold",
            family=font,
            clip_on=False,
        )


def _mark_trades(
    ax: Axes,
    trades: Sequence[TradeMark],
    drawn: dict[str, tuple[list[date], list[float], str]],
    font: str,
) -> None:
    """A marker per account, day and side on the account's line, with the symbols beside it."""
    groups: dict[tuple[str, date, str], list[str]] = {}
    for t in trades:
        groups.setdefault((t.account, t.day, t.side), [])
        if t.symbol not in groups[(t.account, t.day, t.side)]:
            groups[(t.account, t.day, t.side)].append(t.symbol)
    for (account, day, side), symbols in groups.items():
        line = drawn.get(account)
        if line is None or day not in line[0]:
            continue
        y = line[1][line[0].index(day)]
        buy = side == "buy"
        color = line[2]
        marker = "^" if buy else "v"
        ax.plot(
            [day],  # type: ignore[arg-type]
            [y],
            marker=marker,
            markersize=11,
            color=color,
            markeredgecolor=TRADE_TEXT,
            markeredgewidth=1.2,
            linestyle="none",
            zorder=5,
        )
        shown = ", ".join(symbols[:3]) + (f" +{len(symbols) - 3}" if len(symbols) > 3 else "")
        ax.annotate(
            f"{'buy' if buy else 'sell'} {shown}",
            (day, y),
            xytext=(0, 12 if buy else -12),
            textcoords="offset points",
            ha="right",
            va="bottom" if buy else "top",
            color=TRADE_TEXT,
            fontsize=FONT_PT["trade"],
            family=font,
        )


def report_png(
    curves: Sequence[EquitySeries],
    benchmark: BenchmarkSeries | None,
    trades: Sequence[TradeMark] = (),
    *,
    title: str = "",
    width_px: int = 1080,
) -> bytes | None:
    """:func:`report_figure` as a PNG ``width_px`` wide (None when there is nothing to draw).

    Raises:
        ImportError: matplotlib is not installed (the ``reports`` extra).
    """
    fig = report_figure(curves, benchmark, trades, title=title, width_px=width_px)
    if fig is None:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=width_px / _WIDTH_IN, metadata=_METADATA)
    return buf.getvalue()
