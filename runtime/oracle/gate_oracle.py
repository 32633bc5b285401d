"""GateOracle: what the cycle calls with its proposed buys, before the risk engine.

Sells never come here: the cycle sends only buys, and risk-reducing orders go
straight to the risk engine. ``review`` never raises; whatever goes wrong, new
buys follow ``on_unavailable`` and the audit says why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from invest.runtime.oracle.base import OracleBase
from invest.runtime.oracle.client import Usage
from invest.runtime.oracle.context import OracleContext
from invest.runtime.oracle.gate import GateOutcome, VerdictRecord, apply_verdicts, vote
from invest.runtime.oracle.news import NewsItem
from invest.runtime.oracle.parsing import GateParse, parse_gate
from invest.runtime.oracle.prompts import gate_messages
from invest.runtime.oracle.schemas import GateVerdict
from invest.runtime.oracle.session import OracleSession

logger = logging.getLogger(__name__)

GateStatus = Literal["reviewed", "partial", "abstained", "nothing_to_review"]


@dataclass(frozen=True, slots=True)
class GateResult:
    """The gate's answer for one cycle.

    Attributes:
        allowed: symbol -> notional allowed; the same keys as the proposal, each
            value between 0 and the proposed notional.
        records: one record per proposed symbol (verdict, reason, cited headlines).
        status: ``reviewed`` (every symbol has a model verdict), ``partial`` (some
            follow the policy), ``abstained`` (all follow the policy) or
            ``nothing_to_review``.
        note: why the oracle abstained, or a short summary.
        news_note: what the news looked like ("no news available: ...").
        usage: tokens spent this cycle (cached answers cost nothing).
        models: models that answered.
    """

    allowed: dict[str, Decimal]
    records: tuple[VerdictRecord, ...] = ()
    status: GateStatus = "nothing_to_review"
    note: str = ""
    news_note: str = ""
    usage: Usage = field(default_factory=Usage)
    models: tuple[str, ...] = ()

    def explanations(self) -> list[dict[str, Any]]:
        """Per-symbol dicts for the decision's explanation record."""
        return [r.as_dict() for r in self.records]


class GateOracle(OracleBase):
    """Review proposed buys with the LLM. (Arguments: see :class:`OracleBase`.)"""

    def review(
        self, proposed_buys: Mapping[str, Decimal], context: OracleContext, *, cycle_id: str
    ) -> GateResult:
        """Approve, shrink or veto each proposed buy.

        Args:
            proposed_buys: symbol -> proposed notional in USD (buys only, positive).
            context: what the model may know at the cycle time.
            cycle_id: the cycle, for the audit.

        Returns:
            The allowed notionals (never a new symbol, never more than proposed)
            with one record per symbol.

        Raises:
            ValueError: a proposed notional is not positive (a caller bug).
        """
        proposed = {s: Decimal(v) for s, v in proposed_buys.items()}
        bad = [s for s, v in proposed.items() if not v.is_finite() or v <= 0]
        if bad:
            raise ValueError(f"proposed buys must be positive notionals: {bad}")
        if not proposed:
            return GateResult({}, news_note=context.news.note)
        audit, session = self._open(cycle_id)
        try:
            audit.record("gate.start", proposed=proposed, news_note=context.news.note)
            result = self._review(proposed, context, session)
        except Exception:  # the gate must never take the cycle down
            logger.exception("oracle gate failed; applying on_unavailable")
            outcome = apply_verdicts(
                proposed, {}, self.config.policy, missing_reason="oracle error"
            )
            result = self._result(outcome, session, "abstained", "oracle error", context)
        try:
            audit.record(
                "verdict",
                status=result.status,
                note=result.note,
                records=result.records,
                allowed=result.allowed,
            )
            audit.flush()
        except Exception:  # the verdict stands; the store's owner reports its own failure
            logger.exception("could not write the oracle verdict to the audit store")
        return result

    def _review(
        self, proposed: dict[str, Decimal], context: OracleContext, session: OracleSession
    ) -> GateResult:
        messages, headlines = gate_messages(proposed, context, self.config)
        ids = {h.id for h in headlines}

        def parse(text: str) -> GateParse:
            return parse_gate(text, proposed, ids)

        samples: list[dict[str, GateVerdict]] = []
        for k in range(self.config.self_consistency_k):
            parsed = session.ask_parsed("gate", messages, parse, sample=k, combine=_merge)
            if parsed is None:
                break  # unavailable: more samples would fail the same way
            samples.append(parsed.verdicts)
        verdicts = vote(samples)
        reason = (
            "no valid verdict from the model for this symbol"
            if samples
            else session.unavailable_note
        )
        outcome = apply_verdicts(
            proposed, verdicts, self.config.policy, missing_reason=reason, headlines=headlines
        )
        from_llm = sum(1 for r in outcome.records if r.source == "llm")
        status: GateStatus = (
            "reviewed" if from_llm == len(proposed) else "partial" if from_llm else "abstained"
        )
        note = reason if status != "reviewed" else f"{len(proposed)} buys reviewed"
        return self._result(outcome, session, status, note, context, headlines)

    def _result(
        self,
        outcome: GateOutcome,
        session: OracleSession,
        status: GateStatus,
        note: str,
        context: OracleContext,
        headlines: tuple[NewsItem, ...] = (),
    ) -> GateResult:
        news_note = f"{len(headlines)} headlines" if headlines else context.news.note
        return GateResult(
            allowed=outcome.allowed,
            records=outcome.records,
            status=status,
            note=note,
            news_note=news_note,
            usage=session.usage,
            models=session.answered_by,
        )


def _merge(first: GateParse, second: GateParse) -> GateParse:
    """Keep the first answer's verdicts; the repair fills only what was missing."""
    verdicts = dict(second.verdicts)
    verdicts.update(first.verdicts)
    missing = tuple(s for s in first.missing if s not in verdicts)
    fatal = None if verdicts else (second.fatal or first.fatal)
    return GateParse(verdicts, first.problems + second.problems, fatal, missing)
