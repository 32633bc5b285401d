"""The Alpaca trading edge: alpaca-py models in, our frozen types and exceptions out.

Everything that knows the shape of an alpaca-py ``Order``, ``Position``,
``TradeActivity`` or ``APIError`` lives here, so that nothing from the SDK leaves
``invest.runtime.brokers``. alpaca-py is imported at first use (importing it
takes half a second and warns about ``websockets.legacy``).

Error mapping (one place, ``raise ... from e`` by the caller):

* HTTP 429, HTTP 5xx, timeouts and connection errors -> :class:`TemporaryBrokerError`;
* HTTP 401 -> :class:`BrokerError` naming ``ALPACA_API_KEY``;
* HTTP 403 on an order (insufficient buying power, not fractionable...) and
  HTTP 400/422 -> :class:`OrderRejectedError`; HTTP 403 elsewhere -> :class:`BrokerError`;
* HTTP 422 "client_order_id must be unique" -> :class:`DuplicateClientIdError`
  (the order reached Alpaca before: look it up);
* HTTP 404 -> :class:`NotFoundError`;
* an answer alpaca-py cannot parse -> :class:`BrokerError`.

Messages quote Alpaca's answer (its JSON ``message``), never a key or a header.
"""

from __future__ import annotations

import functools
import json
import warnings
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from invest.runtime.domain import Fill, OrderIntent, Side, floor_qty, money
from invest.runtime.errors import BrokerError, OrderRejectedError, TemporaryBrokerError
from invest.runtime.options.contracts import is_occ_symbol

if TYPE_CHECKING:
    from alpaca.trading.models import Order, Position, TradeActivity

NEW_YORK = ZoneInfo("America/New_York")

#: Alpaca order states after which nothing more happens to the order.
FINAL_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
#: Final states that leave (part of) the order unfilled: reported through ``take_cancelled``.
DEAD_STATUSES = FINAL_STATUSES - {"filled"}


class DuplicateClientIdError(BrokerError):
    """Alpaca already has an order with this client order id.

    Not a failure: the earlier attempt reached Alpaca. The broker looks the order
    up by its client id and tracks it; nothing is sent again.
    """


class NotFoundError(BrokerError):
    """Alpaca has no such order (HTTP 404).

    For a lookup by client id this means the order never reached Alpaca.
    """


class RateLimitedError(TemporaryBrokerError):
    """HTTP 429: the request was refused before Alpaca looked at it.

    Retried after a backoff; no lookup is needed, since no order was created.
    """


@functools.cache
def sdk() -> SimpleNamespace:
    """alpaca-py's trading classes, imported once (quietly: see the module docstring)."""
    with warnings.catch_warnings():
        # alpaca-py imports websockets.legacy, deprecated upstream; nothing to do here.
        warnings.filterwarnings(
            "ignore", message=r"websockets\.legacy is deprecated", category=DeprecationWarning
        )
        from alpaca.common.exceptions import APIError
        from alpaca.trading.client import TradingClient
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.models import TradeActivity
        from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest
    return SimpleNamespace(
        APIError=APIError,
        TradingClient=TradingClient,
        QueryOrderStatus=QueryOrderStatus,
        TradeActivity=TradeActivity,
        GetOrdersRequest=GetOrdersRequest,
        MarketOrderRequest=MarketOrderRequest,
    )


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """What the broker keeps of an Alpaca order: ids, what was asked, what filled, its state.

    Attributes:
        order_id: Alpaca's id (a UUID as text).
        client_order_id: ours (``inv-...``) or Alpaca's for orders placed elsewhere.
        status: Alpaca's order status, lower case (``new``, ``partially_filled``,
            ``filled``, ``canceled``, ``expired``, ``rejected``...).
        qty: ordered shares; None for an order sent as a dollar amount.
        notional: ordered dollars; None for an order sent as shares.
    """

    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    status: str
    qty: Decimal | None
    notional: Decimal | None
    filled_qty: Decimal
    filled_avg_price: Decimal | None

    @property
    def is_final(self) -> bool:
        """True once nothing more can happen to the order."""
        return self.status in FINAL_STATUSES

    def outcome(self) -> str:
        """Why a dead order ended, with how much of it filled, for ``take_cancelled``."""
        asked = f"{self.qty} shares" if self.qty is not None else f"${self.notional}"
        done = f"; {self.filled_qty} filled" if self.filled_qty > 0 else ""
        return f"{self.status} at Alpaca ({asked} asked{done})"


