"""Daily reports and weekly summaries, read from the ledger."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from invest.runtime.events import AccountReport, DailyReport, WeeklySummary
from invest.runtime.ledger import engine_state as repo
from invest.runtime.ledger import reads

__all__ = ["account_report", "daily_report", "weekly_summary"]


def account_report(conn: sqlite3.Connection, account: str, day: date, since: date) -> AccountReport:
    """The account at the mark of ``day`` (or the latest before), against the mark before ``since``."""
    row = reads.report_row(conn, account, day, since)
    change = row.equity - row.before
    return AccountReport(
        account,
        round(row.equity, 2),
        round(change, 2),
        change / row.before if row.before else 0.0,
        row.trades,
        row.held,
        repo.account_halt(conn, account).value,
        row.regime,
    )


def daily_report(
    conn: sqlite3.Connection, accounts: Sequence[str], day: date, at: datetime
) -> DailyReport:
    """Each account's equity and change over session ``day``."""
    return DailyReport(
        at=at, day=day, accounts=tuple(account_report(conn, a, day, day) for a in accounts)
    )


def weekly_summary(
    conn: sqlite3.Connection, accounts: Sequence[str], day: date, at: datetime
) -> WeeklySummary:
    """Each account's change over the ISO week that ends with session ``day``."""
    monday = day - timedelta(days=day.weekday())
    return WeeklySummary(
        at=at,
        week_ending=day,
        accounts=tuple(account_report(conn, a, day, monday) for a in accounts),
    )
