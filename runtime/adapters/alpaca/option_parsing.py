"""Option orders at Alpaca's edge, pure: an :class:`OptionOrder` out, alpaca-py ``Order`` in.

What goes out (:func:`option_order_fields`):

* **One leg** (a cash-secured put, a covered call): a simple order on the OCC symbol,
  ``qty`` = contracts x |leg quantity|, ``side`` and ``position_intent``
  (``sell_to_open``, ``buy_to_close`` ...), and a limit price per share that is
  always positive (the side says who pays).
* **Several legs** (spreads, condors, butterflies): one ``order_class = "mleg"``
  order. ``qty`` is the number of strategy units; each leg carries its
  ``ratio_qty`` (reduced by the legs' greatest common divisor, folded into
  ``qty``), ``side`` and ``position_intent``. The limit is the NET price of one
  unit with Alpaca's sign: positive a debit paid, negative a credit received
  (alpaca-py's ``LimitOrderRequest.limit_price`` docstring: "For the mleg order
  class, this is specified such that a positive value indicates a debit ... while a
  negative value signifies a credit"; Alpaca's options Level 3 guide says the same).
  Ours is the opposite (``limit_premium`` > 0 a credit), hence the minus sign.
* Limits are rounded to the cent toward the stricter side (a debit down, a credit
  up), so an order never accepts a worse price than the risk rules sized it at.
  ``limit_premium = None`` sends a market order (the monitors' exits).
* Options trade ``day`` orders only (Alpaca's order reference).
* The client order id is the order's own. Alpaca documents ``client_order_id`` at
  most 48 characters (Broker API; the Trading API accepts more): a longer one is
  refused here, before anything is sent, since cutting it would break the lookup
  by client id that keeps an order from being sent twice.

What comes back (:func:`option_snapshot`, :func:`option_fill`): an order's state with
each leg's filled quantity and average price. A multi-leg order fills in whole units
(every leg in its ratio), so a partial fill is k of n units; it is reported once the
order is final (filled, or dead with some units filled) as ONE :class:`OptionFill` of
the units filled, because the book opens or closes a position once per order. Alpaca
charges no commission on options; regulatory fees arrive as separate ``FEE``
activities, so ``fees`` is zero here, as for stocks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import reduce
from typing import TYPE_CHECKING, Any

from invest.runtime.adapters.alpaca.parsing import DEAD_STATUSES, NEW_YORK
from invest.runtime.domain import Ack, OrderStatus, Side
from invest.runtime.errors import BrokerError, ConfigError, OrderRejectedError
from invest.runtime.options.book import LegFill, OptionAction, OptionFill, OptionPosition
from invest.runtime.options.contracts import OptionContract
from invest.runtime.options.plan import OptionOrder, OrderAction

if TYPE_CHECKING:
    from alpaca.trading.models import Order

#: Alpaca's documented limit on ``client_order_id`` (the Broker API's; the stricter one).
MAX_CLIENT_ID = 48
_CENT = Decimal("0.01")


def leg_intent(quantity: int, action: OrderAction) -> tuple[Side, str]:
    """The side and Alpaca ``position_intent`` of a leg (``quantity`` > 0 long) for ``action``.

    Opening buys the long legs and sells the short ones; closing does the opposite.
    """
    opening = action is OrderAction.OPEN
    side = Side.BUY if (quantity > 0) == opening else Side.SELL
    return side, f"{side.value}_to_{'open' if opening else 'close'}"


def _cents(value: Decimal, rounding: str) -> Decimal:
    return value.quantize(_CENT, rounding=rounding)


def option_order_fields(order: OptionOrder) -> dict[str, Any]:
    """The JSON fields of Alpaca's ``POST /v2/orders`` for ``order`` (see the module).

    ``legs`` (multi-leg only) is a list of dicts with ``symbol``, ``ratio_qty``,
    ``side`` and ``position_intent``.

    Raises:
        OrderRejectedError: the client id is empty or too long, a single leg's limit
            has the wrong sign for its side, or a limit rounds to nothing.
    """
    cid = order.client_order_id
    what = f"{order.action} {order.structure.kind} on {order.structure.underlying} {cid}"
    if not cid or len(cid) > MAX_CLIENT_ID:
        raise OrderRejectedError(
            f"{what}: client order id must be 1 to {MAX_CLIENT_ID} characters for Alpaca, "
            f"got {len(cid)}"
        )
    fields: dict[str, Any] = {
        "time_in_force": "day",
        "client_order_id": cid,
        "type": "market" if order.limit_premium is None else "limit",
    }
    legs = order.structure.legs
    if len(legs) == 1:
        leg = legs[0]
        side, intent = leg_intent(leg.quantity, order.action)
        fields |= {
            "symbol": leg.contract.symbol,
            "qty": order.contracts * abs(leg.quantity),
            "side": side.value,
            "position_intent": intent,
        }
        if order.limit_premium is not None:
            fields["limit_price"] = _single_limit(order.limit_premium, leg.quantity, side, what)
        return fields
    unit = reduce(math.gcd, (abs(leg.quantity) for leg in legs))
    fields |= {
        "order_class": "mleg",
        "qty": order.contracts * unit,
        "legs": [
            {
                "symbol": leg.contract.symbol,
                "ratio_qty": abs(leg.quantity) // unit,
                "side": leg_intent(leg.quantity, order.action)[0].value,
                "position_intent": leg_intent(leg.quantity, order.action)[1],
            }
            for leg in legs
        ],
    }
    if order.limit_premium is not None:
        # Alpaca: > 0 a net debit, < 0 a net credit (ours is the opposite). Rounding
        # down pays less or asks more: never worse than the limit.
        debit = -Decimal(repr(order.limit_premium)) / unit
        fields["limit_price"] = float(_cents(debit, ROUND_FLOOR))
    return fields


def _single_limit(premium: float, quantity: int, side: Side, what: str) -> float:
    """The positive per-share limit of a one-leg order; the premium's sign must match its side."""
    per_share = Decimal(repr(premium)) / abs(quantity)
    if side is Side.SELL and per_share <= 0:
        raise OrderRejectedError(
            f"{what}: a sell receives a credit, so its limit premium must be > 0, got {premium}"
        )
    if side is Side.BUY and per_share >= 0:
        raise OrderRejectedError(
            f"{what}: a buy pays a debit, so its limit premium must be < 0, got {premium}"
        )
    # A sale's limit is the least received (rounded up), a purchase's the most paid (down).
    price = (
        _cents(per_share, ROUND_CEILING) if side is Side.SELL else _cents(-per_share, ROUND_FLOOR)
    )
    if price <= 0:
        raise OrderRejectedError(
            f"{what}: limit {premium} rounds to $0.00 a share; send it at the market instead"
        )
    return float(price)


