"""The gate's review: the LLM may approve, shrink or veto each proposed buy, never more.

:class:`GateOracle` is what :class:`~invest.runtime.oracle.gate.cycle.CycleGate` calls
after the risk engine has sized the cycle's orders, with the buys only: sells, stops
and de-risking orders never come here. ``review`` never raises; whatever goes wrong,
new buys follow ``on_unavailable`` and the audit says why.

:func:`apply_verdicts` is the pure core and the place where invariant 1 holds:
the result has exactly the proposed symbols, each allowed at most its proposed
notional. :func:`vote` combines self-consistency samples.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from statistics import median_low
from typing import Any, Literal

from invest.runtime.config.oracle import UnavailablePolicy
from invest.runtime.oracle.client.protocol import Usage
from invest.runtime.oracle.context import OracleContext
from invest.runtime.oracle.gate.parsing import GateParse, parse_gate
from invest.runtime.oracle.gate.prompts import gate_messages
from invest.runtime.oracle.news.items import NewsItem
from invest.runtime.oracle.schemas import GateVerdict, Verdict
from invest.runtime.oracle.session import OracleBase, OracleSession

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
#: When votes tie, the more cautious verdict wins.
_CAUTION = {Verdict.VETO: 0, Verdict.SHRINK: 1, Verdict.APPROVE: 2}


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    """What happened to one proposed buy, for the explanation record.

    Attributes:
        symbol: the ticker.
        verdict: APPROVE, SHRINK or VETO.
        fraction: share of the proposed notional allowed (0..1).
        proposed: the notional the strategy proposed.
        allowed: the notional the gate lets through (never above ``proposed``).
        reason: the model's reason, or why the policy applied.
        headline_ids: ids of the headlines the model cited.
        headlines: titles of those headlines.
        source: ``llm`` (a model verdict) or ``policy`` (on_unavailable applied).
    """

    symbol: str
    verdict: Verdict
    fraction: float
    proposed: Decimal
    allowed: Decimal
    reason: str
    headline_ids: tuple[str, ...] = ()
    headlines: tuple[str, ...] = ()
    source: Literal["llm", "policy"] = "llm"

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the ledger, the TUI and ``/why``."""
        return {
            "symbol": self.symbol,
            "verdict": self.verdict.value,
            "fraction": self.fraction,
            "proposed": str(self.proposed),
            "allowed": str(self.allowed),
            "reason": self.reason,
            "headline_ids": list(self.headline_ids),
            "headlines": list(self.headlines),
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """Allowed notionals (same keys as the proposal) and one record per symbol."""

    allowed: dict[str, Decimal]
    records: tuple[VerdictRecord, ...]


def allowed_notional(proposed: Decimal, fraction: float) -> Decimal:
    """``proposed * fraction`` rounded down to cents, never above ``proposed`` nor below 0."""
    if not math.isfinite(fraction) or fraction <= 0:
        return Decimal(0)
    if fraction >= 1:
        return proposed
    shrunk = (proposed * Decimal(repr(fraction))).quantize(CENT, rounding=ROUND_DOWN)
    return max(Decimal(0), min(proposed, shrunk))


def _policy_verdict(policy: UnavailablePolicy) -> Verdict:
    if policy.fraction >= 1:
        return Verdict.APPROVE
    return Verdict.VETO if policy.fraction <= 0 else Verdict.SHRINK


def apply_verdicts(
    proposed: Mapping[str, Decimal],
    verdicts: Mapping[str, GateVerdict],
    policy: UnavailablePolicy,
    *,
    missing_reason: str = "no valid verdict from the model",
    headlines: Sequence[NewsItem] = (),
) -> GateOutcome:
    """Apply verdicts to proposed buys; symbols without one follow ``policy``.

    Args:
        proposed: symbol -> proposed notional (positive).
        verdicts: symbol -> verdict; verdicts on symbols not proposed are ignored.
        policy: what a symbol without a verdict gets.
        missing_reason: the reason recorded for those symbols.
        headlines: the headlines shown, to name the ones cited.

    Returns:
        ``allowed`` with exactly the proposed symbols, each ``0 <= allowed <= proposed``.
    """
    titles = {h.id: h.title for h in headlines}
    allowed: dict[str, Decimal] = {}
    records: list[VerdictRecord] = []
    for symbol, notional in proposed.items():
        found = verdicts.get(symbol)
        if found is None:
            kind, fraction, reason = _policy_verdict(policy), policy.fraction, missing_reason
            ids: tuple[str, ...] = ()
            source: Literal["llm", "policy"] = "policy"
            reason = f"{reason}; on_unavailable={policy.kind}"
        else:
            kind, fraction, reason = found.verdict, found.fraction, found.reason
            ids, source = found.headline_ids, "llm"
        allowed[symbol] = allowed_notional(notional, fraction)
        records.append(
            VerdictRecord(
                symbol=symbol,
                verdict=kind,
                fraction=min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else 0.0,
                proposed=notional,
                allowed=allowed[symbol],
                reason=reason,
                headline_ids=ids,
                headlines=tuple(titles[i] for i in ids if i in titles),
                source=source,
            )
        )
    return GateOutcome(allowed, tuple(records))


def vote(samples: Sequence[Mapping[str, GateVerdict]]) -> dict[str, GateVerdict]:
    """Majority verdict per symbol over self-consistency samples.

    Ties go to the more cautious verdict; a SHRINK takes the median-low fraction
    of the SHRINK votes, and the reason and citations of the first such vote.
    """
    by_symbol: dict[str, list[GateVerdict]] = {}
    for sample in samples:
        for symbol, found in sample.items():
            by_symbol.setdefault(symbol, []).append(found)
    decided: dict[str, GateVerdict] = {}
    for symbol, votes in by_symbol.items():
        counts = Counter(v.verdict for v in votes)
        winner = max(counts, key=lambda k: (counts[k], -_CAUTION[k]))
        chosen = [v for v in votes if v.verdict is winner]
        fraction = median_low([v.fraction for v in chosen])
        note = f" ({counts[winner]}/{len(samples)} samples)" if len(samples) > 1 else ""
        decided[symbol] = chosen[0].model_copy(
            update={"fraction": fraction, "reason": chosen[0].reason + note}
        )
    return decided


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
