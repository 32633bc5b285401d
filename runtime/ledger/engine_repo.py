"""Ledger queries of the engine and of its readers (``invest status``, the control service).

Plain functions over a :class:`sqlite3.Connection`, so that a reader can use a
read-only connection without importing sqlite-utils (``invest status`` runs as a
Docker HEALTHCHECK and must start fast), and the engine passes ``Ledger.db.conn``
inside its own transactions. Writes never commit: the caller's transaction does.

The engine tables arrive with migration 3; on an older ledger the readers answer
with defaults (ACTIVE, no heartbeat) instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from invest.runtime.domain import HaltState, Side
from invest.runtime.errors import LedgerError

__all__ = [
    "ENGINE_SCHEMA",
    "EngineAccount",
    "Heartbeat",
    "account_halt",
    "beat",
    "connect_readonly",
    "decisions",
    "engine_account",
    "engine_halt",
    "ensure_engine_account",
    "equity_rows",
    "fill_totals",
    "halt_reason",
    "has_engine_tables",
    "heartbeat",
    "mark_stopped",
    "marks",
    "order_rows",
    "positions",
    "recent_fills",
    "save_marks",
    "set_engine_halt",
    "update_engine_account",
]

#: The schema version (``PRAGMA user_version``) that adds the engine tables.
ENGINE_SCHEMA = 3
_COUNTERS = ("errors", "data_outages", "broker_outages")


def connect_readonly(path: Path) -> sqlite3.Connection:
    """Open the ledger read-only (WAL readers never block the engine).

    Raises:
        LedgerError: there is no ledger at ``path`` or it cannot be opened.
    """
    if not path.exists():
        raise LedgerError(f"no ledger at {path}: start the engine (or run `invest demo`)")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        conn.row_factory = sqlite3.Row
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error as e:
        raise LedgerError(f"cannot open ledger {path}: {e}") from e
    return conn


def has_engine_tables(conn: sqlite3.Connection) -> bool:
    """True when the ledger's schema has the engine tables."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0]) >= ENGINE_SCHEMA


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


# -- marks, positions, fills, equity, decisions ----------------------------------------------


def save_marks(
    conn: sqlite3.Connection, account: str, day: str, prices: Mapping[str, float]
) -> None:
    """Replace the account's last prices of its holdings."""
    conn.execute("DELETE FROM marks WHERE account = ?", (account,))
    conn.executemany(
        "INSERT INTO marks (account, symbol, day, price) VALUES (?, ?, ?, ?)",
        [(account, s, day, float(p)) for s, p in prices.items() if p == p],
    )


def marks(conn: sqlite3.Connection, account: str) -> dict[str, float]:
    """The account's last prices by symbol (empty on an older ledger)."""
    if not has_engine_tables(conn):
        return {}
    rows = conn.execute("SELECT symbol, price FROM marks WHERE account = ?", (account,))
    return {str(r[0]): float(r[1]) for r in rows}


def positions(conn: sqlite3.Connection, account: str) -> list[dict[str, Any]]:
    """The account's holdings with their last price, value and unrealised P&L."""
    last = marks(conn, account)
    out = []
    for sym, qty, cost, opened in conn.execute(
        "SELECT symbol, quantity, avg_cost, opened FROM positions WHERE account = ? ORDER BY symbol",
        (account,),
    ):
        q, c = float(qty), float(cost)
        price = last.get(sym, c)
        out.append(
            {
                "symbol": sym,
                "quantity": qty,
                "avg_cost": round(c, 4),
                "price": round(price, 4),
                "value": round(q * price, 2),
                "unrealised": round(q * (price - c), 2),
                "opened": opened,
            }
        )
    return out


def fill_totals(conn: sqlite3.Connection, account: str) -> dict[str, Decimal]:
    """Quantity held per symbol according to the fills (buys minus sells); zeros left out."""
    total: dict[str, Decimal] = {}
    for sym, side, qty in conn.execute(
        "SELECT symbol, side, quantity FROM fills WHERE account = ? ORDER BY id", (account,)
    ):
        q = Decimal(qty)
        total[sym] = total.get(sym, Decimal(0)) + (q if side == Side.BUY.value else -q)
    return {s: q for s, q in total.items() if q != 0}


def recent_fills(conn: sqlite3.Connection, account: str | None, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` fills (of one account or all), newest first."""
    where, args = ("WHERE account = ?", (account,)) if account else ("", ())
    cols = "account, day, symbol, side, quantity, price, fees, reason, client_order_id"
    sql = f"SELECT {cols} FROM fills {where} ORDER BY id DESC LIMIT ?"  # noqa: S608 - fixed fragments
    rows = conn.execute(sql, (*args, limit))
    keys = (
        "account",
        "day",
        "symbol",
        "side",
        "quantity",
        "price",
        "fees",
        "reason",
        "client_order_id",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def equity_rows(
    conn: sqlite3.Connection, account: str, limit: int = 2
) -> list[tuple[str, float, float]]:
    """The last ``limit`` (day, equity, cash) rows of the account, newest first."""
    return [
        (str(r[0]), float(r[1]), float(r[2]))
        for r in conn.execute(
            "SELECT day, equity, cash FROM equity WHERE account = ? ORDER BY day DESC LIMIT ?",
            (account, limit),
        )
    ]


def decisions(conn: sqlite3.Connection, account: str | None, limit: int) -> list[dict[str, Any]]:
    """The latest explanation records (of one account or all), newest first."""
    where, args = ("WHERE account = ?", (account,)) if account else ("", ())
    rows = conn.execute(
        f"SELECT record_json FROM decisions {where} ORDER BY day DESC, id DESC LIMIT ?",  # noqa: S608
        (*args, limit),
    )
    return [json.loads(r[0]) for r in rows]


def order_rows(conn: sqlite3.Connection, account: str) -> dict[str, dict[str, Any]]:
    """Every order of the account by client order id: status, symbol, side, quantity, day."""
    rows = conn.execute(
        "SELECT client_order_id, status, symbol, side, quantity, day, cycle_id FROM orders "
        "WHERE account = ?",
        (account,),
    )
    keys = ("status", "symbol", "side", "quantity", "day", "cycle_id")
    return {str(r[0]): dict(zip(keys, r[1:], strict=True)) for r in rows}


def ledger_path_ok(path: Path) -> bool:
    """True when ``path`` is a ledger whose integrity check passes (read-only)."""
    with closing(connect_readonly(path)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"