@dataclass(frozen=True, slots=True)
class LegSnapshot:
    """One leg of an Alpaca option order: what was asked and what filled, in contracts."""

    symbol: str
    side: Side
    qty: int
    filled_qty: int
    filled_avg_price: float | None


@dataclass(frozen=True, slots=True)
class OptionOrderSnapshot:
    """What the option orders keep of an Alpaca order (single-leg or multi-leg).

    Attributes:
        status: Alpaca's order status, lower case.
        qty, filled_qty: units of the order (contracts for a single leg, strategy
            units for a multi-leg order).
        legs: every leg (a single-leg order is its own one leg).
        at: when it filled, else when it last changed.
    """

    order_id: str
    client_order_id: str
    status: str
    qty: int
    filled_qty: int
    legs: tuple[LegSnapshot, ...]
    at: datetime

    @property
    def is_dead(self) -> bool:
        """Final and not wholly filled (canceled, expired, rejected, replaced)."""
        return self.status in DEAD_STATUSES

    def outcome(self) -> str:
        """Why a dead order ended and how much of it filled, in a few words."""
        done = f"; {self.filled_qty} of {self.qty} filled" if self.filled_qty else ""
        return f"{self.status} at Alpaca{done}"


def _text(value: object) -> str:
    return str(getattr(value, "value", value) or "").lower()


def _whole(value: object, what: str) -> int:
    """A contract count from Alpaca's decimal text (``"2"``, ``"2.0"``); None and "" are 0."""
    if value is None or value == "":
        return 0
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise ValueError(f"{what} {value!r} is not a whole number of contracts")
    return int(number)


def _price(value: object) -> float | None:
    return None if value is None or value == "" else float(Decimal(str(value)))


def _leg(order: Any) -> LegSnapshot:
    if not order.symbol or order.side is None:
        raise ValueError(f"order leg {order.id} has no symbol or side")
    return LegSnapshot(
        symbol=order.symbol,
        side=Side(_text(order.side)),
        qty=_whole(order.qty, "leg qty"),
        filled_qty=_whole(order.filled_qty, "leg filled_qty"),
        filled_avg_price=_price(order.filled_avg_price),
    )


