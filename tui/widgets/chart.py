"""Equity against benchmarks: a plotext chart (textual-plotext), or sparklines without it.

textual-plotext is imported when a chart is first composed (account and backtest
screens), not at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Label, Sparkline

#: Markers per series, so the lines stay apart in monochrome too.
MARKERS = ("braille", "·", "+")
#: At most this many points reach plotext (a 33-year replay has 8,000 sessions).
MAX_POINTS = 600


def _thin(days: Sequence[str], values: Sequence[float]) -> tuple[list[str], list[float]]:
    step = max(len(days) // MAX_POINTS, 1)
    idx = list(range(0, len(days), step))
    if idx and idx[-1] != len(days) - 1:
        idx.append(len(days) - 1)
    return [days[i] for i in idx], [values[i] for i in idx]


class EquityChart(Widget):
    """Lines of equity over time; ``show()`` replaces the series."""

    DEFAULT_CSS = """
    EquityChart { height: 1fr; min-height: 6; }
    EquityChart Sparkline { height: 1fr; }
    EquityChart Label { height: 1; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._plotext = True
        self._pending: tuple[str, list[str], dict[str, list[float]]] | None = None

    def compose(self) -> ComposeResult:
        """A PlotextPlot, or a sparkline with a legend."""
        try:
            from textual_plotext import PlotextPlot
        except ImportError:
            self._plotext = False
            yield Label("", id="chart-legend")
            yield Sparkline([], id="chart-spark")
            return
        yield PlotextPlot(id="chart-plot")

    def on_mount(self) -> None:
        """Draw what arrived before mounting."""
        if self._pending is not None:
            self.show(*self._pending)

    def show(self, title: str, days: list[str], series: dict[str, list[float]]) -> None:
        """Plot ``series`` (name -> values on ``days``); the first one is the strategy."""
        if not self.is_mounted:
            self._pending = (title, days, series)
            return
        if not self._plotext:
            self._show_spark(title, series)
            return
        from textual_plotext import PlotextPlot

        widget = self.query_one(PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.date_form("Y-m-d")
        plt.title(title)
        for (name, values), marker in zip(series.items(), MARKERS, strict=False):
            if values and len(values) == len(days):
                x, y = _thin(days, values)
                plt.plot(x, y, label=name, marker=marker)
        widget.refresh()

    def _show_spark(self, title: str, series: dict[str, list[float]]) -> None:
        names = list(series)
        first = series[names[0]] if names else []
        legend = title
        if first:
            legend += f"  {names[0]} {first[0]:,.0f} → {first[-1]:,.0f}"
        for name in names[1:]:
            values = series[name]
            if values:
                legend += f"  | {name} → {values[-1]:,.0f}"
        self.query_one("#chart-legend", Label).update(Text(legend))
        self.query_one("#chart-spark", Sparkline).data = first
