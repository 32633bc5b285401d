"""Frozen domain types that cross module boundaries.

Money and quantities are ``Decimal`` in messages and in the ledger. Hot-path
valuation (mark-to-market over thousands of days) uses float arrays and only
converts at the edges.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any

CENT = Decimal("0.01")
#: Alpaca accepts fractional quantities to 9 decimals; 6 keeps rounding well inside that.
QTY_STEP = Decimal("0.000001")


class Side(StrEnum):
    """Order side."""

    BUY = "buy"
    SELL = "sell"


class Regime(StrEnum):
    """Deterministic market regime from the index against its long average."""

    ATTACK = "ATTACK"
    DEFENSE = "DEFENSE"


class HaltState(StrEnum):
    """Persisted trading state of an account (or of the whole engine)."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"  # sells only
    HALTED = "HALTED"


#: Order of severity of the halt states.
SEVERITY = {HaltState.ACTIVE: 0, HaltState.REDUCING: 1, HaltState.HALTED: 2}


def worst(*states: HaltState) -> HaltState:
    """The most severe of ``states`` (ACTIVE when none)."""
    return max(states, key=SEVERITY.__getitem__, default=HaltState.ACTIVE)


class OrderStatus(StrEnum):
    """Life cycle of an order in the ledger."""

    PENDING = "pending"  # in the outbox: recorded (committed), no answer from the broker yet
    UNKNOWN = "unknown"  # sent, but the broker's answer was lost (a timeout): look it up
    SUBMITTED = "submitted"  # the broker accepted it
    PARTIAL = "partial"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


#: Order states with no answer from the broker yet (the outbox).
UNANSWERED: tuple[str, ...] = (OrderStatus.PENDING.value, OrderStatus.UNKNOWN.value)
#: Order states that count as open: unanswered, accepted, partly filled.
OPEN: tuple[str, ...] = (*UNANSWERED, OrderStatus.SUBMITTED.value, OrderStatus.PARTIAL.value)
#: ``OPEN`` as an SQL list, for ``status IN (...)`` (fixed names, never user input).
OPEN_SQL = ",".join(f"'{s}'" for s in OPEN)


@dataclass(frozen=True, slots=True)
class Ack:
    """The broker's answer to one order, recorded in the ledger after the send.

    Attributes:
        client_order_id: the order.
        status: ``SUBMITTED`` (accepted; it may have filled already, the fill comes
            through ``poll``), ``REJECTED`` or ``CANCELLED`` (final, never filled), or
            ``UNKNOWN`` (sent, but the answer was lost: look it up by client id).
        broker_order_id: the broker's own id, when it gave one.
        detail: why it was rejected, or what went wrong.
    """

    client_order_id: str
    status: OrderStatus
    broker_order_id: str | None = None
    detail: str = ""


def money(value: float | Decimal | str) -> Decimal:
    """Round a value to cents."""
    return Decimal(str(value)).quantize(CENT)


def floor_qty(value: float | Decimal, fractional: bool) -> Decimal:
    """Round a share quantity down to the broker's step (whole shares unless fractional)."""
    step = QTY_STEP if fractional else Decimal(1)
    return Decimal(str(value)).quantize(step, rounding=ROUND_DOWN)


def client_order_id(account: str, cycle_id: str, symbol: str, side: Side) -> str:
    """Derive the idempotent client order id from (account, cycle, symbol, side).

    The same inputs always give the same id, so a retry or a restart can never
    create a second order: the ledger's unique index and the broker both reject it.
    """
    digest = hashlib.sha256(f"{account}|{cycle_id}|{symbol}|{side}".encode()).hexdigest()
    return f"inv-{digest[:24]}"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order the risk engine approved, before it reaches a broker."""

    account: str
    cycle_id: str
    symbol: str
    side: Side
    quantity: Decimal
    ref_price: Decimal  # last close used for sizing; the fill price will differ
    reason: str
    client_order_id: str

    @property
    def notional(self) -> Decimal:
        """Estimated value at the reference price."""
        return money(self.quantity * self.ref_price)


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution reported by a broker."""

    client_order_id: str
    account: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fees: Decimal
    day: date
    reason: str = ""


@dataclass(slots=True)
class Position:
    """A holding of one symbol, with the exits attached to it.

    Mutable on purpose: only :class:`AccountState` changes it, by applying fills.
    """

    symbol: str
    quantity: Decimal
    avg_cost: Decimal
    opened: date
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    time_stop_days: int | None = None


