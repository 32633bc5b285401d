"""The engine's own rows in the ledger: halt states, the heartbeat, per-account bookkeeping, marks.

Plain functions over a :class:`sqlite3.Connection`, so that a reader can use a
read-only connection (:func:`~invest.runtime.ledger.reads.connect_readonly`) with
the standard library only (``invest status`` runs as a Docker HEALTHCHECK and must
start fast), and the engine passes ``Ledger.conn`` inside its own transactions.
Writes never commit: the caller's transaction does.

The engine tables arrive with migration 3; on an older ledger the readers answer
with defaults (ACTIVE, no heartbeat) instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from invest.runtime.domain import HaltState
from invest.runtime.ledger.schema import has_engine_tables

__all__ = [
    "EngineAccount",
    "Heartbeat",
    "account_halt",
    "beat",
    "engine_account",
    "engine_halt",
    "ensure_engine_account",
    "halt_reason",
    "heartbeat",
    "heartbeat_times",
    "mark_stopped",
    "paused_accounts",
    "save_marks",
    "set_engine_halt",
    "update_engine_account",
]

_COUNTERS = ("errors", "data_outages", "broker_outages")


def _one(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> Any:
    row = conn.execute(sql, args).fetchone()
    return None if row is None else row[0]


# -- engine-wide halt ----------------------------------------------------------------------


def engine_halt(conn: sqlite3.Connection) -> tuple[HaltState, str]:
    """The engine-wide halt state and its reason (ACTIVE on a ledger without the table)."""
    if not has_engine_tables(conn):
        return HaltState.ACTIVE, ""
    row = conn.execute("SELECT halt, reason FROM engine_state WHERE id = 1").fetchone()
    return (HaltState(row[0]), str(row[1])) if row else (HaltState.ACTIVE, "")


def set_engine_halt(conn: sqlite3.Connection, halt: HaltState, reason: str, ts: str) -> None:
    """Persist the engine-wide halt state (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO engine_state (id, halt, reason, updated_at) VALUES (1, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET halt = excluded.halt, reason = excluded.reason, "
        "updated_at = excluded.updated_at",
        (halt.value, reason, ts),
    )


def account_halt(conn: sqlite3.Connection, account: str) -> HaltState:
    """The account's own halt state (ACTIVE when the account is unknown)."""
    value = _one(conn, "SELECT halt FROM account_state WHERE account = ?", (account,))
    return HaltState(value) if value else HaltState.ACTIVE


def halt_reason(conn: sqlite3.Connection, account: str | None) -> str:
    """The reason of the latest halt event of ``account`` (None: engine-wide)."""
    where = "account IS NULL" if account is None else "account = ?"
    args: tuple[Any, ...] = () if account is None else (account,)
    detail = _one(
        conn,
        f"SELECT detail_json FROM events WHERE kind = 'halt' AND {where} ORDER BY id DESC LIMIT 1",  # noqa: S608 - a fixed fragment
        args,
    )
    return str(json.loads(detail).get("reason", "")) if detail else ""


def run_refusal(conn: sqlite3.Connection, account: str) -> str:
    """Why a cycle of ``account`` may not run now ("" when it may): its own HALTED state or
    the engine's, with the reason and the command that lifts it. Every door (the engine's
    run op, a local ``invest run``) refuses with these words; the TUI says the same."""
    if account_halt(conn, account) is HaltState.HALTED:
        why = halt_reason(conn, account) or "no reason given"
        return f"{account} is HALTED ({why}); resume it first (invest resume {account})"
    state, why = engine_halt(conn)
    if state is HaltState.HALTED:
        return f"the engine is HALTED ({why or 'no reason given'}); resume all first (invest resume --all)"
    return ""


# -- heartbeat -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The engine's last sign of life."""

    pid: int
    version: str
    started_at: datetime
    beat_at: datetime
    clock_at: datetime
    stopped_at: datetime | None

    def age(self, now: datetime) -> float:
        """Seconds since the last beat (wall clock)."""
        return (now - self.beat_at).total_seconds()


def beat(
    conn: sqlite3.Connection,
    *,
    pid: int,
    version: str,
    started_at: str,
    beat_at: str,
    clock_at: str,
) -> None:
    """Write the heartbeat row (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO engine_heartbeat (id, pid, version, started_at, beat_at, clock_at, stopped_at) "
        "VALUES (1, ?, ?, ?, ?, ?, NULL) ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, "
        "version = excluded.version, started_at = excluded.started_at, beat_at = excluded.beat_at, "
        "clock_at = excluded.clock_at, stopped_at = NULL",
        (pid, version, started_at, beat_at, clock_at),
    )


def heartbeat_times(conn: sqlite3.Connection) -> tuple[str | None, str | None]:
    """(beat_at, stopped_at) as written (None, None when no engine ever beat)."""
    row = conn.execute("SELECT beat_at, stopped_at FROM engine_heartbeat").fetchone()
    return (row[0], row[1]) if row else (None, None)


def mark_stopped(conn: sqlite3.Connection, ts: str) -> None:
    """Record a clean shutdown in the heartbeat row."""
    conn.execute("UPDATE engine_heartbeat SET stopped_at = ? WHERE id = 1", (ts,))


def heartbeat(conn: sqlite3.Connection) -> Heartbeat | None:
    """The heartbeat row, or None when no engine ever ran on this ledger."""
    if not has_engine_tables(conn):
        return None
    row = conn.execute(
        "SELECT pid, version, started_at, beat_at, clock_at, stopped_at FROM engine_heartbeat"
    ).fetchone()
    if row is None:
        return None
    return Heartbeat(
        int(row[0]),
        str(row[1]),
        datetime.fromisoformat(row[2]),
        datetime.fromisoformat(row[3]),
        datetime.fromisoformat(row[4]),
        datetime.fromisoformat(row[5]) if row[5] else None,
    )


# -- per-account engine bookkeeping ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngineAccount:
    """The engine's bookkeeping of one account."""

    account: str
    paused: bool = False
    errors: int = 0
    data_outages: int = 0
    broker_outages: int = 0
    last_error: str = ""
    last_cycle_at: str | None = None
    last_cycle_id: str | None = None
    synced_at: str | None = None
    trip_peak: float | None = None


def ensure_engine_account(conn: sqlite3.Connection, account: str, ts: str) -> None:
    """Create the account's engine row on first sight."""
    conn.execute(
        "INSERT OR IGNORE INTO engine_accounts (account, updated_at) VALUES (?, ?)", (account, ts)
    )


def engine_account(conn: sqlite3.Connection, account: str) -> EngineAccount:
    """The account's engine row (defaults when missing)."""
    if not has_engine_tables(conn):
        return EngineAccount(account)
    row = conn.execute(
        "SELECT paused, errors, data_outages, broker_outages, last_error, last_cycle_at, "
        "last_cycle_id, synced_at, trip_peak FROM engine_accounts WHERE account = ?",
        (account,),
    ).fetchone()
    if row is None:
        return EngineAccount(account)
    return EngineAccount(account, bool(row[0]), *row[1:])


_FIELDS = frozenset(
    {
        "paused",
        *_COUNTERS,
        "last_error",
        "last_cycle_at",
        "last_cycle_id",
        "synced_at",
        "trip_peak",
    }
)


def paused_accounts(conn: sqlite3.Connection) -> frozenset[str]:
    """The accounts the engine keeps paused."""
    return frozenset(
        r[0] for r in conn.execute("SELECT account FROM engine_accounts WHERE paused = 1")
    )


def update_engine_account(conn: sqlite3.Connection, account: str, ts: str, **values: Any) -> None:
    """Set fields of the account's engine row (inside the caller's transaction).

    Raises:
        ValueError: an unknown field.
    """
    bad = set(values) - _FIELDS
    if bad:
        raise ValueError(f"unknown engine_accounts fields: {sorted(bad)}")
    ensure_engine_account(conn, account, ts)
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(
        f"UPDATE engine_accounts SET {sets}, updated_at = ? WHERE account = ?",  # noqa: S608 - names checked above
        (*values.values(), ts, account),
    )


# -- marks ------------------------------------------------------------------------------------


def save_marks(
    conn: sqlite3.Connection, account: str, day: str, prices: Mapping[str, float]
) -> None:
    """Replace the account's last prices of its holdings."""
    conn.execute("DELETE FROM marks WHERE account = ?", (account,))
    conn.executemany(
        "INSERT INTO marks (account, symbol, day, price) VALUES (?, ?, ?, ?)",
        [(account, s, day, float(p)) for s, p in prices.items() if p == p],
    )
