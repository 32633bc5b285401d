"""Daily reports and weekly summaries, read from the ledger."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from invest.runtime.ledger import engine_repo as repo
from invest.runtime.notify.events import AccountReport, DailyReport, WeeklySummary

__all__ = ["account_report", "daily_report", "weekly_summary"]


def account_report(conn: sqlite3.Connection, account: str, day: date, since: date) -> AccountReport:
    """The account at the mark of ``day`` (or the latest before), against the mark before ``since``."""
    rows = conn.execute(
        "SELECT day, equity FROM equity WHERE account = ? AND day <= ? ORDER BY day DESC LIMIT 1",
        (account, day.isoformat()),
    ).fetchone()
    base = conn.execute(
        "SELECT equity FROM equity WHERE account = ? AND day < ? ORDER BY day DESC LIMIT 1",
        (account, since.isoformat()),
    ).fetchone()
    start = conn.execute("SELECT start_cash FROM accounts WHERE name = ?", (account,)).fetchone()
    equity = float(rows[1]) if rows else float(start[0]) if start else 0.0
    before = float(base[0]) if base else (float(start[0]) if start else equity)
    trades = conn.execute(
        "SELECT COUNT(*) FROM fills WHERE account = ? AND day >= ? AND day <= ?",
        (account, since.isoformat(), day.isoformat()),
    ).fetchone()[0]
    held = conn.execute("SELECT COUNT(*) FROM positions WHERE account = ?", (account,)).fetchone()[
        0
    ]
    latest = repo.decisions(conn, account, 5)
    regime = next((r.get("regime") for r in latest if r.get("regime")), None)
    change = equity - before
    return AccountReport(
        account,
        round(equity, 2),
        round(change, 2),
        change / before if before else 0.0,
        int(trades),
        int(held),
        repo.account_halt(conn, account).value,
        regime,
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