def option_snapshot(order: Order) -> OptionOrderSnapshot:
    """Read an alpaca-py ``Order`` of options, single-leg or ``mleg`` with its ``legs``.

    Raises:
        ValueError: a leg lacks its symbol or side, an ``mleg`` order has no legs, or a
            quantity is not whole (the caller turns it into a :class:`BrokerError`).
    """
    if _text(order.order_class) == "mleg":
        if not order.legs:
            raise ValueError(f"multi-leg order {order.id} came without its legs")
        legs = tuple(_leg(leg) for leg in order.legs)
    else:
        legs = (_leg(order),)
    return OptionOrderSnapshot(
        order_id=str(order.id),
        client_order_id=order.client_order_id,
        status=_text(order.status),
        qty=_whole(order.qty, "qty"),
        filled_qty=_whole(order.filled_qty, "filled_qty"),
        legs=legs,
        at=order.filled_at or order.updated_at,
    )


def option_ack(snap: OptionOrderSnapshot) -> Ack:
    """The ledger's answer: dead orders are cancelled (with why), the others submitted."""
    cid = snap.client_order_id
    if snap.is_dead:
        return Ack(cid, OrderStatus.CANCELLED, snap.order_id, snap.outcome())
    return Ack(cid, OrderStatus.SUBMITTED, snap.order_id)


