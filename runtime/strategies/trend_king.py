"""Trend King (AEGIS seed): regime filter plus risk-adjusted momentum ranking.

ATTACK: hold the top N of the universe by 6-month return over 20-day
volatility, weighted by inverse volatility and capped per name. A holding stays
while it ranks within ``exit_rank`` (rank hysteresis), so a name that slips from
5th to 6th is not sold and bought back the next day. Only names with positive
momentum are held: a falling market inside ATTACK leaves cash.

DEFENSE: equal weights in the configured defensive assets, or cash.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from invest.runtime.config import TrendKingParams
from invest.runtime.domain import AccountState, Proposal, Regime
from invest.runtime.market import Market
from invest.runtime.regime import ATTACK
from invest.runtime.regime_hmm import hmm_regime


class TrendKing:
    """The trend_king strategy for one account."""

    name = "trend_king"

    def __init__(self, params: TrendKingParams, universe: tuple[str, ...], benchmark: str) -> None:
        self.p = params
        self.universe = universe
        self.index_symbol = params.regime_symbol or benchmark
        self.exit_rank = params.exit_rank or 2 * params.top_n

    def prepare(self, market: Market) -> None:
        """Precompute regime, momentum scores and volatilities over the whole market."""
        p = self.p
        self._m = market
        self._u = np.array([market.col[s] for s in self.universe])
        self._d = np.array([market.col[s] for s in p.defensive], dtype=int)
        ix = market.col[self.index_symbol]
        self._regime, self._sma = market.regime(self.index_symbol, p.sma_window, p.hysteresis)
        self._hmm_p: list[float] | None = None
        if p.regime_model == "hmm":
            self._regime, hmm_p = hmm_regime(market, self.index_symbol, p.hmm_params)
            self._hmm_p = hmm_p.tolist()
        mom = market.momentum(p.momentum_days)
        vol = market.volatility(p.vol_days)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(vol > 0, mom / vol, np.nan)
        # The universe is usually a run of adjacent columns: a slice reads the shared
        # arrays in place, where an index list would copy each whole grid.
        u = self._u
        cols = slice(int(u[0]), int(u[-1]) + 1) if len(u) and (np.diff(u) == 1).all() else u
        self._vol = vol[:, cols]
        score = score[:, cols]
        # Rank every row once, vectorised: eligible names (usable bar, finite score,
        # positive momentum) first, by descending score; ties keep universe order.
        ok = market.usable[:, cols] & np.isfinite(score) & (mom[:, cols] > 0)
        order = np.argsort(np.where(ok, -score, np.inf), axis=1, kind="stable")
        self._order = order.astype(np.int32)  # half the memory of argsort's int64
        del order
        self._count = ok.sum(axis=1)
        self._score = np.round(score, 4)
        self._ix = ix
        # Per-row reads as Python lists (one C-level conversion each): propose reads
        # single cells, which costs a numpy scalar apiece otherwise.
        self._attack: list[bool] = (self._regime == ATTACK).tolist()
        self._index_close: list[float] = market.close[:, ix].tolist()
        self._sma_list: list[float] = self._sma.tolist()
        self._count_list: list[int] = self._count.tolist()

    def propose(self, t: int, state: AccountState) -> Proposal:
        """Target weights at row ``t``."""
        notes: tuple[str, ...] = (
            f"{self.index_symbol} {self._index_close[t]:.2f} vs SMA{self.p.sma_window} "
            f"{self._sma_list[t]:.2f}",
        )
        if self._hmm_p is not None:
            notes = (*notes, f"HMM P(attack) {self._hmm_p[t]:.2f}")
        if not self._attack[t]:
            return Proposal(self._defense_targets(t), Regime.DEFENSE, {}, notes)
        ranked: list[int] = self._order[t, : self._count_list[t]].tolist()
        names = [self.universe[j] for j in ranked]
        # Holdings still ranked within exit_rank stay (best first), then the best new names.
        keep = [
            j for j, s in zip(ranked[: self.exit_rank], names, strict=False) if s in state.positions
        ]
        picks = keep[: self.p.top_n]
        for j in ranked:
            if len(picks) >= self.p.top_n:
                break
            if j not in picks:
                picks.append(j)
        targets = self._inverse_vol(t, picks)
        scores = dict(zip(names, self._score[t, ranked].tolist(), strict=True))
        return Proposal(targets, Regime.ATTACK, scores, notes)

    def _inverse_vol(self, t: int, picks: list[int]) -> dict[str, float]:
        if not picks:
            return {}
        if len(picks) >= 8:  # numpy sums 8 or more pairwise: keep its exact sum
            inv: npt.NDArray[np.float64] = 1.0 / self._vol[t, picks]
            w = np.minimum(inv / inv.sum(), self.p.max_weight)  # capped weight stays in cash
            return {self.universe[j]: float(x) for j, x in zip(picks, w, strict=True)}
        # Fewer than 8: numpy adds them in order, as sum() does; plain floats are faster.
        invs = [1.0 / v for v in self._vol[t, picks].tolist()]
        total, cap = sum(invs), self.p.max_weight
        return {self.universe[j]: min(x / total, cap) for j, x in zip(picks, invs, strict=True)}

    def _defense_targets(self, t: int) -> dict[str, float]:
        ok = [int(j) for j in self._d if self._m.usable[t, j]]
        if not ok:
            return {}
        w = min(1.0 / len(ok), self.p.max_weight)
        return {self._m.symbols[j]: w for j in ok}
