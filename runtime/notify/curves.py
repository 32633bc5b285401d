"""What a report's chart shows, gathered read-only: equity and fills from the ledger, the
benchmark's closes from data already on the box.

:func:`ledger_curves` is the :data:`~invest.runtime.notify.format.CurveSource` the
engine's notifiers use. :func:`offline_benchmark` reads an account's benchmark from
its data source without calling a provider: the bundled sample or a CSV source is
read from disk, an online source (yfinance, alpaca) from the bar cache the engine
fills when it loads its data (``cache/bars.sqlite``). When neither has the closes
the chart's legend says "benchmark n/a": a line is never invented.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from invest.runtime.errors import InvestError
from invest.runtime.events import DailyReport, Event, WeeklySummary
from invest.runtime.ledger import reads
from invest.runtime.notify.chart import BenchmarkSeries, EquitySeries, TradeMark
from invest.runtime.notify.format import CurveSource, ReportData

if TYPE_CHECKING:
    from invest.runtime.config import Settings
    from invest.runtime.paths import Paths

__all__ = ["BenchmarkSource", "ledger_curves", "offline_benchmark", "report_period"]

logger = logging.getLogger(__name__)

#: The benchmark of ``account`` between two days (None: the account has none configured).
BenchmarkSource = Callable[[str, date, date], BenchmarkSeries | None]


def report_period(event: Event) -> tuple[date, date] | None:
    """The days whose fills a report marks: its session, or its ISO week up to ``week_ending``
    (the span :func:`~invest.runtime.control.reports.weekly_summary` counts)."""
    if isinstance(event, DailyReport):
        return event.day, event.day
    if isinstance(event, WeeklySummary):
        end = event.week_ending
        return end - timedelta(days=end.weekday()), end
    return None


def ledger_curves(
    ledger_path: Path, days: int = 90, benchmark: BenchmarkSource | None = None
) -> CurveSource:
    """Each reported account's last ``days`` equity rows up to the report's day, the period's
    fills, and the first account's benchmark from ``benchmark`` (None: "benchmark n/a")."""

    def curves(event: Event) -> ReportData:
        names = [r.account for r in getattr(event, "accounts", ())]
        if not names or not ledger_path.exists():
            return ReportData()
        period = report_period(event)
        with closing(reads.connect_readonly(ledger_path)) as conn:
            series = []
            for name in names:
                rows = [
                    (date.fromisoformat(d), e)
                    for d, e in reads.equity_curve(conn, name)
                    if period is None or date.fromisoformat(d) <= period[1]
                ][-days:]
                series.append(
                    EquitySeries(name, tuple(d for d, _ in rows), tuple(e for _, e in rows))
                )
            trades = tuple(
                TradeMark(f.account, f.day, f.symbol, f.side.value)
                for name in names
                for f in (reads.trade_fills(conn, name) if period else ())
                if period and period[0] <= f.day <= period[1]
            )
        spans = [s.days for s in series if s.days]
        bench = None
        if benchmark is not None and spans:
            bench = benchmark(names[0], min(d[0] for d in spans), max(d[-1] for d in spans))
        return ReportData(tuple(series), bench, trades)

    return curves


def offline_benchmark(settings: Settings, paths: Paths) -> BenchmarkSource:
    """The benchmark of an account from its data source (``data`` or ``engine.data``), read
    from local files only; a source or a cache without it gives a series with no closes."""

    def closes(account: str, first: date, last: date) -> BenchmarkSeries | None:
        cfg = settings.accounts.get(account)
        if cfg is None:
            return None
        symbol, spec = cfg.benchmark, (cfg.data or settings.engine.data).strip()
        kind = spec.partition(":")[0].lower()
        try:
            if kind in ("sample", "csv"):
                from invest.runtime.data import open_source  # lazy: pandas

                frame = open_source(spec).load([symbol], first, last)
                days = [date.fromisoformat(str(d)) for d in frame.dates.astype("datetime64[D]")]
                values = [float(x) for x in frame.close[:, 0]]
            else:
                from invest.runtime.data import CACHE_FILE

                rows = _bars(paths.cache / CACHE_FILE, kind, symbol, first, last)
                days, values = [d for d, _ in rows], [c for _, c in rows]
        except (InvestError, OSError, ValueError) as e:
            logger.info("report chart: no %s closes from %s: %s", symbol, spec, e)
            return BenchmarkSeries(symbol)
        pairs = [(d, v) for d, v in zip(days, values, strict=True) if math.isfinite(v)]
        return BenchmarkSeries(symbol, tuple(d for d, _ in pairs), tuple(v for _, v in pairs))

    return closes


def _bars(cache: Path, kind: str, symbol: str, first: date, last: date) -> list[tuple[date, float]]:
    """(day, close) of ``symbol`` in the bar cache of source ``kind`` (none when no cache)."""
    if not cache.exists():
        return []
    from invest.runtime.data import BarCache  # lazy: sqlite-utils

    with BarCache(cache) as bars:
        return [(date.fromisoformat(r[0]), r[4]) for r in bars.read(kind, symbol, first, last)]