@dataclass(frozen=True, slots=True)
class ExitPlan:
    """Exit levels a strategy wants on a position it is buying (the LLM manager's stops).

    ``None`` keeps the risk profile's level. Fractions: ``stop_loss_pct=0.08`` sells
    8% below the average cost. The position monitors enforce them once the buy fills.
    """

    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    time_stop_days: int | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ExitPlan:
        """Read ``{stop_loss_pct, take_profit_pct, time_stop_days}``; absent keys are None.

        Raises:
            ValueError: a level out of range (stop not in (0, 1), take profit or days <= 0).
        """
        sl, tp, days = (
            raw.get("stop_loss_pct"),
            raw.get("take_profit_pct"),
            raw.get("time_stop_days"),
        )
        plan = cls(
            None if sl is None else float(sl),
            None if tp is None else float(tp),
            None if days is None else int(days),
        )
        if plan.stop_loss_pct is not None and not 0 < plan.stop_loss_pct < 1:
            raise ValueError(f"stop_loss_pct must be in (0, 1), not {plan.stop_loss_pct}")
        if plan.take_profit_pct is not None and not plan.take_profit_pct > 0:
            raise ValueError(f"take_profit_pct must be > 0, not {plan.take_profit_pct}")
        if plan.time_stop_days is not None and plan.time_stop_days <= 0:
            raise ValueError(f"time_stop_days must be > 0, not {plan.time_stop_days}")
        return plan

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain dict (for ``Proposal.extra["exits"]`` and the ledger)."""
        return {
            "stop_loss_pct": self.stop_loss_pct,
            "take_profit_pct": self.take_profit_pct,
            "time_stop_days": self.time_stop_days,
        }


@dataclass(slots=True)
class AccountState:
    """Cash and positions of one account. Positions always equal the sum of fills."""

    name: str
    cash: Decimal
    positions: dict[str, Position] = field(default_factory=dict)
    halt: HaltState = HaltState.ACTIVE
    peak_equity: float = 0.0
    realised_pnl: Decimal = Decimal(0)
    brake: bool = False  # drawdown brake engaged (see risk.rules.drawdown_brake)
    #: Exits to attach to a symbol's position when its next buy fills (see :meth:`plan_exits`).
    exit_plans: dict[str, ExitPlan] = field(default_factory=dict)
    #: Memo of :meth:`floats`: symbol -> (quantity, avg_cost, their floats). Not state.
    _floats: dict[str, tuple[Decimal, Decimal, float, float]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def floats(self, pos: Position) -> tuple[float, float]:
        """``(float(pos.quantity), float(pos.avg_cost))``, converted once per change.

        The cycle reads each holding as floats several times a day (equity, stops,
        rebalance, the record); a Decimal-to-float conversion costs a string round
        trip. The memo is checked by identity: Decimals are immutable, so the same
        objects mean the same values, and any assignment (a fill, a ledger load, a
        test) is a new object and converts again.
        """
        q, a = pos.quantity, pos.avg_cost
        hit = self._floats.get(pos.symbol)
        if hit is not None and hit[0] is q and hit[1] is a:
            return hit[2], hit[3]
        qf, af = float(q), float(a)
        self._floats[pos.symbol] = (q, a, qf, af)
        return qf, af

    def plan_exits(self, exits: Mapping[str, Mapping[str, Any]], bought: Iterable[str]) -> None:
        """Remember the exits of ``exits`` (symbol -> levels) for the symbols being bought.

        Called by the cycle with ``Proposal.extra["exits"]`` and the symbols of the
        buy intents it sends. A plan waits for the buy's fill; a plan with bad
        levels is ignored (the profile's levels apply).
        """
        for sym in bought:
            raw = exits.get(sym)
            if raw is None:
                continue
            try:
                self.exit_plans[sym] = ExitPlan.from_dict(raw)
            except (TypeError, ValueError):
                self.exit_plans.pop(sym, None)

    def apply_fill(self, fill: Fill) -> None:
        """Apply one fill to cash and positions.

        Raises:
            ValueError: a sell for more than is held, or a buy cash cannot pay for.
        """
        cost = money(fill.quantity * fill.price)
        pos = self.positions.get(fill.symbol)
        if fill.side is Side.BUY:
            new_cash = self.cash - cost - fill.fees
            if new_cash < 0:
                raise ValueError(
                    f"fill {fill.client_order_id} would make cash negative ({new_cash})"
                )
            self.cash = new_cash
            if pos is None:
                pos = self.positions[fill.symbol] = Position(
                    fill.symbol, fill.quantity, fill.price, fill.day
                )
            else:
                total = pos.quantity + fill.quantity
                pos.avg_cost = (pos.avg_cost * pos.quantity + fill.price * fill.quantity) / total
                pos.quantity = total
            plan = self.exit_plans.pop(fill.symbol, None)
            if plan is not None:  # the latest buy's plan sets the position's exits
                pos.stop_loss_pct = plan.stop_loss_pct
                pos.take_profit_pct = plan.take_profit_pct
                pos.time_stop_days = plan.time_stop_days
            return
        if pos is None or fill.quantity > pos.quantity:
            held = pos.quantity if pos else 0
            raise ValueError(f"sell of {fill.quantity} {fill.symbol} exceeds holding {held}")
        self.cash += cost - fill.fees
        self.realised_pnl += money((fill.price - pos.avg_cost) * fill.quantity) - fill.fees
        pos.quantity -= fill.quantity
        if pos.quantity == 0:
            del self.positions[fill.symbol]

    def equity(self, prices: dict[str, float]) -> float:
        """Cash plus positions marked at ``prices`` (float, for reporting)."""
        value = float(self.cash)
        for sym, pos in self.positions.items():
            q, a = self.floats(pos)
            value += q * prices.get(sym, a)
        return value


@dataclass(frozen=True, slots=True)
class Clamp:
    """One risk rule that changed or blocked an order, with its reason."""

    rule: str
    symbol: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """Plain dict for the explanation record."""
        return {"rule": self.rule, "symbol": self.symbol, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Proposal:
    """What a strategy wants: target weights of equity, plus why."""

    targets: dict[str, float]
    regime: Regime
    scores: dict[str, float]
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
