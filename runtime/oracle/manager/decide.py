"""Manager mode: a two-pass LLM portfolio manager.

Pass 1 reads the market (regime label, sector scores, portfolio health,
opportunities, threats). Pass 2 decides typed trade actions with that analysis
in view. Actions are validated one by one: a bad one is dropped with its
reason, the rest stand. The risk engine clamps them afterwards. When the model
cannot answer, the result has no actions and says why; it never raises.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from invest.runtime.oracle.client.protocol import Usage
from invest.runtime.oracle.context import OracleContext
from invest.runtime.oracle.manager.parsing import ActionsParse, parse_actions, parse_analysis
from invest.runtime.oracle.manager.prompts import analysis_messages, decision_messages
from invest.runtime.oracle.schemas import Action, MarketAnalysis, TradeAction
from invest.runtime.oracle.session import OracleBase, OracleSession

logger = logging.getLogger(__name__)

ManagerStatus = Literal["decided", "abstained"]
_WHOLE = Decimal("1e15")  # sorts "sell everything" above any amount


@dataclass(frozen=True, slots=True)
class ManagerResult:
    """Manager mode's answer for one cycle.

    Attributes:
        actions: validated actions (at most one per symbol); empty when abstaining.
        analysis: the pass-1 analysis, or None.
        status: ``decided`` or ``abstained``.
        note: why it abstained, or a short summary.
        dropped: actions dropped during validation, each with its reason.
        usage: tokens spent this cycle.
        models: models that answered.
    """

    actions: tuple[TradeAction, ...] = ()
    analysis: MarketAnalysis | None = None
    status: ManagerStatus = "abstained"
    note: str = ""
    dropped: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage)
    models: tuple[str, ...] = ()

    def of(self, action: Action) -> tuple[TradeAction, ...]:
        """The actions of one kind (``BUY``, ``SELL`` or ``HOLD``)."""
        return tuple(a for a in self.actions if a.action is action)

    def explanations(self) -> list[dict[str, Any]]:
        """Per-action dicts for the explanation record."""
        return [a.model_dump(mode="json") for a in self.actions]


class ManagerOracle(OracleBase):
    """Ask the model for an analysis, then for trade decisions. (Arguments: see :class:`OracleBase`.)"""

    def decide(self, context: OracleContext, *, cycle_id: str) -> ManagerResult:
        """Run both passes and return validated actions (never raises)."""
        audit, session = self._open(cycle_id)
        try:
            audit.record("manager.start", news_note=context.news.note)
            result = self._decide(context, session)
        except Exception:  # the oracle must never take the cycle down
            logger.exception("oracle manager failed; no actions this cycle")
            result = _abstain(session, "oracle error")
        try:
            audit.record(
                "decision",
                status=result.status,
                note=result.note,
                actions=result.explanations(),
                dropped=list(result.dropped),
            )
            audit.flush()
        except Exception:  # the decision stands; the store's owner reports its own failure
            logger.exception("could not write the oracle decision to the audit store")
        return result

    def _decide(self, context: OracleContext, session: OracleSession) -> ManagerResult:
        messages, _ = analysis_messages(context, self.config)
        first = session.ask_parsed("analysis", messages, parse_analysis)
        if first is None or first.analysis is None:
            why = "analysis unusable" if first is not None else session.unavailable_note
            return _abstain(session, why)
        analysis = first.analysis
        messages, _ = decision_messages(context, analysis.model_dump(mode="json"), self.config)
        buyable, held = frozenset(context.symbols), context.held

        def parse(text: str) -> ActionsParse:
            return parse_actions(text, buyable=buyable, held=held)

        samples: list[ActionsParse] = []
        for k in range(self.config.self_consistency_k):
            parsed = session.ask_parsed("decisions", messages, parse, sample=k)
            if parsed is None:
                break
            if parsed.fatal is None:
                samples.append(parsed)
        if not samples:
            why = "decisions unusable" if not session.unavailable else session.unavailable_note
            return _abstain(session, why, analysis)
        actions = vote_actions([s.actions for s in samples])
        dropped = tuple(p for s in samples for p in s.problems)
        return ManagerResult(
            actions=actions,
            analysis=analysis,
            status="decided",
            note=f"{len(actions)} actions, {len(dropped)} dropped",
            dropped=dropped,
            usage=session.usage,
            models=session.answered_by,
        )


def vote_actions(samples: Sequence[Sequence[TradeAction]]) -> tuple[TradeAction, ...]:
    """Majority action per symbol over samples; a symbol a sample leaves out votes HOLD.

    A BUY or SELL needs more than half of the samples; its amount is the
    median-low of the winning votes. Without a majority the symbol holds.
    """
    if len(samples) == 1:
        return tuple(samples[0])
    by_symbol: dict[str, list[TradeAction]] = {}
    for sample in samples:
        for act in sample:
            by_symbol.setdefault(act.symbol, []).append(act)
    decided: list[TradeAction] = []
    for symbol in sorted(by_symbol):
        votes = by_symbol[symbol]
        counts = Counter(a.action for a in votes)
        counts[Action.HOLD] += len(samples) - len(votes)
        winner, n = counts.most_common(1)[0]
        if winner is Action.HOLD or n * 2 <= len(samples):
            continue
        chosen = sorted(
            (a for a in votes if a.action is winner),
            key=lambda a: _WHOLE if a.amount is None else a.amount,
        )
        pick = chosen[(len(chosen) - 1) // 2]
        decided.append(pick.model_copy(update={"thesis": f"{pick.thesis} ({n}/{len(samples)})"}))
    return tuple(decided)


def _abstain(
    session: OracleSession, why: str, analysis: MarketAnalysis | None = None
) -> ManagerResult:
    return ManagerResult(
        analysis=analysis,
        status="abstained",
        note=why,
        usage=session.usage,
        models=session.answered_by,
    )
