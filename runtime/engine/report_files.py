"""The daily report kept on disk: each account's page and PNG in ``INVEST_HOME/reports/daily``.

After the engine sends its daily report (``jobs.send_reports``) it writes, for each
account, ``reports/daily/<day>/<account>.html`` (``reports.daily``) and the alert's
chart drawn for that account alone (``notify.chart.report_png``, the benchmark from
the same local data the alert reads), then prunes day folders past
``reports.daily.KEEP_DAYS``. Writing never fails the job: an error is logged once
per account and the alert has already gone; without matplotlib nothing is written
and one line says how to install the extra.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from invest.runtime.control.risk_view import ledger_risk
from invest.runtime.ledger import reads
from invest.runtime.notify.chart import EquitySeries, TradeMark, report_png
from invest.runtime.notify.curves import BenchmarkSource
from invest.runtime.reports import daily
from invest.runtime.reports.charts import MISSING_EXTRA, ReportsExtraMissing

if TYPE_CHECKING:
    from invest.runtime.engine.engine import Engine

__all__ = ["account_page", "write_daily_files", "write_reports"]

logger = logging.getLogger("invest.runtime.engine.engine")

#: Explanation records of one account's session read back (a session has one or two).
_RECORDS = 20


def account_page(
    conn: sqlite3.Connection,
    account: str,
    benchmark_symbol: str,
    day: date,
    benchmark: BenchmarkSource | None,
) -> daily.DailyPage:
    """What ``account``'s daily page of ``day`` shows, read from the ledger and local data."""
    from invest.runtime.risk.snapshot import risk_lines  # lazy: numpy

    rows = [
        (date.fromisoformat(d), e)
        for d, e in reads.equity_curve(conn, account)
        if date.fromisoformat(d) <= day
    ][-daily.SESSIONS :]
    days = [d for d, _ in rows]
    bench = benchmark(account, days[0], days[-1]) if benchmark is not None and days else None
    return daily.DailyPage(
        account=account,
        day=day,
        days=days,
        equity=[e for _, e in rows],
        benchmark=bench.symbol if bench is not None else benchmark_symbol,
        bench_days=bench.days if bench is not None else (),
        bench_closes=bench.closes if bench is not None else (),
        fills=[f for f in reads.trade_fills(conn, account) if f.day == day],
        records=[
            r
            for r in reversed(reads.decisions(conn, account, _RECORDS))
            if r.get("day") == day.isoformat()
        ],
        risk=risk_lines(ledger_risk(conn, account), forward=False),
    )


def _png(page: daily.DailyPage, benchmark: BenchmarkSource | None) -> bytes | None:
    """The alert's chart for this account alone (same function, same data as the alert)."""
    from invest.runtime.notify.chart import BenchmarkSeries

    bench = BenchmarkSeries(page.benchmark, tuple(page.bench_days), tuple(page.bench_closes))
    return report_png(
        [EquitySeries(page.account, tuple(page.days), tuple(page.equity))],
        bench if benchmark is not None else None,
        [TradeMark(f.account, f.day, f.symbol, f.side.value) for f in page.fills],
        title=f"{page.account} {page.day.isoformat()}",
    )


def write_daily_files(
    conn: sqlite3.Connection,
    root: Path,
    accounts: dict[str, str],
    day: date,
    benchmark: BenchmarkSource | None = None,
    keep: int = daily.KEEP_DAYS,
) -> list[Path]:
    """Write each account's page and PNG of ``day`` under ``root`` (``Paths.reports``); prune.

    Args:
        accounts: each account's name and its benchmark's symbol.
        benchmark: the benchmark's closes from local data (``notify.curves.offline_benchmark``).
        keep: day folders kept (the newest), older ones removed.

    Returns:
        The pages written. Never raises: failures are logged.
    """
    written: list[Path] = []
    for name, symbol in accounts.items():
        try:
            page = account_page(conn, name, symbol, day, benchmark)
            if len(page.days) < 2:
                logger.info("daily report page of %s: fewer than two equity rows, none", name)
                continue
            html_text = daily.page_html(page)  # the extra is checked before anything is written
            written.append(daily.write_page(root, page, _png(page, benchmark), html_text))
        except (ReportsExtraMissing, ImportError) as e:
            logger.warning("daily report pages not written: %s", MISSING_EXTRA)
            logger.debug("the import that failed: %s", e)
            return written
        except Exception:  # a page must never fail the report job
            logger.exception("daily report page of %s on %s not written", name, day)
    try:
        daily.prune(root, keep)
    except OSError as e:
        logger.warning("old daily report folders not pruned: %s", e)
    return written


def write_reports(engine: Engine, day: date) -> list[Path]:
    """:func:`write_daily_files` for every account of the engine."""
    from invest.runtime.notify.curves import offline_benchmark

    accounts = {name: engine.settings.account(name).benchmark for name in engine.accounts}
    bench = offline_benchmark(engine.settings, engine.paths)
    return write_daily_files(engine.ledger.conn, engine.paths.reports, accounts, day, bench)
