"""rl_ensemble: the model pack's recurrent policies decide the book.

At each cycle every policy steps once for all universe symbols (each with its own
LSTM state, carried between cycles by the state store). Per symbol, the ensemble's
mean probabilities give an *expected target level* (``OUT`` 0, ``EQUAL`` 1, ``OVER``
2 equal-weight slots; see :mod:`~invest.runtime.policy.contract`). The weights are
exactly the trainer's (:func:`~invest.runtime.policy.contract.level_weights`):
level / N, capped at ``max_weight``; the risk engine then applies the profile's cap
and cash reserve, as the training environment did. A symbol without a usable bar
keeps its current weight (the risk engine would not trade it anyway). With
``top_n``, only the names with the highest levels are held.

The regime (index against its long average) is recorded in the proposal but does
not gate: the policies see the index themselves.

The policies step once per *cycle*, and the backtester and the engine call
``propose`` only on scheduled sessions: a weekly account's policies see weekly
steps. They are trained on daily steps, so give rl_ensemble accounts a daily
schedule (``0 16 * * mon-fri``, the default).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from invest.runtime.config.context import ContextConfig
from invest.runtime.config.rl import RLParams
from invest.runtime.domain import AccountState, Proposal
from invest.runtime.market import Market
from invest.runtime.policy.contract import level_weights
from invest.runtime.policy.ensemble import Ensemble, as_ensemble
from invest.runtime.policy.pack import Pack
from invest.runtime.policy.signal import Decisions, PolicySignal
from invest.runtime.policy.state import StateStore
from invest.runtime.regime import label


class RLEnsemble:
    """The rl_ensemble strategy for one account.

    Args:
        params: RL parameters.
        universe: symbols it may hold (the batch the policies see).
        benchmark: regime index (recorded, not gating) unless ``regime_symbol`` is set;
            also the market index in the policies' observations.
        pack: a verified :class:`Pack` (run with onnxruntime) or any ``Ensemble``.
        state_store: where LSTM states live between cycles (the ledger when live).
        regime_symbol: index for the recorded regime; None uses ``benchmark``.
        sma_window: regime average length.
        hysteresis: regime band.
        context: the ``[context]`` section (read when the pack declares a context block).
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
        context: ContextConfig | None = None,
    ) -> None:
        self.p = params
        self.universe = universe
        self.index_symbol = regime_symbol or benchmark
        self.sma_window = sma_window
        self.hysteresis = hysteresis
        self.signal = PolicySignal(
            as_ensemble(pack), universe, state_store, self.index_symbol, context=context
        )

    def prepare(self, market: Market) -> None:
        """Features and regime over the whole market (memoised on it)."""
        self._m = market
        self.signal.prepare(market)
        self._ix = market.col[self.index_symbol]
        self._regime, self._sma = market.regime(self.index_symbol, self.sma_window, self.hysteresis)

    def propose(self, t: int, state: AccountState) -> Proposal:
        """Step the policies once at row ``t`` and turn their expected levels into weights."""
        d = self.signal.decide(t, state)
        levels = self.levels(d)
        weights = level_weights(levels, 1.0, self.p.max_weight)
        # Dust: a level of a few hundredths is "out" with a little doubt, not a position.
        targets = {
            s: float(w)
            for s, w in zip(self.universe, weights, strict=True)
            if w >= self.p.min_weight
        }
        scores = {
            s: round(float(lv), 4)
            for s, lv in sorted(zip(self.universe, levels, strict=True), key=lambda kv: -kv[1])
        }
        e = self.signal.ensemble
        notes = (
            f"{self.index_symbol} {float(self._m.close[t, self._ix]):.2f} vs "
            f"SMA{self.sma_window} {self._sma[t]:.2f} (recorded, not gating)",
            f"RL pack {e.name} ({e.sha[:12]}): {e.n_policies} policies, mean probabilities; "
            "score = expected target level (1 = an equal-weight slot)",
            *d.notes,
        )
        return Proposal(targets, label(int(self._regime[t])), scores, notes, {"rl": d.record()})

    def levels(self, d: Decisions) -> npt.NDArray[np.float64]:
        """Each universe symbol's target level: the ensemble's, or its current one when not run."""
        n = len(self.universe)
        out = np.array(
            [
                v.level if v.ran else d.weights[j] * n
                for j, v in enumerate(d.votes[s] for s in self.universe)
            ],
            dtype=np.float64,
        )
        if self.p.top_n is not None and self.p.top_n < n:
            drop = np.argsort(-out, kind="stable")[self.p.top_n :]
            out[drop] = 0.0
        return out
