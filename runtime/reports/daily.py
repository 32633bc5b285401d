"""The engine's daily report of one account as a page kept on disk, and its retention.

``INVEST_HOME/reports/daily/<YYYY-MM-DD>/<account>.html`` (and the alert's PNG beside
it, ``<account>.png``): the account's equity against its benchmark and its drawdown
over the last sessions (inline SVG in the house style), the day's fills, the day's
explanation records in short and the risk line. It reads plain values that the
engine gathers (``engine.report_files``); this layer never reads the ledger or the
risk monitors itself. Old day folders are pruned to the newest :data:`KEEP_DAYS`.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from invest.runtime.domain import Fill
from invest.runtime.explain import explain
from invest.runtime.reports import charts, html
from invest.runtime.reports.charts import PALETTE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Day folders kept under ``reports/daily``: a fixed 400 (about a year and seven months
#: of sessions, under 100 MB for a few accounts); the oldest beyond it are removed.
KEEP_DAYS = 400
#: Sessions the charts show, as the alert's chart does (``notify.curves.ledger_curves``).
SESSIONS = 90
#: Lines of one explanation record on the page ("in short"); the rest is in the TUI.
RECORD_LINES = 12
_DAY_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class DailyPage:
    """What one account's daily page shows; every value comes from the engine's reads.

    Attributes:
        account: the account's name (also the file's name).
        day: the session reported.
        days, equity: the account's equity rows up to ``day``, oldest first.
        benchmark: the benchmark's symbol.
        bench_days, bench_closes: its closes (empty: "benchmark n/a", never invented).
        fills: the day's fills.
        records: the day's explanation records.
        risk: the risk lines (``risk.snapshot.risk_lines``).
    """

    account: str
    day: date
    days: Sequence[date]
    equity: Sequence[float]
    benchmark: str
    bench_days: Sequence[date] = ()
    bench_closes: Sequence[float] = ()
    fills: Sequence[Fill] = ()
    records: Sequence[dict[str, Any]] = ()
    risk: Sequence[str] = ()


def day_dir(root: Path, day: date) -> Path:
    """``root/daily/<YYYY-MM-DD>``: the folder of one day's pages (``root``: ``Paths.reports``)."""
    return root / "daily" / day.isoformat()


def scaled_benchmark(p: DailyPage) -> Array:
    """The benchmark on the account's days, scaled to the account's first equity.

    Each of the account's days takes the last close on or before it (``nan`` before
    the first close); with no close at all, every value is ``nan``.
    """
    out = np.full(len(p.days), math.nan)
    if not p.bench_closes or not p.days:
        return out
    bd = charts.day_array(p.bench_days)
    closes = np.asarray(p.bench_closes, dtype=np.float64)
    idx = np.searchsorted(bd, charts.day_array(p.days), side="right") - 1
    ok = idx >= 0
    out[ok] = closes[idx[ok]]
    finite = np.flatnonzero(np.isfinite(out))
    if not finite.size:
        return out
    first = int(finite[0])
    scaled: Array = out * (float(p.equity[first]) / float(out[first]))
    return scaled


