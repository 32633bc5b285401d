"""Read the options answers: the pass-1 spread type, and the actions, validated one by one.

Nothing here raises on bad input. An action naming an unknown candidate or
position, a verb that does not open that candidate, more contracts than the
rules allow, zero or a fractional size, or a malformed item is dropped with its
reason in ``problems``; the valid actions stay. A larger size is refused, not
clamped: as in the stock gate, the model may only shrink what the rules sized,
and an answer asking for more is a sign it misread the candidate, so the action
is dropped rather than guessed at. ``fatal`` says why a whole answer is unusable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from invest.runtime.options.structures import StructureKind
from invest.runtime.oracle import normalise as nz
from invest.runtime.oracle.extract import extract_json
from invest.runtime.oracle.options.menu import OPENING, Menu, Verb

_ACTION_KEYS = ("action", "candidate_id", "position_id", "id", "contracts", "reason")
_REF_ALIASES = {
    "candidate_id": ("candidate", "spread_id", "candidate_ref", "spread"),
    "position_id": ("position", "position_ref"),
    "contracts": ("quantity", "qty", "size", "n_contracts", "count"),
    "reason": ("why", "rationale", "thesis", "explanation", "comment"),
    "action": ("verb", "decision", "type", "act"),
}
_VERBS: dict[str, Verb] = {
    "open_spread": Verb.OPEN_SPREAD,
    "open": Verb.OPEN_SPREAD,
    "open_position": Verb.OPEN_SPREAD,
    "sell_put": Verb.SELL_PUT,
    "sell_csp": Verb.SELL_PUT,
    "csp": Verb.SELL_PUT,
    "cash_secured_put": Verb.SELL_PUT,
    "sell_call": Verb.SELL_CALL,
    "sell_cc": Verb.SELL_CALL,
    "cc": Verb.SELL_CALL,
    "covered_call": Verb.SELL_CALL,
    "roll": Verb.ROLL,
    "close": Verb.CLOSE,
    "close_spread": Verb.CLOSE,
    "close_position": Verb.CLOSE,
    "exit": Verb.CLOSE,
    "skip": Verb.SKIP,
    "hold": Verb.SKIP,
    "pass": Verb.SKIP,
    "none": Verb.SKIP,
    "no_trade": Verb.SKIP,
}
_TYPE_KEYS = ("spread_type", "type", "choice", "decision", "best_spread_type", "recommendation")
_KIND_ALIASES: dict[str, StructureKind | None] = {
    "skip": None,
    "none": None,
    "no_trade": None,
    "put_credit": StructureKind.BULL_PUT,
    "call_credit": StructureKind.BEAR_CALL,
    "call_debit": StructureKind.BULL_CALL,
    "put_debit": StructureKind.BEAR_PUT,
    "condor": StructureKind.IRON_CONDOR,
    "fly": StructureKind.BUTTERFLY,
}


# -- pass 1: the spread type ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeParse:
    """The spread type read from a pass-1 answer.

    Attributes:
        chosen: the type, or None for SKIP (only meaningful when ``fatal`` is None).
        reason: the model's reason.
        problems: what was wrong, for the audit and the repair.
        fatal: why no usable choice was read, or None.
    """

    chosen: StructureKind | None = None
    reason: str = ""
    problems: tuple[str, ...] = ()
    fatal: str | None = None

    @property
    def needs_repair(self) -> bool:
        """True when no usable choice was read."""
        return self.fatal is not None

    def audit(self) -> dict[str, Any]:
        """JSON-ready summary for the audit trail."""
        chosen = None if self.chosen is None else self.chosen.value
        return {
            "chosen": chosen,
            "reason": self.reason,
            "problems": list(self.problems),
            "fatal": self.fatal,
        }


def spread_kind(value: object) -> tuple[bool, StructureKind | None]:
    """``'Bull Put Spread'`` -> (True, BULL_PUT), ``'SKIP'`` -> (True, None), else (False, None)."""
    word = nz.norm_key(value) if isinstance(value, str) else ""
    for suffix in ("_spreads", "_spread"):
        word = word.removesuffix(suffix)
    if word in _KIND_ALIASES:
        return True, _KIND_ALIASES[word]
    try:
        return True, StructureKind(word)
    except ValueError:
        return False, None


def parse_type(text: str, allowed: tuple[StructureKind, ...]) -> TypeParse:
    """Read one spread type among ``allowed``, or SKIP, from a pass-1 answer."""
    doc = extract_json(text)
    if not isinstance(doc, dict):
        return TypeParse(fatal="no JSON object with a spread_type found")
    item = nz.normalise_keys(doc, (*_TYPE_KEYS, "reason"))
    raw = next((item[k] for k in _TYPE_KEYS if k in item), None)
    if raw is None:
        return TypeParse(fatal="the answer has no spread_type")
    reason = nz.text(item.get("reason"), 300)
    known, kind = spread_kind(raw)
    if not known:
        shown = nz.text(raw, 40) or "(empty)"
        return TypeParse(fatal=f"unknown spread type {shown!r}; allowed: {_names(allowed)} or SKIP")
    if kind is not None and kind not in allowed:
        return TypeParse(
            fatal=f"{kind.value} is not allowed today; allowed: {_names(allowed)} or SKIP"
        )
    return TypeParse(kind, reason)


def _names(kinds: tuple[StructureKind, ...]) -> str:
    return ", ".join(k.value for k in kinds) or "none"


# -- the actions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """One validated action.

    Attributes:
        verb: what to do.
        ref: the candidate id (an opening verb) or the position's short id (CLOSE); "" for SKIP.
        contracts: for an opening verb, how many (1 .. the rules' contracts).
        reason: the model's reason.
    """

    verb: Verb
    ref: str = ""
    contracts: int = 0
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the explanation record."""
        return {
            "action": self.verb.value,
            "ref": self.ref,
            "contracts": self.contracts,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ActionsParse:
    """The actions read from one answer.

    Attributes:
        decisions: the valid ones, at most one per candidate and per position.
        problems: each dropped action with its reason.
        fatal: why no list of actions could be read, or None.
        decided: True when some valid action opens a candidate or says SKIP (a
            decision about today's opens); without one the opens follow the policy.
    """

    decisions: tuple[Decision, ...] = ()
    problems: tuple[str, ...] = ()
    fatal: str | None = None
    decided: bool = False

    @property
    def needs_repair(self) -> bool:
        """True when nothing about today's opens could be read."""
        return self.fatal is not None or not self.decided

    def audit(self) -> dict[str, Any]:
        """JSON-ready summary for the audit trail."""
        return {
            "decisions": [d.as_dict() for d in self.decisions],
            "problems": list(self.problems),
            "fatal": self.fatal,
            "decided": self.decided,
        }


def parse_actions(text: str, menu: Menu) -> ActionsParse:
    """Read the actions of an answer against ``menu``, keeping each valid one."""
    items = nz.find_items(extract_json(text))
    if items is None:
        return ActionsParse(fatal="no JSON object with actions found")
    decisions: list[Decision] = []
    problems: list[str] = []
    seen: set[str] = set()
    for raw in items[:50]:
        found = action_item(raw, menu)
        if isinstance(found, str):
            problems.append(found)
        elif found.ref and found.ref in seen:
            problems.append(f"{found.verb.value} {found.ref}: a second action on it, dropped")
        else:
            if found.ref:
                seen.add(found.ref)
            decisions.append(found)
    decided = any(d.verb in OPENING or d.verb is Verb.SKIP for d in decisions)
    if not decided and menu.candidates:
        problems.append("no valid action about the candidates: open one by its id, or SKIP")
    return ActionsParse(tuple(decisions), tuple(problems), None, decided or not menu.candidates)


def action_item(raw: Any, menu: Menu) -> Decision | str:
    """One validated action, or the reason it was dropped."""
    if not isinstance(raw, dict):
        return f"action is not an object: {nz.text(raw, 60)!r}"
    item = _keys(raw)
    verb = _VERBS.get(nz.norm_key(item["action"])) if isinstance(item.get("action"), str) else None
    if verb is None:
        return f"unknown action {nz.text(item.get('action'), 40)!r}"
    reason = nz.text(item.get("reason"), 300)
    if verb is Verb.SKIP:
        return Decision(Verb.SKIP, reason=reason)
    if verb is Verb.CLOSE:
        return _close(item, menu, reason)
    return _open(verb, item, menu, reason)


def _keys(raw: dict[Any, Any]) -> dict[str, Any]:
    plain = {nz.norm_key(k): v for k, v in raw.items()}
    out: dict[str, Any] = {}
    for name in _ACTION_KEYS:
        for key in (name, *_REF_ALIASES.get(name, ())):
            if key in plain and plain[key] is not None:
                out[name] = plain[key]
                break
    return out


def _close(item: dict[str, Any], menu: Menu, reason: str) -> Decision | str:
    raw = item.get("position_id", item.get("id"))
    ref = nz.text(raw, 60)
    if not ref:
        return "CLOSE without a position id"
    alias = menu.position_ref(ref)
    if alias is not None and alias in menu.closing:
        return f"CLOSE {alias}: already closed by the rules ({menu.closing[alias]})"
    if alias is None or alias not in menu.positions:
        return f"CLOSE {ref!r}: not an open position, dropped"
    return Decision(Verb.CLOSE, alias, reason=reason)


def _candidate_ref(raw: Any) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return f"c{raw}"
    ref = nz.text(raw, 60).lower()
    return f"c{ref}" if ref.isdigit() else ref


def _open(verb: Verb, item: dict[str, Any], menu: Menu, reason: str) -> Decision | str:
    raw = item.get("candidate_id", item.get("id"))
    if raw is None:
        return f"{verb.value} without a candidate id"
    ref = _candidate_ref(raw)
    candidate = menu.candidates.get(ref)
    if candidate is None:
        return f"{verb.value} {nz.text(raw, 60)!r}: not a candidate shown, dropped"
    expected = menu.verb(ref)
    if verb is not expected:
        return f"{verb.value} {ref}: that candidate opens with {expected.value}, dropped"
    if "contracts" not in item:
        return Decision(verb, ref, candidate.contracts, reason)
    n = nz.whole_number(item["contracts"])
    if n is None:
        return f"{verb.value} {ref}: unreadable contracts {nz.text(item['contracts'], 30)!r}"
    if n <= 0:
        return f"{verb.value} {ref}: {n} contracts (to open nothing, answer SKIP)"
    if n > candidate.contracts:
        return (
            f"{verb.value} {ref}: {n} contracts > the rules' {candidate.contracts}; "
            "a larger size is refused"
        )
    return Decision(verb, ref, n, reason)
