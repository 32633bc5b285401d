"""Observations for the policies at one row of a Market (spec in ``contract``).

The features of every symbol and of the market index are computed once per
Market and memoised on it; each cycle gathers row ``t``, adds the account's
weights and cash, and applies the pack's frozen normalisation. The same
:func:`~invest.runtime.policy.contract.raw_observations` builds the trainer's
observations, so both sides see the same numbers.

A pack that declares a market context block (``observation.context``) gets the
context columns of :func:`context_block`, built once per Market from
:func:`~invest.runtime.context.context_table` (the ``[context]`` section's source, each
series lagged one session); the trainer calls the same function. A series unknown on a
row gives 0 with its flag off, never an error, and a note that says so
(:attr:`Observation.notes`). A pack without the block reads no context at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from invest.runtime.config.context import ContextConfig
from invest.runtime.context import SERIES, ContextTable, context_table
from invest.runtime.domain import AccountState
from invest.runtime.market import Market
from invest.runtime.policy.contract import (
    CONTEXT_WINDOW,
    OBS_DIM,
    Normaliser,
    check_context,
    context_features,
    raw_observations,
)

__all__ = ["OBS_DIM", "Observation", "Observer", "book_weights", "context_block", "context_notes"]

_COLUMN = {spec.key: j for j, spec in enumerate(SERIES)}


@dataclass(frozen=True, slots=True)
class Observation:
    """A batch of observations at one row.

    Attributes:
        obs: ``(B, OBS_DIM)`` float32, normalised.
        usable: ``(B,)`` True where the symbol has a usable bar at this row; the
            others must not be stepped (their state is reset next time).
        weights: ``(B,)`` each symbol's weight in the book at this row.
        notes: one line per declared context series unknown at this row (empty for a
            pack without a context block).
    """

    obs: npt.NDArray[np.float32]
    usable: npt.NDArray[np.bool_]
    weights: npt.NDArray[np.float64]
    notes: tuple[str, ...] = ()


class Observer:
    """Builds observation batches for a fixed list of symbols of one Market.

    Args:
        market: the data.
        symbols: the universe, the batch order.
        index_symbol: the market index whose features every symbol sees.
        normaliser: the pack's frozen statistics (its ``context`` is the declared block).
        context: the ``[context]`` section: where the context series come from (read
            only when the pack declares a context block).
    """

    def __init__(
        self,
        market: Market,
        symbols: Sequence[str],
        index_symbol: str,
        normaliser: Normaliser,
        context: ContextConfig | None = None,
    ) -> None:
        self.market = market
        self.symbols = tuple(symbols)
        self.norm = normaliser
        self._cols = np.array([market.col[s] for s in self.symbols], dtype=np.intp)
        self._ix = market.col[index_symbol]
        self._features = market.features().values  # memoised on the Market (closes only)
        self._table: ContextTable | None = None
        self._context: npt.NDArray[np.float64] | None = None
        if normaliser.context:
            self._table = context_table(market, context)
            self._context = context_block(self._table, normaliser.context)

    def observe(self, t: int, state: AccountState) -> Observation:
        """Observations of every symbol at row ``t`` given the account's book."""
        usable = np.asarray(self.market.usable[t, self._cols], dtype=np.bool_)
        weights, cash = book_weights(self.market, t, self.symbols, state)
        raw = raw_observations(
            self._features[t, self._cols].astype(np.float64),
            usable,
            self._features[t, self._ix].astype(np.float64),
            weights,
            cash,
            None if self._context is None else self._context[t],
        )
        notes: tuple[str, ...] = ()
        if self._table is not None and self._context is not None:
            notes = context_notes(self._table, self.norm.context, self._context, t)
        return Observation(self.norm.apply(raw), usable, weights, notes)


def context_block(table: ContextTable, context: Sequence[str]) -> npt.NDArray[np.float64]:
    """The context block of every row of ``table`` for the declared series ``context``.

    The one builder of those columns: the runtime's :class:`Observer` and the trainer's
    dataset both call it (see :func:`~invest.runtime.policy.contract.context_features`).
    """
    keys = check_context(context)
    return context_features(table.values[:, [_COLUMN[k] for k in keys]], keys)


def context_notes(
    table: ContextTable,
    context: Sequence[str],
    block: npt.NDArray[np.float64],
    t: int,
) -> tuple[str, ...]:
    """One line per declared series whose value is unknown at row ``t`` (input 0, flag off)."""
    missing = [j for j in range(len(context)) if not block[t, 2 * j + 1]]
    if not missing:
        return ()
    readings = {spec.key: r for spec, r in zip(SERIES, table.at(t).readings(), strict=True)}
    out = []
    for j in missing:
        r = readings[context[j]]
        why = (
            r.text()
            if not r.known
            else f"{r.label} {CONTEXT_WINDOW}-session change: no close {CONTEXT_WINDOW} "
            f"sessions before ({r.text()})"
        )
        out.append(f"RL context: {why}; the policies see 0 with its known flag off")
    return tuple(out)


def book_weights(
    market: Market, t: int, symbols: Sequence[str], state: AccountState
) -> tuple[npt.NDArray[np.float64], float]:
    """Each symbol's value over equity, and cash over equity, marked at row ``t``."""
    weights = np.zeros(len(symbols), dtype=np.float64)
    if not state.positions:
        return weights, 1.0
    marks = market.marks(state.positions, t)
    equity = state.equity(marks)
    if equity <= 0:
        return weights, 0.0
    index = {s: i for i, s in enumerate(symbols)}
    for sym, pos in state.positions.items():
        i = index.get(sym)
        if i is not None:
            weights[i] = float(pos.quantity) * marks.get(sym, float(pos.avg_cost)) / equity
    return weights, float(state.cash) / equity
