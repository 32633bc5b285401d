"""What the LLM may choose from: the rules' candidates and the closable positions, by short id.

The model never sees or writes an OCC symbol or a position hash: each candidate
gets ``c1``, ``c2`` ... (in the rules' order) and each open position ``p1``,
``p2`` ... (the book's order, oldest first). Short ids are what a small model
copies back correctly, and they hold no expiry date, which keeps anonymised
prompts free of calendar dates. The same plan and book always give the same ids,
so the prompt, and with it the cache key, is stable.

Two styles: the wheel (every candidate and open position a cash-secured put or a
covered call; one pass, verbs SELL_PUT / SELL_CALL / ROLL) and spreads (anything
else; pass 1 picks a type, pass 2 answers OPEN_SPREAD).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from invest.runtime.options.book import OptionBook, OptionPosition
from invest.runtime.options.plan import OpenProposal, OptionsPlan
from invest.runtime.options.structures import StructureKind

Style = Literal["wheel", "spreads"]

_WHEEL_KINDS = frozenset({StructureKind.CASH_SECURED_PUT, StructureKind.COVERED_CALL})


class Verb(StrEnum):
    """The actions the model may answer with."""

    OPEN_SPREAD = "OPEN_SPREAD"
    SELL_PUT = "SELL_PUT"
    SELL_CALL = "SELL_CALL"
    ROLL = "ROLL"
    CLOSE = "CLOSE"
    SKIP = "SKIP"


#: The verbs that open a candidate.
OPENING = frozenset({Verb.OPEN_SPREAD, Verb.SELL_PUT, Verb.SELL_CALL, Verb.ROLL})


def style_of(kinds: Iterable[StructureKind]) -> Style:
    """``wheel`` when every kind in play (the candidates' and the open positions') is a
    cash-secured put or a covered call, else ``spreads``.

    The open positions count too, so that a wheel account with nothing to open today
    (only a put to watch) still gets the wheel's question, not the spreads'.
    """
    seen = set(kinds)
    return "wheel" if seen and seen <= _WHEEL_KINDS else "spreads"


def verb_for(candidate: OpenProposal, style: Style) -> Verb:
    """The one verb that opens ``candidate``: OPEN_SPREAD, or the wheel's own three."""
    if style == "spreads":
        return Verb.OPEN_SPREAD
    if candidate.roll_of is not None:
        return Verb.ROLL
    return Verb.SELL_PUT if candidate.kind is StructureKind.CASH_SECURED_PUT else Verb.SELL_CALL


@dataclass(frozen=True, slots=True)
class Menu:
    """The choices of one question.

    Attributes:
        style: ``wheel`` or ``spreads``.
        candidates: id -> the rules' candidate (only those of the chosen type in pass 2).
        positions: id -> an open position the model may close (not already being closed).
        closing: id -> the rule closing a position anyway (shown, never closable twice).
        aliases: a position's real id -> its short id (every open position).
    """

    style: Style
    candidates: Mapping[str, OpenProposal]
    positions: Mapping[str, OptionPosition]
    closing: Mapping[str, str]
    aliases: Mapping[str, str]

    @classmethod
    def build(cls, plan: OptionsPlan, book: OptionBook) -> Menu:
        """The menu of a rules plan over ``book``."""
        candidates = {f"c{i}": c for i, c in enumerate(plan.candidates, start=1)}
        closes = {c.position_id: c.rule for c in plan.closes}
        positions: dict[str, OptionPosition] = {}
        closing: dict[str, str] = {}
        aliases: dict[str, str] = {}
        for i, pos in enumerate(book.open_positions(), start=1):
            alias = f"p{i}"
            aliases[pos.id] = alias
            if pos.id in closes:
                closing[alias] = closes[pos.id]
            else:
                positions[alias] = pos
        kinds = [c.kind for c in plan.candidates]
        kinds += [p.structure.kind for p in book.open_positions()]
        return cls(style_of(kinds), candidates, positions, closing, aliases)

    def kinds(self) -> tuple[StructureKind, ...]:
        """The structure kinds among the candidates, in the order they first appear."""
        return tuple(dict.fromkeys(c.kind for c in self.candidates.values()))

    def of_kind(self, kind: StructureKind | None) -> Menu:
        """The same menu with only the candidates of ``kind`` (pass 2); None: no candidates."""
        chosen = {i: c for i, c in self.candidates.items() if kind is not None and c.kind is kind}
        return Menu(self.style, chosen, self.positions, self.closing, self.aliases)

    def verb(self, candidate_id: str) -> Verb:
        """The verb that opens candidate ``candidate_id`` (which must be on the menu)."""
        return verb_for(self.candidates[candidate_id], self.style)

    def position_ref(self, ref: str) -> str | None:
        """The short id of position ``ref`` (given as its short or its real id), or None."""
        key = ref.strip()
        if key.lower() in {a.lower() for a in self.aliases.values()}:
            return key.lower()
        return self.aliases.get(key)
