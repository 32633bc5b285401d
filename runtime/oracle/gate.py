"""Gate mode: the LLM reviews proposed buys and may only approve, shrink or veto them.

:func:`apply_verdicts` is the pure core and the place where invariant 1 holds:
the result has exactly the proposed symbols, each allowed at most its proposed
notional. :class:`GateOracle` asks the model and always returns a result, even
when the model is down, over budget or talking nonsense.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from statistics import median_low
from typing import Any, Literal

from invest.runtime.config.oracle import UnavailablePolicy
from invest.runtime.oracle.news import NewsItem
from invest.runtime.oracle.schemas import GateVerdict, Verdict

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