def _dec(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as e:
        raise ValueError(f"not a number: {value!r}") from e


def _enum_text(value: object) -> str:
    return str(getattr(value, "value", value)).lower()


def is_option(item: Any) -> bool:
    """True for an alpaca-py option order, option position or option FILL activity.

    The stock broker leaves these to :mod:`invest.runtime.adapters.alpaca.option_orders`:
    a multi-leg order has no symbol or side, and an option fill's OCC symbol is no stock.
    """
    if _enum_text(getattr(item, "order_class", None) or "") == "mleg":
        return True
    if _enum_text(getattr(item, "asset_class", None) or "") == "us_option":
        return True
    symbol = getattr(item, "symbol", None)
    return bool(symbol) and is_occ_symbol(str(symbol))


def order_snapshot(order: Order) -> OrderSnapshot:
    """Convert an alpaca-py ``Order``.

    Raises:
        ValueError: the order lacks a symbol or side (a multi-leg order), or a number is malformed.
    """
    if order.symbol is None or order.side is None:
        raise ValueError(f"order {order.id} has no symbol or side (multi-leg orders are not used)")
    return OrderSnapshot(
        order_id=str(order.id),
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=Side(_enum_text(order.side)),
        status=_enum_text(order.status),
        qty=_dec(order.qty),
        notional=_dec(order.notional),
        filled_qty=_dec(order.filled_qty) or Decimal(0),
        filled_avg_price=_dec(order.filled_avg_price),
    )


def position_qty(position: Position) -> Decimal:
    """Signed share quantity of an alpaca-py ``Position`` (negative when short)."""
    qty = Decimal(position.qty)
    if _enum_text(position.side) == "short" and qty > 0:
        return -qty
    return qty


def fill_from_activity(
    activity: TradeActivity, client_order_id: str, account: str, reason: str
) -> Fill:
    """Convert one ``FILL`` account activity (a partial or a whole fill) into a :class:`Fill`.

    Alpaca charges no commission on stocks; regulatory fees arrive as separate
    ``FEE`` activities, not here, so ``fees`` is zero. The fill's day is its
    New York date.
    """
    return Fill(
        client_order_id=client_order_id,
        account=account,
        symbol=activity.symbol,
        side=Side(_enum_text(activity.side)),
        quantity=Decimal(str(activity.qty)),
        price=Decimal(str(activity.price)),
        fees=Decimal(0),
        day=activity.transaction_time.astimezone(NEW_YORK).date(),
        reason=reason,
    )


def foreign_intent(snap: OrderSnapshot, account: str) -> OrderIntent:
    """An :class:`OrderIntent` for an open Alpaca order this appliance did not send.

    Reconciliation finds it by its client order id, which the ledger does not know.
    An order sent as a dollar amount has quantity and reference price 0.
    """
    remaining = (snap.qty - snap.filled_qty) if snap.qty is not None else Decimal(0)
    what = f"notional ${snap.notional}" if snap.qty is None else f"{snap.qty} shares"
    return OrderIntent(
        account=account,
        cycle_id="",
        symbol=snap.symbol,
        side=snap.side,
        quantity=remaining,
        ref_price=Decimal(0),
        reason=f"not sent by invest (Alpaca order {snap.order_id}, {what}, {snap.status})",
        client_order_id=snap.client_order_id,
    )


def order_fields(intent: OrderIntent, *, fractional: bool, notional_buys: bool) -> dict[str, Any]:
    """The fields of a market, day order for ``intent`` (``MarketOrderRequest`` keyword arguments).

    Buys go as a dollar amount (``notional``, cents) when fractional trading and
    notional buys are on; everything else goes as shares (floored to whole shares
    without fractional trading).

    Raises:
        OrderRejectedError: the quantity or amount rounds to nothing.
    """
    fields: dict[str, Any] = {
        "symbol": intent.symbol,
        "side": intent.side.value,
        "time_in_force": "day",
        "client_order_id": intent.client_order_id,
    }
    if intent.side is Side.BUY and fractional and notional_buys:
        amount = money(intent.notional)
        if amount <= 0:
            raise OrderRejectedError(f"buy {intent.symbol} {intent.client_order_id}: amount is $0")
        fields["notional"] = float(amount)
        return fields
    qty = floor_qty(intent.quantity, fractional)
    if qty <= 0:
        raise OrderRejectedError(
            f"{intent.side.value} {intent.symbol} {intent.client_order_id}: "
            f"{intent.quantity} shares round to 0 (fractional trading is off)"
        )
    fields["qty"] = float(qty)
    return fields


def api_message(err: Any) -> str:
    """Alpaca's ``message`` from an ``APIError`` body, else the body cut to 300 characters."""
    text = str(err)
    try:
        body = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return text[:300]


def translate(err: Exception, what: str, *, order: bool = False) -> BrokerError | None:
    """Our exception for an error raised by alpaca-py or requests while doing ``what``.

    Args:
        err: the exception caught around one alpaca-py call.
        what: a few words for the message ("sending buy AAPL inv-...").
        order: True when the call submits an order (HTTP 403 then means a rejection).

    Returns:
        The exception to raise ``from err``; None for an error that is not from
        the client (a bug: let it propagate).
    """
    import requests  # loaded with alpaca-py already; imported here to keep config imports light

    if isinstance(err, sdk().APIError):
        return _from_status(err.status_code, api_message(err), what, order=order)
    if isinstance(err, requests.Timeout):
        return TemporaryBrokerError(f"Alpaca did not answer in time while {what}")
    if isinstance(err, requests.RequestException):
        return TemporaryBrokerError(f"Alpaca unreachable while {what}: {type(err).__name__}: {err}")
    if isinstance(err, ValueError | KeyError | TypeError):  # pydantic's ValidationError too
        return BrokerError(f"Alpaca's answer while {what} is not understood: {err}"[:500])
    return None


def _from_status(status: int | None, text: str, what: str, *, order: bool) -> BrokerError:
    if status == 422 and "client_order_id must be unique" in text:
        return DuplicateClientIdError(f"{what}: {text}")
    if status == 401:
        return BrokerError(
            f"Alpaca refused the API keys while {what} (HTTP 401: {text}); check "
            f"ALPACA_API_KEY and ALPACA_SECRET_KEY (paper keys for paper=true, live keys for live)"
        )
    if status == 403 and not order:
        return BrokerError(
            f"Alpaca refused {what} (HTTP 403: {text}); check ALPACA_API_KEY and its permissions"
        )
    if status in (400, 403, 422):
        return OrderRejectedError(f"Alpaca rejected {what} (HTTP {status}: {text})")
    if status == 404:
        return NotFoundError(f"Alpaca found nothing while {what} (HTTP 404: {text})")
    if status == 429:
        return RateLimitedError(f"Alpaca rate limit hit while {what} (HTTP 429: {text})")
    if status is None or status >= 500:
        return TemporaryBrokerError(f"Alpaca failed while {what} (HTTP {status}: {text})")
    return BrokerError(f"Alpaca answered HTTP {status} while {what}: {text}")
