"""Observations for the policies at one row of a Market (spec in ``contract``).

The features of every symbol and of the market index are computed once per
Market and memoised on it; each cycle gathers row ``t``, adds the account's
weights and cash, and applies the pack's frozen normalisation. The same
:func:`~invest.runtime.policy.contract.raw_observations` builds the trainer's
observations, so both sides see the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from invest.runtime.domain import AccountState
from invest.runtime.market import Market
from invest.runtime.policy.contract import OBS_DIM, Normaliser, raw_observations

__all__ = ["OBS_DIM", "Observation", "Observer", "book_weights"]


@dataclass(frozen=True, slots=True)
class Observation:
    """A batch of observations at one row.

    Attributes:
        obs: ``(B, OBS_DIM)`` float32, normalised.
        usable: ``(B,)`` True where the symbol has a usable bar at this row; the
            others must not be stepped (their state is reset next time).
        weights: ``(B,)`` each symbol's weight in the book at this row.
    """

    obs: npt.NDArray[np.float32]
    usable: npt.NDArray[np.bool_]
    weights: npt.NDArray[np.float64]


class Observer:
    """Builds observation batches for a fixed list of symbols of one Market.

    Args:
        market: the data.
        symbols: the universe, the batch order.
        index_symbol: the market index whose features every symbol sees.
        normaliser: the pack's frozen statistics.
    """

    def __init__(
        self,
        market: Market,
        symbols: Sequence[str],
        index_symbol: str,
        normaliser: Normaliser,
    ) -> None:
        self.market = market
        self.symbols = tuple(symbols)
        self.norm = normaliser
        self._cols = np.array([market.col[s] for s in self.symbols], dtype=np.intp)
        self._ix = market.col[index_symbol]
        self._features = market.features().values  # memoised on the Market (closes only)

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
        )
        return Observation(self.norm.apply(raw), usable, weights)


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
