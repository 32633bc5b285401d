"""Read the gate's answers: validated per-symbol verdicts on the proposed buys, item by item.

Nothing here raises on bad input. A bad item is dropped with a reason in
``problems``; the valid ones stay. ``fatal`` says why a whole answer is unusable,
and ``needs_repair`` tells the oracle to re-ask once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from invest.runtime.oracle import normalise as nz
from invest.runtime.oracle.extract import extract_json
from invest.runtime.oracle.schemas import GateVerdict, Verdict

_GATE_KEYS = ("symbol", "verdict", "fraction", "fraction_pct", "amount", "reason", "headline_ids")


@dataclass(frozen=True, slots=True)
class GateParse:
    """Verdicts read from one answer, for proposed symbols only.

    Attributes:
        verdicts: symbol -> verdict, only for symbols that were proposed.
        problems: items dropped or changed, each with its reason.
        fatal: why nothing could be read at all, or None.
        missing: proposed symbols without a valid verdict.
    """

    verdicts: dict[str, GateVerdict]
    problems: tuple[str, ...] = ()
    fatal: str | None = None
    missing: tuple[str, ...] = ()

    @property
    def needs_repair(self) -> bool:
        """True when some proposed symbol still lacks a verdict."""
        return self.fatal is not None or bool(self.missing)

    def audit(self) -> dict[str, Any]:
        """JSON-ready summary for the audit trail."""
        return {
            "verdicts": {s: v.model_dump(mode="json") for s, v in self.verdicts.items()},
            "problems": list(self.problems),
            "fatal": self.fatal,
            "missing": list(self.missing),
        }


def parse_gate(
    text: str, proposed: Mapping[str, Decimal], headline_ids: Collection[str] | None = None
) -> GateParse:
    """Read per-symbol verdicts on ``proposed`` buys from a model answer.

    Args:
        text: the raw answer.
        proposed: symbol -> proposed notional; verdicts on other symbols are ignored.
        headline_ids: ids shown to the model; cited ids outside it are dropped.

    Returns:
        The verdicts, the dropped items with reasons, and what is missing.
    """
    items = nz.find_items(extract_json(text))
    if items is None:
        return GateParse({}, fatal="no JSON object with verdicts found", missing=tuple(proposed))
    verdicts: dict[str, GateVerdict] = {}
    problems: list[str] = []
    for raw in items:
        found = gate_item(raw, proposed, headline_ids, problems)
        if isinstance(found, str):
            problems.append(found)
            continue
        old = verdicts.get(found.symbol)
        if old is not None:
            problems.append(f"{found.symbol}: more than one verdict, the smaller size kept")
            found = old if old.fraction <= found.fraction else found
        verdicts[found.symbol] = found
    missing = tuple(s for s in proposed if s not in verdicts)
    return GateParse(verdicts, tuple(problems), None, missing)


def gate_item(
    raw: Any,
    proposed: Mapping[str, Decimal],
    headline_ids: Collection[str] | None,
    problems: list[str],
) -> GateVerdict | str:
    """One validated verdict, or the reason the item was dropped."""
    if not isinstance(raw, dict):
        return f"item is not an object: {nz.text(raw, 60)!r}"
    item = nz.normalise_keys(raw, _GATE_KEYS)
    sym = nz.symbol(item.get("symbol"))
    if sym is None:
        return "item without a symbol"
    if sym not in proposed:
        return f"{sym}: not a proposed buy, ignored"
    kind = nz.verdict(item.get("verdict"))
    if kind is None:
        return f"{sym}: unknown verdict {nz.text(item.get('verdict'), 40)!r}"
    share = _share(item, proposed[sym])
    resolved = _resolve(sym, kind, share, problems)
    if isinstance(resolved, str):
        return resolved
    kind, frac = resolved
    try:
        return GateVerdict.model_validate(
            {
                "symbol": sym,
                "verdict": kind,
                "fraction": frac,
                "reason": nz.text(item.get("reason")),
                "headline_ids": nz.cited_ids(item.get("headline_ids"), headline_ids, sym, problems),
            }
        )
    except ValidationError as e:
        return f"{sym}: invalid verdict ({_first_error(e)})"


def _share(item: dict[str, Any], proposed: Decimal) -> float | None:
    """The share of the order the item asks for, from a fraction, a percent or an amount."""
    if "fraction" in item:
        return nz.number(item["fraction"])
    if "fraction_pct" in item:
        return nz.percent_as_fraction(item["fraction_pct"])
    if "amount" in item and proposed > 0:
        value = nz.amount(item["amount"])
        return None if value is None else float(value / proposed)
    return None


def _resolve(
    sym: str, kind: Verdict, share: float | None, problems: list[str]
) -> tuple[Verdict, float] | str:
    """Make verdict and fraction agree; never enlarge an order."""
    if kind is Verdict.VETO:
        return kind, 0.0
    if share is not None and share < 0:
        return f"{sym}: negative size {share}"
    if kind is Verdict.APPROVE:
        if share is None or share == 1.0:
            return kind, 1.0
        if share > 1.0:
            problems.append(f"{sym}: APPROVE asked for {share:.2f}x the order; capped at 1x")
            return kind, 1.0
        problems.append(f"{sym}: APPROVE with a smaller size, taken as SHRINK {share:.2f}")
        return Verdict.SHRINK, share
    if share is None:
        return f"{sym}: SHRINK without a usable fraction"
    if share > 1.0:
        return f"{sym}: SHRINK to {share:.2f} would enlarge the order; verdict rejected"
    return kind, share


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0] if error.errors() else {"msg": str(error)}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
