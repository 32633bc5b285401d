"""Trend King (AEGIS seed): regime filter plus risk-adjusted momentum ranking.

ATTACK: hold the top N of the universe by 6-month return over 20-day
volatility, weighted by inverse volatility and capped per name. A holding stays
while it ranks within ``exit_rank`` (rank hysteresis), so a name that slips from
5th to 6th is not sold and bought back the next day. Only names with positive
momentum are held: a falling market inside ATTACK leaves cash.

DEFENSE: equal weights in the configured defensive assets, or cash.

With a dynamic universe (``AccountConfig.dynamic_universe``) the universe is the
candidate list and only the names in the period's selection (:mod:`..universe`) are
ranked: a holding that drops out is no longer a target, and the risk engine sells it
as any other rotation. The proposal notes name the universe when it changes.

The optional VIX filter (``vix_filter``) adds a second regime: DEFENSE while the
VIX, lagged one session (:mod:`invest.runtime.context`), is above ``enter`` until it
is below ``exit``; ATTACK needs both. A day with no VIX leaves the SMA regime alone.

Construction (the account's ``portfolio.construction``): ``inverse_vol``, the default,
is the rule above, on its own code path (the golden trades depend on it bit for bit).
Any other method takes its weights from :func:`portfolio.construction.weights` on the
Ledoit-Wolf covariance of the picks' last ``portfolio.lookback`` daily returns (rows
``t - lookback .. t``: point in time), annualised by 252, with ``max_weight`` as the
per-name cap and ``min(1, max_weight x picks)`` as the invested budget (what
inverse_vol invests too: a cap that cannot be filled leaves cash). ``mean_variance``
takes the proposal's scores as the expected returns: a score (6-month return over
the 20-day daily vol) times ``sqrt(252) / momentum_days`` is an annual Sharpe ratio
estimate, times the name's annual vol from the covariance an annual return, in the
covariance's units. When the covariance cannot be estimated (fewer than
``lookback + 1`` rows, a missing or non-positive close in a pick's window) or the
solver fails, the picks get the inverse_vol weights and the proposal's notes say
"fell back to inverse_vol" and why.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from invest.runtime.config import TrendKingParams
from invest.runtime.config.context import ContextConfig
from invest.runtime.config.portfolio import PortfolioConfig
from invest.runtime.config.universe import DynamicUniverseConfig
from invest.runtime.context import context_table
from invest.runtime.domain import AccountState, Proposal, Regime
from invest.runtime.errors import ConfigError, DataError
from invest.runtime.market import Market
from invest.runtime.portfolio.construction import ledoit_wolf, trailing_returns, weights
from invest.runtime.regime import ATTACK, threshold_alarm
from invest.runtime.regime_hmm import hmm_regime
from invest.runtime.universe import Selection, UniverseNotes, selection

YEAR = 252


class TrendKing:
    """The trend_king strategy for one account."""

    name = "trend_king"

    def __init__(
        self,
        params: TrendKingParams,
        universe: tuple[str, ...],
        benchmark: str,
        *,
        dynamic: DynamicUniverseConfig | None = None,
        context: ContextConfig | None = None,
        portfolio: PortfolioConfig | None = None,
    ) -> None:
        self.p = params
        self.context = context
        self.portfolio = portfolio or PortfolioConfig()
        #: inverse_vol keeps its own code path (and the golden trades) bit for bit.
        self._construct = self.portfolio.construction != "inverse_vol"
        self.universe = universe
        self.index_symbol = params.regime_symbol or benchmark
        self.exit_rank = params.exit_rank or 2 * params.top_n
        self.dynamic = dynamic
        self._sel: Selection | None = None
        self._notes = UniverseNotes()

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
        if self.dynamic is not None:  # only the period's universe is ranked
            self._sel = selection(market, self.universe, self.dynamic)
            ok &= self._sel.mask
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
        self._vix_notes: list[str] | None = None
        if p.vix_filter is not None:
            self._vix_filter(market)

    def _vix_filter(self, market: Market) -> None:
        """AND the SMA regime with the VIX alarm (whole market at once; causal)."""
        f = self.p.vix_filter
        assert f is not None
        table = context_table(market, self.context)
        vix = table.column("vix")
        alarm = threshold_alarm(vix, f.enter, f.exit)
        known = ~np.isnan(vix)
        # Where the VIX is unknown the filter does not act (its state carries over).
        self._attack = ((self._regime == ATTACK) & ~(alarm & known)).tolist()
        asof = table.asof[:, 0].astype(str).tolist()
        self._vix_notes = [
            f"VIX {v:.1f} ({d} close): filter {'DEFENSE' if a else 'off'} "
            f"(enter {f.enter:g}, exit {f.exit:g})"
            if k
            else "VIX filter: no VIX for this day"
            for v, d, a, k in zip(vix.tolist(), asof, alarm.tolist(), known.tolist(), strict=True)
        ]

    def propose(self, t: int, state: AccountState) -> Proposal:
        """Target weights at row ``t``."""
        notes: tuple[str, ...] = (
            f"{self.index_symbol} {self._index_close[t]:.2f} vs SMA{self.p.sma_window} "
            f"{self._sma_list[t]:.2f}",
        )
        if self._sel is not None:
            notes += self._notes.at(self._sel, t)
        if self._vix_notes is not None:
            notes = (*notes, self._vix_notes[t])
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
        if self._construct:
            targets, why = self._constructed(t, picks)
            if why:
                notes = (*notes, why)
        else:
            targets = self._inverse_vol(t, picks)
        scores = dict(zip(names, self._score[t, ranked].tolist(), strict=True))
        return Proposal(targets, Regime.ATTACK, scores, notes)

    def _constructed(self, t: int, picks: list[int]) -> tuple[dict[str, float], str | None]:
        """The picks' weights by the configured construction, or inverse_vol and the reason."""
        if not picks:
            return {}, None
        cfg, cap = self.portfolio, self.p.max_weight
        lb = cfg.lookback
        budget = min(1.0, cap * len(picks))
        try:
            if t < lb:
                raise DataError(f"{lb} sessions of returns need {lb + 1} rows, there are {t + 1}")
            window = self._m.close[t - lb : t + 1, self._u[picks]]  # rows <= t only
            cov = ledoit_wolf(trailing_returns(window, lb, lb))[0] * YEAR
            mu: npt.NDArray[np.float64] | None = None
            if cfg.construction == "mean_variance":
                sharpe = self._score[t, picks] * (math.sqrt(YEAR) / self.p.momentum_days)
                mu = np.asarray(sharpe * np.sqrt(np.diag(cov)), dtype=np.float64)
            w = weights(
                cfg.construction,
                cov,
                scores=mu,
                cap=cap,
                cash_reserve=1.0 - budget,
                risk_aversion=cfg.risk_aversion,
            )
        except (DataError, ConfigError) as e:  # the data, not the config: say so, go on
            why = f"{cfg.construction} fell back to inverse_vol: {e}"
            return self._inverse_vol(t, picks), why
        return {self.universe[j]: float(x) for j, x in zip(picks, w, strict=True)}, None

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
