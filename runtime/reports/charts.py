"""The house chart style on matplotlib: palette, fonts, date axes, SVG and PNG output.

matplotlib is the ``reports`` extra and is imported only here, only when a chart is
made (:func:`new_figure`), so ``invest --help``, ``status`` and the engine's cycles never
load it. Figures are built with :class:`matplotlib.figure.Figure` directly, never
pyplot: no global figure registry, no GUI backend, safe in a worker thread.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from invest.runtime.errors import InvestError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: What to do when matplotlib is missing: the one line every caller prints.
MISSING_EXTRA = "charts need the reports extra: pip install 'invest-appliance[reports]'"

#: One palette for every report and alert: the strategy stands out, benchmarks recede.
PALETTE = {
    "strategy": "#1f5fa8",
    "benchmark": "#8c8c8c",
    "equal_weight": "#d08c2c",
    "drawdown": "#c0392b",
    "positive": "#2e8b57",
    "negative": "#c0392b",
    "cash": "#7fb3d5",
    "exposure": "#1f5fa8",
    "grid": "#e3e3e3",
    "text": "#222222",
}

#: matplotlib settings of the house style. ``svg.fonttype = none`` keeps text as text
#: in the SVG (selectable, searchable, a fraction of the size of glyph paths);
#: ``svg.hashsalt`` makes the SVG's element ids the same on every run.
STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.edgecolor": "#9a9a9a",
    "axes.labelcolor": PALETTE["text"],
    "axes.grid": True,
    "grid.color": PALETTE["grid"],
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 8.0,
    "lines.linewidth": 1.2,
    "xtick.color": "#555555",
    "ytick.color": "#555555",
    "svg.fonttype": "none",
    "svg.hashsalt": "invest",
    "figure.dpi": 100.0,
}


class ReportsExtraMissing(InvestError):
    """matplotlib is not installed: the ``reports`` extra was left out."""


def _matplotlib() -> Any:
    """matplotlib; raises :class:`ReportsExtraMissing`."""
    try:
        import matplotlib
    except ImportError as e:
        raise ReportsExtraMissing(MISSING_EXTRA) from e
    return matplotlib


def style() -> AbstractContextManager[Any]:
    """The house style for the charts built (and saved) inside this ``with`` block.

    A context, never a global ``rcParams.update``: the alert charts
    (:mod:`invest.runtime.notify.chart`) draw in the same process with their own
    sizes, and a style left behind by a report changed their pixels.

    Raises:
        ReportsExtraMissing: matplotlib is not installed.
    """
    ctx: AbstractContextManager[Any] = _matplotlib().rc_context(STYLE)
    return ctx


def new_figure(width_in: float = 8.0, height_in: float = 3.0, rows: int = 1) -> Figure:
    """An empty figure with ``rows`` axes stacked (sharing x); build it inside :func:`style`."""
    _matplotlib()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in))
    fig.subplots(rows, 1, sharex=True, squeeze=False)
    # Fixed margins in inches, not a layout engine: constrained layout measures every
    # tick label once more per figure, about half the time of a tearsheet's charts.
    # 0.85 in on the left holds a label like "2,000,000" at the house font size.
    fig.subplots_adjust(
        left=0.85 / width_in,
        right=1 - 0.15 / width_in,
        bottom=0.4 / height_in,
        top=1 - 0.35 / height_in,
        hspace=0.45 if rows > 1 else 0.2,
    )
    return fig


def date_axis(ax: Axes) -> None:
    """Dates on the x axis in the concise form (years, then months as they fit)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    # matplotlib.dates' constructors carry no annotations in matplotlib's stubs.
    loc = AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))  # type: ignore[no-untyped-call]


def money_axis(ax: Axes, log: bool = False) -> None:
    """Values on the y axis as money with thousands separators (log scale if asked)."""
    from matplotlib.ticker import FuncFormatter

    if log:
        ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda _v, _p: ""))


def percent_axis(ax: Axes, decimals: int = 0) -> None:
    """Values on the y axis as percentages of 1."""
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=decimals))


#: The root's namespace declarations: an HTML parser puts an inline ``<svg>`` (and its
#: ``xlink:href``) in the SVG namespace itself, and a page with no "http" is easier to audit.
_XMLNS = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


def figure_svg(fig: Figure) -> str:
    """The figure as an inline ``<svg>`` element for an HTML page.

    No XML prolog or doctype, no RDF metadata block (creator URL, date) and no
    namespace declarations: the element holds nothing but the drawing.
    """
    buf = io.StringIO()
    with style():  # the SVG settings (text as text, fixed ids) are read at save time
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :].strip()
    head_end = text.index(">") + 1
    head = _XMLNS.sub("", text[:head_end])
    body = re.sub(r"<metadata>.*?</metadata>\s*", "", text[head_end:], count=1, flags=re.S)
    return head + body


def figure_png(fig: Figure, width_px: int) -> bytes:
    """The figure as a PNG ``width_px`` pixels wide (the height keeps the figure's ratio)."""
    if width_px < 100:
        raise ValueError(f"a chart needs at least 100 px of width (got {width_px})")
    buf = io.BytesIO()
    with style():
        fig.savefig(
            buf, format="png", dpi=width_px / fig.get_figwidth(), metadata={"Software": None}
        )
    return buf.getvalue()


def day_array(days: Sequence[date]) -> npt.NDArray[np.datetime64]:
    """Days as numpy datetime64[D], which matplotlib's date axes read without pandas."""
    return np.array(days, dtype="datetime64[D]")


def envelope(values: npt.NDArray[np.float64], points: int = 600) -> npt.NDArray[np.intp]:
    """Indices that draw ``values`` at ``points`` columns as the whole series would.

    A chart about 800 px wide cannot show 8,000 daily points; drawing all of them
    makes the SVG megabytes of path. Each of ``points // 4`` equal buckets keeps
    its first, lowest, highest and last point, in time order (min-max decimation,
    as oscilloscopes do), so every peak and trough, the deepest drawdown included,
    stays on the chart. A series short enough is returned whole.
    """
    n = len(values)
    if n <= points:
        return np.arange(n)
    buckets = max(points // 4, 1)
    edges = np.linspace(0, n, buckets + 1).astype(np.intp)
    keep: list[npt.NDArray[np.intp]] = []
    clean = np.where(np.isfinite(values), values, 0.0)
    for lo, hi in itertools.pairwise(edges.tolist()):
        if hi <= lo:
            continue
        part = clean[lo:hi]
        keep.append(np.array([lo, lo + int(np.argmin(part)), lo + int(np.argmax(part)), hi - 1]))
    return np.unique(np.concatenate(keep))
