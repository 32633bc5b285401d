"""LSTM states in the ledger: table ``lstm_state`` (migration 2), rows as stored.

One row per (account, symbol, policy, session): the pack's hash and the hidden and
cell state as little-endian float32 blobs (None: a reset marker). The policy's
:class:`~invest.runtime.policy.state.LedgerStateStore` packs and unpacks the arrays;
this module only moves rows, in the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from invest.runtime.errors import LedgerError

__all__ = ["StateRow", "latest_states", "save_states"]

#: (account, symbol, pack_sha, policy, h, c, day) as stored.
StateRow = tuple[str, str, str, int, bytes | None, bytes | None, str]


def latest_states(
    conn: sqlite3.Connection, account: str, before: str
) -> list[tuple[str, int, str, bytes, bytes]]:
    """(symbol, policy, pack_sha, h, c) of each symbol's latest session strictly before ``before``.

    Raises:
        LedgerError: the ledger has no ``lstm_state`` table (schema too old).
    """
    try:
        return list(
            conn.execute(
                "SELECT symbol, policy, pack_sha, h, c FROM lstm_state AS s "
                "WHERE account = ? AND day = (SELECT MAX(day) FROM lstm_state "
                "WHERE account = s.account AND symbol = s.symbol AND day < ?)",
                (account, before),
            ).fetchall()
        )
    except sqlite3.OperationalError as e:
        raise _ledger_error(e) from e


def save_states(
    conn: sqlite3.Connection,
    account: str,
    day: str,
    symbols: Iterable[str],
    rows: Iterable[StateRow],
) -> None:
    """Write the rows of session ``day``, then keep two sessions per symbol of ``symbols``.

    The two kept are the one just saved and the input of its step (the latest before
    ``day``), so a same-day rerun steps from the same input.

    Raises:
        LedgerError: the ledger has no ``lstm_state`` table (schema too old).
    """
    syms = [(account, s, account, s, day) for s in symbols]
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO lstm_state "
            "(account, symbol, pack_sha, policy, h, c, day) VALUES (?,?,?,?,?,?,?)",
            list(rows),
        )
        conn.executemany(
            "DELETE FROM lstm_state WHERE account = ? AND symbol = ? AND day < "
            "(SELECT MAX(day) FROM lstm_state WHERE account = ? AND symbol = ? AND day < ?)",
            syms,
        )
    except sqlite3.OperationalError as e:
        raise _ledger_error(e) from e


def _ledger_error(e: sqlite3.OperationalError) -> LedgerError:
    if "no such table" in str(e):
        return LedgerError(
            "the ledger has no lstm_state table: its schema is older than this appliance "
            "(open it once with the engine or `invest run` to migrate)"
        )
    return LedgerError(f"cannot read or write LSTM states in the ledger: {e}")
