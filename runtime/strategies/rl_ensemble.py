"""rl_ensemble: the model pack's recurrent policies decide, by majority vote.

At each cycle every policy steps once for all universe symbols (each with its own
LSTM state, carried between cycles by the state store). Per symbol:

* BUY (vote share >= ``min_confidence``): hold it;
* HOLD (also a tie or low confidence, or no usable bar): keep what is held;
* SELL: target 0.

Holdings that are kept come first; new buys fill the remaining ``top_n`` slots by
confidence. Weights are equal or inverse-volatility, capped at ``max_weight`` (the
excess stays in cash); the risk engine then applies the hard rules. The regime (index
against its long average) is recorded in the proposal but does not gate.

The policies step once per *cycle*, and the backtester and the engine call ``propose``
only on scheduled sessions: a weekly account's policies see weekly steps. They are
trained on daily steps, so give rl_ensemble accounts a daily schedule
(``0 16 * * mon-fri``, the default).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from invest.runtime.domain import AccountState, Proposal
from invest.runtime.market import Market
from invest.runtime.policy.ensemble import Ensemble, as_ensemble
from invest.runtime.policy.pack import Pack
from invest.runtime.policy.params import RLParams
from invest.runtime.policy.signal import Decisions, PolicySignal
from invest.runtime.policy.state import StateStore
from invest.runtime.policy.vote import Action
from invest.runtime.regime import label


class RLEnsemble:
    """The rl_ensemble strategy for one account.

    Args:
        params: RL parameters.
        universe: symbols it may hold (the batch the policies see).
        benchmark: regime index (recorded, not gating) unless ``regime_symbol`` is set.
        pack: a verified :class:`Pack` (run with onnxruntime) or any ``Ensemble``.
        state_store: where LSTM states live between cycles (the ledger when live).
        regime_symbol: index for the recorded regime; None uses ``benchmark``.
        sma_window: regime average length.
        hysteresis: regime band.
    """

    name = "rl_ensemble"

    def __init__(
        self,
        params: RLParams,
        universe: tuple[str, ...],
        benchmark: str,
        pack: Pack | Ensemble,
        state_store: StateStore,
        *,
        regime_symbol: str | None = None,
        sma_window: int = 200,
        hysteresis: float = 0.02,
    ) -> None:
        self.p = params
        self.universe = universe
        self.index_symbol = regime_symbol or benchmark
        self.sma_window = sma_window
        self.hysteresis = hysteresis
        self.signal = PolicySignal(as_ensemble(pack), universe, state_store, params.min_confidence)

    def prepare(self, market: Market) -> None:
        """Features, regime and volatilities over the whole market (memoised on it)."""
        self._m = market
        self.signal.prepare(market)
        ix = market.col[self.index_symbol]
        self._ix = ix
        self._regime, self._sma = market.regime(self.index_symbol, self.sma_window, self.hysteresis)
        vol = market.volatility(self.p.vol_days)
        self._vol = vol[:, [market.col[s] for s in self.universe]]

    def propose(self, t: int, state: AccountState) -> Proposal:
        """Step the policies once at row ``t`` and turn their votes into target weights."""
        d = self.signal.decide(t, state)
        picks = self._picks(d, state)
        scores = {
            s: round(v.share(Action.BUY) - v.share(Action.SELL), 4) for s, v in d.votes.items()
        }
        scores = dict(sorted(scores.items(), key=lambda kv: -kv[1]))
        e = self.signal.ensemble
        notes = (
            f"{self.index_symbol} {float(self._m.close[t, self._ix]):.2f} vs "
            f"SMA{self.sma_window} {self._sma[t]:.2f} (recorded, not gating)",
            f"RL pack {e.name} ({e.sha[:12]}): {e.n_policies} policies, "
            f"min confidence {self.p.min_confidence:.0%}",
        )
        return Proposal(
            self._weights(t, picks),
            label(int(self._regime[t])),
            scores,
            notes,
            {"rl": d.record()},
        )

    def _picks(self, d: Decisions, state: AccountState) -> list[int]:
        kept, fresh = [], []
        for j, sym in enumerate(self.universe):
            action = d.votes[sym].action
            if sym in state.positions and action is not Action.SELL:
                kept.append(j)
            elif sym not in state.positions and action is Action.BUY:
                fresh.append(j)
        fresh.sort(key=lambda j: -d.votes[self.universe[j]].confidence)  # stable: universe order
        room = len(fresh) if self.p.top_n is None else max(self.p.top_n - len(kept), 0)
        return kept + fresh[:room]

    def _weights(self, t: int, picks: list[int]) -> dict[str, float]:
        if not picks:
            return {}
        w: npt.NDArray[np.float64] = np.full(len(picks), 1.0 / len(picks))
        if self.p.weighting == "inverse_vol":
            vol = self._vol[t, picks]
            ok = np.isfinite(vol) & (vol > 0)
            if ok.any():
                inv = np.where(ok, 1.0 / np.where(ok, vol, 1.0), 0.0)
                inv[~ok] = inv[ok].mean()  # no volatility (gap): the average weight
                w = inv / inv.sum()
        w = np.minimum(w, self.p.max_weight)
        return {self.universe[j]: float(x) for j, x in zip(picks, w, strict=True)}
