"""hybrid: trend_king decides, the RL ensemble may veto.

Trend King's regime, ranking and weights (the :class:`TrendKing` object itself, not
a copy) make the proposal. The ensemble steps once per cycle for every universe
symbol, whatever the regime, so its LSTM states stay in step with the sessions.
A trend_king target is kept unless the ensemble's mean probability of ``OUT`` (the
policies' "hold none of it") is at least ``min_confidence``. A vetoed name's weight
stays in cash; names the ensemble does not step on (the defensive assets outside the
universe, or a symbol without a usable bar) are kept. With ``rl.shrink``, a kept pick
whose expected level is below one equal-weight slot is scaled by that level: the
ensemble may lower a rule's weight, never raise it.

The record holds both opinions: ``scores`` are trend_king's, ``extra["rl"]`` the
votes, and a note names each veto. As for rl_ensemble, the policies step once per
cycle: give hybrid accounts a daily schedule.
"""

from __future__ import annotations

from dataclasses import replace

from invest.runtime.config import TrendKingParams
from invest.runtime.config.context import ContextConfig
from invest.runtime.config.portfolio import PortfolioConfig
from invest.runtime.config.rl import RLParams
from invest.runtime.config.universe import DynamicUniverseConfig
from invest.runtime.domain import AccountState, Proposal
from invest.runtime.market import Market
from invest.runtime.policy.ensemble import Ensemble, as_ensemble
from invest.runtime.policy.pack import Pack
from invest.runtime.policy.signal import PolicySignal
from invest.runtime.policy.state import StateStore
from invest.runtime.strategies.trend_king import TrendKing


class Hybrid:
    """The hybrid strategy for one account.

    Args:
        trend_king: trend_king parameters (regime, ranking, top_n, weights).
        rl: RL parameters (pack, min_confidence).
        universe: symbols it may hold.
        benchmark: default regime index.
        pack: a verified :class:`Pack` or any ``Ensemble``.
        state_store: where LSTM states live between cycles.
        dynamic: the dynamic universe: trend_king ranks only its names, while the
            ensemble steps on every candidate (its LSTM states stay in step).
        context: the ``[context]`` section (trend_king's VIX filter reads it, and the
            policies' observations when the pack declares a context block).
        portfolio: how trend_king weights its picks (the account's construction).
    """

    name = "hybrid"

    def __init__(
        self,
        trend_king: TrendKingParams,
        rl: RLParams,
        universe: tuple[str, ...],
        benchmark: str,
        pack: Pack | Ensemble,
        state_store: StateStore,
        *,
        dynamic: DynamicUniverseConfig | None = None,
        context: ContextConfig | None = None,
        portfolio: PortfolioConfig | None = None,
    ) -> None:
        self.rules = TrendKing(
            trend_king, universe, benchmark, dynamic=dynamic, context=context, portfolio=portfolio
        )
        self.rl = rl
        index = trend_king.regime_symbol or benchmark
        self.signal = PolicySignal(as_ensemble(pack), universe, state_store, index, context=context)

    def prepare(self, market: Market) -> None:
        """Prepare trend_king and the ensemble's features for ``market``."""
        self.rules.prepare(market)
        self.signal.prepare(market)

    def propose(self, t: int, state: AccountState) -> Proposal:
        """Trend King's proposal at row ``t``, vetoed (and with ``rl.shrink``, sized) by the ensemble."""
        base = self.rules.propose(t, state)
        d = self.signal.decide(t, state)
        cut = self.rl.min_confidence
        targets: dict[str, float] = {}
        notes: list[str] = []
        for s, w in base.targets.items():
            v = d.votes.get(s)
            if v is None or not v.ran:  # not in the universe, or no usable bar: kept
                targets[s] = w
            elif v.p_out >= cut:
                notes.append(
                    f"RL veto {s}: P(OUT) {v.p_out:.0%} >= {cut:.0%} "
                    f"(mean of {len(v.votes)} policies)"
                )
            elif self.rl.shrink and v.level < 1.0:
                # Below an equal-weight slot the ensemble is lukewarm: the pick shrinks in
                # proportion, never grows (like the LLM gate, it can only lower a rule's buy).
                targets[s] = w * max(v.level, 0.0)
                notes.append(f"RL shrink {s}: level {v.level:.2f} -> {targets[s]:.1%}")
            else:
                targets[s] = w
        return replace(
            base,
            targets=targets,
            notes=base.notes + tuple(notes) + d.notes,
            extra={**base.extra, "rl": d.record()},
        )