def drawdown(values: Array) -> Array:
    """Fall from the running peak as a fraction (``nan`` stays ``nan``)."""
    peak = np.fmax.accumulate(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return values / peak - 1.0


def figure(p: DailyPage) -> Figure:
    """Equity against the benchmark over the drawdown panel, sharing the dated x axis.

    Raises:
        charts.ReportsExtraMissing: matplotlib is not installed.
    """
    x = charts.day_array(p.days)
    eq = np.asarray(p.equity, dtype=np.float64)
    bench = scaled_benchmark(p)
    fig = charts.new_figure(8.0, 4.6, rows=2)
    top, low = fig.axes
    top.plot(x, eq, color=PALETTE["strategy"], lw=1.6, label=p.account)
    bench_label = p.benchmark if np.isfinite(bench).any() else f"{p.benchmark} n/a"
    top.plot(x, bench, color=PALETTE["benchmark"], ls="--", label=bench_label)
    charts.money_axis(top)
    top.set_title(f"Equity against {p.benchmark} (scaled to the first day)")
    top.legend(loc="upper left")
    dd = drawdown(eq)
    low.fill_between(x, dd, 0.0, color=PALETTE["drawdown"], alpha=0.35, lw=0)
    low.plot(x, dd, color=PALETTE["drawdown"], lw=0.8, label=p.account)
    low.plot(x, drawdown(bench), color=PALETTE["benchmark"], lw=0.8, label=bench_label)
    charts.percent_axis(low)
    charts.date_axis(low)
    low.set_title("Drawdown")
    return fig


def _fill_rows(fills: Sequence[Fill]) -> list[list[str]]:
    return [
        [
            f.symbol,
            f.side.value,
            f"{f.quantity.normalize():f}",
            f"{f.price:,.2f}",
            f"{f.quantity * f.price:,.2f}",
            f"{f.fees:,.2f}",
            f.reason,
        ]
        for f in fills
    ]


def short_record(rec: dict[str, Any]) -> str:
    """An explanation record cut to :data:`RECORD_LINES` lines."""
    lines = explain(rec).splitlines()
    if len(lines) > RECORD_LINES:
        lines = [*lines[:RECORD_LINES], f"  ... {len(lines) - RECORD_LINES} more lines"]
    return "\n".join(lines)


def page_html(p: DailyPage) -> str:
    """The whole page.

    Raises:
        charts.ReportsExtraMissing: matplotlib is not installed.
        ValueError: fewer than two equity rows (nothing to chart).
    """
    if len(p.days) < 2 or len(p.days) != len(p.equity):
        raise ValueError(f"{p.account}: a daily page needs two equity rows or more")
    with charts.style():
        svg = charts.figure_svg(figure(p))
    eq = [float(v) for v in p.equity]
    change = eq[-1] - eq[-2]
    subtitle = (
        f"session {p.day.isoformat()}: equity {eq[-1]:,.2f} "
        f"({change:+,.2f}, {change / eq[-2]:+.2%} on the day)"
    )
    fills = (
        html.table(
            "fills",
            ["Symbol", "Side", "Qty", "Price", "Value", "Fees", "Reason"],
            _fill_rows(p.fills),
            text_columns=(6,),
        )
        if p.fills
        else html.paragraph("No fill on this session.")
    )
    records = [html.preformatted(short_record(r)) for r in p.records] or [
        html.paragraph("No decision recorded on this session.")
    ]
    parts = [
        html.section(
            f"The last {len(p.days)} sessions",
            html.chart(
                "equity",
                svg,
                "Dashed: the benchmark scaled to the account's first equity. "
                "Lower panel: fall from the running peak.",
            ),
            name="equity",
        ),
        html.section("Risk", html.bullet_list(list(p.risk) or ["n/a"]), name="risk"),
        html.section(f"Fills ({len(p.fills)})", fills, name="fills"),
        html.section("Decisions", *records, name="decisions"),
    ]
    return html.page(f"{p.account}: daily report", subtitle, parts)


def write_page(root: Path, p: DailyPage, png: bytes | None = None, text: str | None = None) -> Path:
    """Write ``<account>.html`` (and ``<account>.png`` when given) into the day's folder.

    ``text``: the page already built by :func:`page_html` (else it is built here).

    Returns:
        The page's path.

    Raises:
        charts.ReportsExtraMissing: matplotlib is not installed (nothing is written).
        ValueError: an account name that is not a plain file name, or too few rows.
    """
    if not p.account or p.account.startswith(".") or "/" in p.account or "\\" in p.account:
        raise ValueError(f"account name {p.account!r} cannot name a report file")
    if text is None:
        text = page_html(p)  # before any folder: a missing extra leaves nothing behind
    folder = day_dir(root, p.day)
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{p.account}.html"
    html.write_file(page, text)
    if png is not None:
        html.write_file(folder / f"{p.account}.png", png)
    return page


def prune(root: Path, keep: int = KEEP_DAYS) -> list[Path]:
    """Remove the day folders of ``root/daily`` older than the newest ``keep``; the removed ones.

    Only folders named ``YYYY-MM-DD`` are touched; anything else there is left alone.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1 day, got {keep}")
    base = root / "daily"
    if not base.is_dir():
        return []
    days = sorted(
        d for d in base.iterdir() if _DAY_DIR.match(d.name) and d.is_dir() and not d.is_symlink()
    )
    old = days[:-keep]
    for d in old:
        shutil.rmtree(d)
    return old
