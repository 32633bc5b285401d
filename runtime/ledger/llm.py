"""The LLM oracle's tables in the ledger (migration 4): answer cache, audit trail, usage.

``llm_cache`` holds answers by prompt hash, ``llm_audit`` every prompt, response,
parse result and verdict per cycle, ``llm_usage`` tokens and cost per account and
day. Values arrive and leave as JSON text: the oracle's
:class:`~invest.runtime.oracle.ledger_store.LedgerOracleStore` turns them into its
own types. Writes join the caller's open transaction and commit on their own
otherwise (the writer's connection is in autocommit mode).
"""

from __future__ import annotations

import sqlite3

from invest.runtime.errors import LedgerError

__all__ = [
    "TABLES",
    "audit_append",
    "audit_cycles",
    "audit_rows",
    "cache_get",
    "cache_put",
    "check_tables",
    "usage_add",
    "usage_days",
    "usage_get",
]

#: The tables of migration 4 (the exit plans came with them).
TABLES = ("llm_cache", "llm_audit", "llm_usage", "exit_plans")


def check_tables(conn: sqlite3.Connection) -> None:
    """Refuse a ledger that predates the oracle tables.

    Raises:
        LedgerError: the ledger was not migrated to schema 4.
    """
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [t for t in TABLES if t not in names]
    if missing:
        raise LedgerError(
            f"the ledger has no {', '.join(missing)} table: open it once with the engine "
            "(or `invest run`) to apply the schema migrations"
        )


def cache_get(conn: sqlite3.Connection, key: str) -> str | None:
    """The cached answer (JSON text) stored under a prompt hash, or None."""
    row = conn.execute("SELECT json FROM llm_cache WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def cache_put(conn: sqlite3.Connection, key: str, value: str, created: str) -> None:
    """Store an answer (JSON text) under a prompt hash (last write wins)."""
    conn.execute(
        "INSERT OR REPLACE INTO llm_cache (key, json, created) VALUES (?, ?, ?)",
        [key, value, created],
    )


def audit_append(
    conn: sqlite3.Connection, cycle_id: str, account: str, ts: str, kind: str, data: str
) -> None:
    """Append one audit record (its data as JSON text)."""
    conn.execute(
        "INSERT INTO llm_audit (cycle_id, account, ts, kind, json) VALUES (?, ?, ?, ?, ?)",
        [cycle_id, account, ts, kind, data],
    )


def audit_rows(conn: sqlite3.Connection, cycle_id: str) -> list[tuple[str, str, str, str, str]]:
    """(cycle_id, account, ts, kind, json) of a cycle's audit records, in the order written."""
    rows = conn.execute(
        "SELECT cycle_id, account, ts, kind, json FROM llm_audit WHERE cycle_id = ? ORDER BY id",
        [cycle_id],
    ).fetchall()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def audit_cycles(conn: sqlite3.Connection, account: str, limit: int = 50) -> list[str]:
    """The latest cycle ids with audit records for ``account``, newest first."""
    rows = conn.execute(
        "SELECT cycle_id FROM llm_audit WHERE account = ? GROUP BY cycle_id "
        "ORDER BY MAX(id) DESC LIMIT ?",
        [account, limit],
    ).fetchall()
    return [r[0] for r in rows]


def usage_add(conn: sqlite3.Connection, account: str, day: str, tokens: int, cost: float) -> None:
    """Add spent tokens and cost to an account's day (ISO date)."""
    conn.execute(
        "INSERT INTO llm_usage (account, day, tokens, cost_usd) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (account, day) DO UPDATE SET "
        "tokens = tokens + excluded.tokens, cost_usd = cost_usd + excluded.cost_usd",
        [account, day, int(tokens), float(cost)],
    )


def usage_get(conn: sqlite3.Connection, account: str, day: str) -> tuple[int, float] | None:
    """(tokens, cost) an account spent on a day (ISO date); None when nothing was recorded."""
    row = conn.execute(
        "SELECT tokens, cost_usd FROM llm_usage WHERE account = ? AND day = ?", [account, day]
    ).fetchone()
    return None if row is None else (int(row[0]), float(row[1]))


def usage_days(conn: sqlite3.Connection, account: str) -> list[tuple[str, int, float]]:
    """(day, tokens, cost) of every day ``account`` spent tokens on, oldest first."""
    rows = conn.execute(
        "SELECT day, tokens, cost_usd FROM llm_usage WHERE account = ? ORDER BY day", [account]
    ).fetchall()
    return [(r[0], int(r[1]), float(r[2])) for r in rows]
