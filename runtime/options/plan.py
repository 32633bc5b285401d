"""What an options strategy proposes, and the option orders the cycle sends.

The contract between the parts that trade options:

    OptionsStrategy.plan(OptionsContext) -> OptionsPlan
        candidates: every open the rules allow today (the LLM variants choose among these)
        opens:      the rules' own choice among the candidates
        closes:     positions to close (the strategy's own: a roll, a regime change)
    risk.options.monitor(...)                -> exits (sent first; never wait for the LLM)
    risk.options.check_open(...) per open    -> contracts allowed + clamps
    -> OptionOrder (one per structure, all legs as one order) -> outbox -> broker

An LLM variant returns a plan whose opens are candidates with at most their
contracts (:func:`within_candidates` checks it); it may add closes, never opens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from invest.runtime.domain import Regime
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.structures import Structure, StructureKind

if TYPE_CHECKING:
    from invest.runtime.domain import Ack
    from invest.runtime.options.book import OptionBook, OptionFill, OptionPosition
    from invest.runtime.options.earnings import EarningsCalendar
    from invest.runtime.options.marks import OptionMark


class OrderAction(StrEnum):
    """An option order opens a new position or closes an open one."""

    OPEN = "open"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class OpenProposal:
    """One structure the rules would open.

    Attributes:
        structure: one unit (legs with quantities per unit).
        contracts: how many units the strategy wants (before the risk rules).
        est_premium: net premium per share per unit at natural prices (> 0 credit).
        quotes: the quotes of its legs the strategy priced it from.
        reason: why, in one line (strikes, deltas, the rule that chose them).
        score: the figures behind the choice (delta, iv, iv_percentile, skew ...).
        roll_of: the position this open replaces, when it is a roll (its close is in
            the same plan's closes with rule ``"roll"``).
    """

    structure: Structure
    contracts: int
    est_premium: float
    quotes: tuple[OptionQuote, ...]
    reason: str
    score: Mapping[str, float] = field(default_factory=dict)
    roll_of: str | None = None

    @property
    def kind(self) -> StructureKind:
        return self.structure.kind

    @property
    def key(self) -> str:
        """Identifies the structure (its legs' OCC symbols and quantities)."""
        return "|".join(f"{leg.quantity}x{leg.contract.symbol}" for leg in self.structure.legs)


@dataclass(frozen=True, slots=True)
class CloseProposal:
    """A position to close now.

    ``rule`` says which rule asked: ``take_profit``, ``stop``, ``dte`` (the monitors),
    ``roll`` (closed to be reopened further out) or ``strategy`` (the strategy's own
    reason, e.g. the regime turned).
    """

    position_id: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class OptionsPlan:
    """A strategy's answer for one cycle (see the module docstring)."""

    opens: tuple[OpenProposal, ...] = ()
    closes: tuple[CloseProposal, ...] = ()
    candidates: tuple[OpenProposal, ...] = ()
    notes: tuple[str, ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OptionsContext:
    """What an options strategy sees at one cycle: data up to ``day`` only.

    Attributes:
        account: the account's name.
        day: the session.
        regime: the index regime that day.
        chains: the chain of each underlying as of ``day`` (missing: no chain that day).
        book: the account's option positions (read only: the strategy never changes it).
        shares: shares held per symbol; ``free_shares`` those no covered call reserves.
        cash: cash; ``free_cash`` cash minus what open option positions reserve.
        equity: cash + shares + options marked at mid.
        iv_percentile, skew: per underlying, None when unknown.
        earnings: the calendar for blackouts, None when there is none.
    """

    account: str
    day: date
    regime: Regime
    chains: Mapping[str, OptionChain]
    book: OptionBook
    shares: Mapping[str, Decimal]
    free_shares: Mapping[str, Decimal]
    cash: Decimal
    free_cash: Decimal
    equity: float
    iv_percentile: Mapping[str, float | None] = field(default_factory=dict)
    skew: Mapping[str, float | None] = field(default_factory=dict)
    earnings: EarningsCalendar | None = None


class OptionsStrategy(Protocol):
    """An options strategy (the wheel, vertical spreads) or its LLM variant."""

    name: str

    def plan(self, ctx: OptionsContext) -> OptionsPlan:
        """The cycle's plan; pure given ``ctx`` (no I/O besides an LLM variant's oracle)."""
        ...


@dataclass(frozen=True, slots=True)
class OptionOrder:
    """One option order: a whole structure, all legs together, as the risk rules sized it.

    Attributes:
        account, cycle_id: who and when.
        action: open a new position or close ``position_id``.
        position_id: the position opened (derived, see ``book.position_id``) or closed.
        structure: one unit; ``contracts`` units.
        limit_premium: net premium per share per unit the order accepts at worst
            (> 0 a credit to receive at least, < 0 a debit to pay at most); None: at the
            market (the monitors' exits, which never wait for a price).
        reason: why (the proposal's or the exit's reason).
        rule: for a close, the rule that asked (see :class:`CloseProposal`).
        client_order_id: :func:`option_order_id` of (account, cycle, position, action).
    """

    account: str
    cycle_id: str
    action: OrderAction
    position_id: str
    structure: Structure
    contracts: int
    limit_premium: float | None
    reason: str
    client_order_id: str
    rule: str = ""

    def __post_init__(self) -> None:
        if self.contracts <= 0:
            raise ValueError(f"an option order needs contracts > 0, got {self.contracts}")


def option_order_id(account: str, cycle_id: str, position_id: str, action: OrderAction) -> str:
    """The idempotent client order id of an option order (same inputs, same id)."""
    raw = f"{account}|{cycle_id}|{position_id}|{action}".encode()
    return f"opt-{hashlib.sha256(raw).hexdigest()[:24]}"


def within_candidates(plan: OptionsPlan, candidates: tuple[OpenProposal, ...]) -> list[str]:
    """What in ``plan``'s opens is not allowed by ``candidates`` ([] when all is well).

    An open must be a candidate (same legs) with at most its contracts: an LLM may
    choose among what the rules allow and shrink it, never invent or enlarge.
    """
    allowed = {c.key: c for c in candidates}
    problems = []
    for o in plan.opens:
        c = allowed.get(o.key)
        if c is None:
            problems.append(f"{o.kind} {o.key} is not among the rules' candidates")
        elif o.contracts > c.contracts:
            problems.append(f"{o.kind} {o.key}: {o.contracts} contracts > the rules' {c.contracts}")
        elif o.contracts <= 0:
            problems.append(f"{o.kind} {o.key}: {o.contracts} contracts")
    return problems


class OptionsSink(Protocol):
    """Where a cycle's option records go: memory (backtest) or the ledger (live).

    The same outbox rule as the stocks: an order is recorded before it is sent, and
    the broker's answer in a second step.
    """

    def option_order(self, order: OptionOrder) -> bool:
        """Record an order before it is sent; False if its client id exists already."""
        ...

    def option_answer(self, ack: Ack) -> None:
        """Record the broker's answer to an option order."""
        ...

    def option_fill(self, fill: OptionFill) -> None:
        """Record an option fill (an open, a close, or a settlement at expiry)."""
        ...

    def option_positions(self, account: str, positions: Sequence[OptionPosition]) -> None:
        """Store the current state of ``positions`` (the ones a cycle changed)."""
        ...


@runtime_checkable
class MarksSink(Protocol):
    """A sink that keeps the marks of an account's open option positions (the ledger's).

    Separate from :class:`OptionsSink` so that a sink without it still runs an options
    session: the cycle calls it only when the sink has it.
    """

    def option_marks(self, account: str, day: date, marks: Sequence[OptionMark]) -> None:
        """Store ``marks``, every open position of ``account`` marked on ``day``."""
        ...
