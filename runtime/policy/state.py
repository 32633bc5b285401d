"""LSTM state of each (account, symbol, policy), carried from one cycle to the next.

A state is saved under the session that produced it. :meth:`StateStore.load` returns,
for each symbol, the latest state saved *strictly before* the session being decided,
so a cycle that runs twice on the same day (a retry, a manual ``invest run`` after
the engine's) steps from the same input and gets the same decision: the state
advances once per session. The store keeps the last two sessions per symbol.

A symbol has no state (and its policies start a new episode) when it was never
seen, when the state belongs to another pack, or when its last bar was unusable:
a data gap is saved as a reset marker (``None``).

:class:`MemoryStateStore` serves backtests; :class:`LedgerStateStore` persists in
the ledger table ``lstm_state`` (created by the ledger's migration 2; its rows are
read and written by :mod:`invest.runtime.ledger.lstm_state`), in the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from invest.runtime.ledger import lstm_state

Float32Array = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class StateSpec:
    """Which pack a state belongs to, and its shape."""

    pack_sha: str
    policies: int
    layers: int
    hidden: int


@dataclass(frozen=True, slots=True)
class LstmState:
    """One symbol's recurrent state for every policy of a pack.

    Attributes:
        h: hidden state, ``(policies, layers, hidden)`` float32.
        c: cell state, same shape.
    """

    h: Float32Array
    c: Float32Array


class StateStore(Protocol):
    """Where LSTM states live between cycles."""

    def load(
        self, account: str, spec: StateSpec, symbols: Sequence[str], before: str
    ) -> dict[str, LstmState]:
        """The latest state of each symbol saved before session ``before`` (ISO date).

        Symbols without a usable state (never seen, reset marker, another pack or
        shape) are left out: the caller starts a new episode for them.
        """
        ...

    def save(
        self, account: str, spec: StateSpec, day: str, states: Mapping[str, LstmState | None]
    ) -> None:
        """Save each symbol's state after the step of session ``day``; None is a reset marker."""
        ...


def _fits(state: LstmState, spec: StateSpec) -> bool:
    shape = (spec.policies, spec.layers, spec.hidden)
    return state.h.shape == shape and state.c.shape == shape


class MemoryStateStore:
    """States in a dict: backtests, and a non-writing overlay for dry runs.

    Args:
        base: read a symbol from here when this store has nothing for it (a dry run
            reads the ledger and writes only to memory).
    """

    def __init__(self, base: StateStore | None = None) -> None:
        self.base = base
        # (account, symbol) -> the last two (day, pack_sha, state or reset marker), by day.
        self._rows: dict[tuple[str, str], list[tuple[str, str, LstmState | None]]] = {}

    def load(
        self, account: str, spec: StateSpec, symbols: Sequence[str], before: str
    ) -> dict[str, LstmState]:
        """See :meth:`StateStore.load`."""
        out: dict[str, LstmState] = {}
        fallback = []
        for sym in symbols:
            rows = [r for r in self._rows.get((account, sym), ()) if r[0] < before]
            if not rows:
                fallback.append(sym)
                continue
            _, sha, state = rows[-1]
            if state is not None and sha == spec.pack_sha and _fits(state, spec):
                out[sym] = state
        if self.base is not None and fallback:
            out.update(self.base.load(account, spec, fallback, before))
        return out

    def save(
        self, account: str, spec: StateSpec, day: str, states: Mapping[str, LstmState | None]
    ) -> None:
        """See :meth:`StateStore.save`."""
        for sym, state in states.items():
            rows = [r for r in self._rows.get((account, sym), ()) if r[0] != day]
            rows.append((day, spec.pack_sha, state))
            rows.sort(key=lambda r: r[0])
            self._rows[(account, sym)] = rows[-2:]


class _HasConn(Protocol):
    conn: sqlite3.Connection


class LedgerStateStore:
    """States in the ledger's ``lstm_state`` table, written in the caller's transaction.

    Args:
        db: the ledger connection (``Ledger.conn``), or an object holding it as ``conn``
            (a sqlite-utils ``Database``).
    """

    def __init__(self, db: sqlite3.Connection | _HasConn) -> None:
        self.conn: sqlite3.Connection = db if isinstance(db, sqlite3.Connection) else db.conn

    def load(
        self, account: str, spec: StateSpec, symbols: Sequence[str], before: str
    ) -> dict[str, LstmState]:
        """See :meth:`StateStore.load`.

        Raises:
            LedgerError: the ledger has no ``lstm_state`` table (schema too old).
        """
        rows = lstm_state.latest_states(self.conn, account, before)
        wanted = set(symbols)
        size = spec.layers * spec.hidden * 4
        parts: dict[str, dict[int, tuple[bytes, bytes]]] = {}
        bad: set[str] = set()
        for sym, policy, sha, h, c in rows:
            if sym not in wanted or not 0 <= policy < spec.policies:
                continue
            if sha != spec.pack_sha or h is None or c is None or len(h) != size or len(c) != size:
                bad.add(sym)
            else:
                parts.setdefault(sym, {})[policy] = (h, c)
        out = {}
        shape = (spec.layers, spec.hidden)
        for sym, by_policy in parts.items():
            if sym in bad or len(by_policy) != spec.policies:
                continue
            blobs = [by_policy[i] for i in range(spec.policies)]
            out[sym] = LstmState(
                _unpack([b[0] for b in blobs], shape), _unpack([b[1] for b in blobs], shape)
            )
        return out

    def save(
        self, account: str, spec: StateSpec, day: str, states: Mapping[str, LstmState | None]
    ) -> None:
        """See :meth:`StateStore.save`. Keeps the input state of ``day`` for a same-day rerun.

        Raises:
            LedgerError: the ledger has no ``lstm_state`` table (schema too old).
        """
        lstm_state.save_states(
            self.conn, account, day, list(states), _rows(account, spec, day, states)
        )


def _rows(
    account: str, spec: StateSpec, day: str, states: Mapping[str, LstmState | None]
) -> Iterable[tuple[str, str, str, int, bytes | None, bytes | None, str]]:
    for sym, state in states.items():
        for i in range(spec.policies):
            if state is None:
                yield (account, sym, spec.pack_sha, i, None, None, day)
            else:
                h = np.ascontiguousarray(state.h[i], dtype="<f4").tobytes()
                c = np.ascontiguousarray(state.c[i], dtype="<f4").tobytes()
                yield (account, sym, spec.pack_sha, i, h, c, day)


def _unpack(blobs: list[bytes], shape: tuple[int, int]) -> Float32Array:
    """``(policies, layers, hidden)`` float32 from one little-endian blob per policy."""
    arrays = [np.frombuffer(b, dtype="<f4").reshape(shape) for b in blobs]
    return np.stack(arrays).astype(np.float32)
