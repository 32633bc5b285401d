"""Observations for the policies, per ``docs/model-pack.md``.

One row per symbol: the F features of :data:`~invest.runtime.features.FEATURE_NAMES`
at row ``t`` (NaN replaced by 0), then ``in_position``, ``unrealised`` (price over
average cost minus 1, clipped to [-1, 1]) and ``days_held`` (calendar days / 252,
clipped to [0, 1]). Features are computed once per Market and memoised on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from invest.runtime.domain import AccountState
from invest.runtime.features import FEATURE_NAMES
from invest.runtime.market import Market
from invest.runtime.policy.manifest import POSITION_FEATURES

#: Observation length: features then position state.
OBS_DIM = len(FEATURE_NAMES) + len(POSITION_FEATURES)
#: Days of holding that map to ``days_held = 1``.
DAYS_HELD_SCALE = 252.0


@dataclass(frozen=True, slots=True)
class Observation:
    """A batch of observations at one row.

    Attributes:
        obs: ``(B, OBS_DIM)`` float32.
        usable: ``(B,)`` True where the symbol has a usable bar at this row; the
            others must not be stepped (their state is reset next time).
    """

    obs: npt.NDArray[np.float32]
    usable: npt.NDArray[np.bool_]


class Observer:
    """Builds observation batches for a fixed list of symbols of one Market."""

    def __init__(self, market: Market, symbols: Sequence[str]) -> None:
        self.market = market
        self.symbols = tuple(symbols)
        self._cols = np.array([market.col[s] for s in self.symbols], dtype=np.intp)
        self._features = market.features()  # memoised on the Market (closes only)

    def observe(self, t: int, state: AccountState) -> Observation:
        """Observations of every symbol at row ``t`` given the account's positions."""
        n_feat = len(FEATURE_NAMES)
        obs = np.zeros((len(self.symbols), OBS_DIM), dtype=np.float32)
        feats = self._features.values[t, self._cols]
        obs[:, :n_feat] = np.nan_to_num(feats, nan=0.0, posinf=0.0, neginf=0.0)
        obs[:, n_feat:] = position_features(self.market, t, self.symbols, state)
        usable = np.asarray(self.market.usable[t, self._cols], dtype=np.bool_)
        return Observation(obs, usable)


def position_features(
    market: Market, t: int, symbols: Sequence[str], state: AccountState
) -> npt.NDArray[np.float32]:
    """``(B, 3)``: in_position, unrealised and days_held of each symbol at row ``t``."""
    out = np.zeros((len(symbols), len(POSITION_FEATURES)), dtype=np.float32)
    day = market.day(t)
    for i, sym in enumerate(symbols):
        pos = state.positions.get(sym)
        if pos is None:
            continue
        out[i, 0] = 1.0
        price = market.price(sym, t)
        cost = float(pos.avg_cost)
        # Python's min/max on scalars: np.clip per symbol per cycle cost a tenth of an RL replay.
        if math.isfinite(price) and cost > 0:
            out[i, 1] = min(max(price / cost - 1.0, -1.0), 1.0)
        out[i, 2] = min(max((day - pos.opened).days / DAYS_HELD_SCALE, 0.0), 1.0)
    return out