def option_fill(order: OptionOrder, snap: OptionOrderSnapshot) -> tuple[OptionFill, int] | None:
    """The fill of ``order`` once final at Alpaca, and its units; None while open or unfilled.

    Each leg's contracts are signed (bought > 0, sold < 0) at its own average price.
    A dead order with some units filled gives a fill of those units (see the module).

    Raises:
        BrokerError: Alpaca's legs are not the order's (another symbol, side or ratio),
            or a filled leg has no price.
    """
    final = snap.status == "filled" or snap.is_dead
    if not final or not any(leg.filled_qty for leg in snap.legs):
        return None
    cid = order.client_order_id
    wanted = {leg.contract.symbol: leg.quantity for leg in order.structure.legs}
    by_symbol = {leg.symbol: leg for leg in snap.legs}
    if set(by_symbol) != set(wanted):
        raise BrokerError(
            f"Alpaca's order {snap.order_id} ({cid}) has legs {sorted(by_symbol)}, "
            f"not the order's {sorted(wanted)}"
        )
    units: set[int] = set()
    fills: list[LegFill] = []
    for symbol, quantity in wanted.items():
        got = by_symbol[symbol]
        side, _ = leg_intent(quantity, order.action)
        if got.side is not side or got.filled_qty % abs(quantity):
            raise BrokerError(
                f"Alpaca's order {snap.order_id} ({cid}): leg {symbol} {got.side.value} "
                f"{got.filled_qty} does not match {side.value} {abs(quantity)} per unit"
            )
        if got.filled_avg_price is None:
            raise BrokerError(f"Alpaca's order {snap.order_id} ({cid}): leg {symbol} has no price")
        units.add(got.filled_qty // abs(quantity))
        signed = got.filled_qty if side is Side.BUY else -got.filled_qty
        fills.append(LegFill(symbol, signed, got.filled_avg_price))
    if len(units) != 1:
        raise BrokerError(
            f"Alpaca's order {snap.order_id} ({cid}) filled its legs unevenly: {fills}"
        )
    action = OptionAction.OPEN if order.action is OrderAction.OPEN else OptionAction.CLOSE
    fill = OptionFill(
        client_order_id=cid,
        account=order.account,
        position_id=order.position_id,
        action=action,
        legs=tuple(fills),
        fees=Decimal(0),
        day=snap.at.astimezone(NEW_YORK).date(),
        reason=order.reason,
    )
    return fill, units.pop()


# -- reconciliation --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OptionMismatch:
    """One OCC symbol whose contracts differ between the ledger and Alpaca, and why it may.

    ``ledger`` and ``broker`` are signed contracts (> 0 long, < 0 short, 0 none).
    """

    symbol: str
    ledger: int
    broker: int
    explanation: str


def ledger_option_legs(positions: Iterable[OptionPosition]) -> dict[str, int]:
    """Signed contracts per OCC symbol held by the open ``positions`` (legs x contracts)."""
    out: dict[str, int] = {}
    for pos in positions:
        if not pos.is_open:
            continue
        for leg in pos.structure.legs:
            symbol = leg.contract.symbol
            out[symbol] = out.get(symbol, 0) + leg.quantity * pos.contracts
    return {s: n for s, n in out.items() if n}


#: Alpaca's non-trade activities for option events (its "Non-Trade Activities for Option
#: Events" page): the contracts leave the account; an ``OPTRD`` moves the shares.
OPTION_EVENT_TYPES = {"OPASN": "assigned", "OPEXP": "expired", "OPEXC": "exercised"}


@dataclass(frozen=True, slots=True)
class OptionEvent:
    """An assignment, expiry or exercise Alpaca booked on an option position.

    Attributes:
        kind: ``assigned``, ``expired`` or ``exercised``.
        change: the signed change of the position in contracts, as Alpaca writes
            ``qty`` (an assignment of 2 short contracts: +2; an exercise of 2 long: -2).
    """

    activity_id: str
    kind: str
    symbol: str
    change: int
    day: date


def option_event(activity: Any) -> OptionEvent | None:
    """Read an alpaca-py ``NonTradeActivity``; None for one that is not an option event.

    Raises:
        ValueError: an option event without its symbol or a whole quantity.
    """
    kind = OPTION_EVENT_TYPES.get(str(getattr(activity.activity_type, "value", "")))
    if kind is None:
        return None
    if not activity.symbol:
        raise ValueError(f"option activity {activity.id} has no symbol")
    return OptionEvent(
        activity_id=activity.id,
        kind=kind,
        symbol=activity.symbol,
        change=_whole(activity.qty, "activity qty"),
        day=activity.date,
    )


def reconcile_option_positions(
    ledger: Mapping[str, int],
    broker: Mapping[str, int],
    today: date,
    events: Iterable[OptionEvent] = (),
) -> list[OptionMismatch]:
    """Every OCC symbol held differently by the ledger and Alpaca, by symbol, explained.

    Args:
        ledger: signed contracts the ledger's open positions hold (:func:`ledger_option_legs`).
        broker: signed contracts Alpaca holds (``AlpacaOptionOrders.option_positions``).
        today: the session, to tell an expired contract from one closed early.
        events: Alpaca's assignments, expiries and exercises (``option_events``): a
            symbol they touched is explained by them.
    """
    by_symbol: dict[str, list[OptionEvent]] = {}
    for event in events:
        by_symbol.setdefault(event.symbol, []).append(event)
    out: list[OptionMismatch] = []
    for symbol in sorted(set(ledger) | set(broker)):
        mine, theirs = ledger.get(symbol, 0), broker.get(symbol, 0)
        if mine == theirs:
            continue
        seen = by_symbol.get(symbol)
        if seen:
            said = "; ".join(f"{e.kind} {e.change:+d} on {e.day}" for e in seen)
            why = (
                f"the ledger holds {_held(mine)} and Alpaca {_held(theirs)}: Alpaca booked {said}; "
                "settle it in the ledger"
            )
        else:
            why = _explain(symbol, mine, theirs, today)
        out.append(OptionMismatch(symbol, mine, theirs, why))
    return out


def _explain(symbol: str, mine: int, theirs: int, today: date) -> str:
    try:
        expiry: date | None = OptionContract.from_occ(symbol).expiry
    except ConfigError:
        expiry = None
    if theirs == 0:
        if expiry is not None and expiry <= today:
            return (
                f"the ledger holds {mine:+d} and Alpaca none: expired {expiry}, and settled at "
                "Alpaca (expired, assigned or exercised; its OPEXP/OPASN/OPEXC activity says "
                "which) before the ledger settled it"
            )
        return (
            f"the ledger holds {mine:+d} and Alpaca none: closed at Alpaca outside invest, "
            "assigned early, or a close that filled without its fill being recorded"
        )
    if mine == 0:
        return (
            f"Alpaca holds {theirs:+d} and the ledger none: opened outside invest, or an "
            "open that filled without its fill being recorded"
        )
    if (mine > 0) != (theirs > 0):
        return f"the ledger is {_way(mine)} {abs(mine)} and Alpaca {_way(theirs)} {abs(theirs)}"
    return (
        f"the ledger holds {mine:+d} and Alpaca {theirs:+d}: a partial fill, part closed "
        "or assigned at Alpaca, or a trade outside invest"
    )


def _held(n: int) -> str:
    return f"{n:+d}" if n else "none"


def _way(n: int) -> str:
    return "long" if n > 0 else "short"
