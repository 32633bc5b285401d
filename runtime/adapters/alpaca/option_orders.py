"""AlpacaOptionOrders: option orders (single-leg and multi-leg) through alpaca-py's ``TradingClient``.

It rides on an :class:`~.broker.AlpacaBroker` (:meth:`AlpacaOptionOrders.of`): the same
client, so the same HTTP session, rate limiter, timeouts and endpoint checks, and
follows the broker's rules:

* **Never twice.** :meth:`submit_option` sends one order with the order's client id
  (which the outbox recorded before). A 422 "client_order_id must be unique" means an
  earlier attempt arrived: the order is fetched, not sent again. After a timeout or a
  5xx the order is looked up by its client id before any retry; a 429 is retried after
  a backoff (nothing was created).
* **Answers.** Accepted: ``SUBMITTED`` with Alpaca's id; refused (HTTP 400/403/422, or
  refused here before sending): ``REJECTED`` with Alpaca's message. Alpaca unreachable
  after the retries: :class:`TemporaryBrokerError`, and the outbox keeps the order
  as unknown until :meth:`lookup` answers.
* **Fills.** :meth:`poll_option_fills` reads each order by its client id and reports
  it once final, as one :class:`OptionFill` with each leg's price (see
  :mod:`.option_parsing` for partial fills).
* **Reconciliation.** :meth:`option_positions` is Alpaca's option holdings by OCC
  symbol, :meth:`option_events` its assignments, expiries and exercises (the
  ``OPASN``, ``OPEXP`` and ``OPEXC`` activities);
  :func:`~.option_parsing.reconcile_option_positions` compares the holdings with the
  ledger's legs and explains each difference.

Pure building and parsing live in :mod:`.option_parsing`; errors map as in
:func:`.parsing.translate` (messages quote Alpaca's answer, never a key).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

from invest.runtime.adapters.alpaca.option_parsing import (
    OPTION_EVENT_TYPES,
    OptionEvent,
    OptionOrderSnapshot,
    option_ack,
    option_event,
    option_fill,
    option_order_fields,
    option_snapshot,
)
from invest.runtime.adapters.alpaca.parsing import (
    NotFoundError,
    position_qty,
    sdk,
)
from invest.runtime.adapters.alpaca.retry import RetryingCalls
from invest.runtime.domain import Ack, OrderStatus
from invest.runtime.errors import BrokerError, OrderRejectedError

if TYPE_CHECKING:
    from invest.runtime.adapters.alpaca.broker import AlpacaBroker
    from invest.runtime.config.alpaca import AlpacaConfig
    from invest.runtime.options.book import OptionFill
    from invest.runtime.options.plan import OptionOrder

logger = logging.getLogger(__name__)

T = TypeVar("T")

_PAGE = 100


def _events(page: list[Any]) -> list[OptionEvent]:
    """The option events among a page of raw account activities (alpaca-py's ``NonTradeActivity``)."""
    sdk()
    from alpaca.trading.models import NonTradeActivity

    events = (option_event(NonTradeActivity(**raw)) for raw in page)
    return [e for e in events if e is not None]


@functools.cache
def _requests() -> SimpleNamespace:
    sdk()  # alpaca-py imported once, quietly
    from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, OptionLegRequest

    return SimpleNamespace(
        LimitOrderRequest=LimitOrderRequest,
        MarketOrderRequest=MarketOrderRequest,
        OptionLegRequest=OptionLegRequest,
    )


@dataclass(frozen=True, slots=True)
class OptionOrderUpdate:
    """Where one option order stands at Alpaca (:meth:`AlpacaOptionOrders.poll_option_fills`).

    Attributes:
        ack: ``SUBMITTED`` while open, ``FILLED`` when wholly filled, ``CANCELLED`` when
            it ended with part or nothing filled, or never reached Alpaca (with why).
        fill: the units filled, once final (None while open, or nothing filled).
        contracts: units in ``fill`` (0 without one).
    """

    ack: Ack
    fill: OptionFill | None = None
    contracts: int = 0


class AlpacaOptionOrders(RetryingCalls):
    """Option orders of one Alpaca account (see the module).

    Args:
        client: alpaca-py's ``TradingClient`` (the broker's: its session and rate limit).
        config: the ``alpaca`` config section (retries and backoff).
        sleep: how to wait between retries (injected in tests).
    """

    def __init__(
        self, client: Any, config: AlpacaConfig, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self.config = config
        self._sleep = sleep

    @classmethod
    def of(cls, broker: AlpacaBroker) -> AlpacaOptionOrders:
        """The option orders of ``broker``'s account, over the broker's own client."""
        return cls(broker._client, broker.config, sleep=broker._sleep)

    # -- orders ----------------------------------------------------------------------

    def submit_option(self, order: OptionOrder) -> Ack:
        """Send ``order`` (all its legs as one order) once; Alpaca's answer.

        Raises:
            TemporaryBrokerError: Alpaca stayed unreachable after the retries; whether
                the order arrived is unknown (:meth:`lookup` answers it later).
            BrokerError: the keys are refused, or Alpaca's answer is not understood.
        """
        cid = order.client_order_id
        what = (
            f"sending {order.action} {order.structure.kind} on {order.structure.underlying} {cid}"
        )
        try:
            request = self._request(order, what)
            snap = self._send(request, cid, what)
        except OrderRejectedError as e:
            logger.warning("alpaca rejected option order %s: %s", cid, e)
            return Ack(cid, OrderStatus.REJECTED, None, f"rejected: {e}")
        return option_ack(snap)

    def lookup(self, client_order_id: str) -> Ack | None:
        """Alpaca's answer for the order ``client_order_id``; None when Alpaca never had it.

        Raises:
            TemporaryBrokerError: Alpaca stayed unreachable after the retries.
        """
        snap = self._snapshot(client_order_id)
        return None if snap is None else option_ack(snap)

    def poll_option_fills(self, orders: Iterable[OptionOrder]) -> list[OptionOrderUpdate]:
        """Where each of ``orders`` (sent, not settled) stands, with its fill once final.

        Raises:
            TemporaryBrokerError: Alpaca stayed unreachable after the retries.
            BrokerError: Alpaca's legs do not match an order's.
        """
        out: list[OptionOrderUpdate] = []
        for order in orders:
            cid = order.client_order_id
            snap = self._snapshot(cid)
            if snap is None:
                detail = "never reached Alpaca (no order with this client id)"
                out.append(OptionOrderUpdate(Ack(cid, OrderStatus.CANCELLED, None, detail)))
                continue
            done = option_fill(order, snap)
            fill, units = done if done is not None else (None, 0)
            ack = option_ack(snap)
            if snap.status == "filled":
                ack = Ack(cid, OrderStatus.FILLED, snap.order_id)
            out.append(OptionOrderUpdate(ack, fill, units))
        return out

    # -- reconciliation ----------------------------------------------------------------

    def option_positions(self) -> dict[str, int]:
        """Option contracts held at Alpaca by OCC symbol (> 0 long, < 0 short); stocks left out."""
        held = self._call("reading positions", lambda: self._client.get_all_positions())
        out: dict[str, int] = {}
        for p in held:
            if str(getattr(p.asset_class, "value", p.asset_class)) != "us_option":
                continue
            qty = position_qty(p)
            if qty != qty.to_integral_value():
                raise BrokerError(f"Alpaca holds {qty} contracts of {p.symbol}: not a whole number")
            out[p.symbol] = int(qty)
        return out

    def option_events(self, since: date) -> list[OptionEvent]:
        """Alpaca's assignments, expiries and exercises of options on or after ``since``, oldest first.

        Raises:
            TemporaryBrokerError: Alpaca stayed unreachable after the retries.
        """
        params: dict[str, Any] = {
            "activity_types": ",".join(OPTION_EVENT_TYPES),
            "after": (since - timedelta(days=1)).isoformat(),
            "direction": "asc",
            "page_size": _PAGE,
        }
        out: list[OptionEvent] = []
        while True:
            page = self._call("reading option events", functools.partial(self._events_page, params))
            events = self._once("reading option events", functools.partial(_events, page))
            out.extend(events)
            if len(page) < _PAGE:
                return out
            params = {**params, "page_token": page[-1]["id"]}

    # -- internals ---------------------------------------------------------------------

    def _events_page(self, params: dict[str, Any]) -> list[Any]:
        return list(self._client.get("/account/activities", dict(params)) or [])

    def _request(self, order: OptionOrder, what: str) -> Any:
        fields = option_order_fields(order)
        r = _requests()
        try:
            if "legs" in fields:
                fields["legs"] = [r.OptionLegRequest(**leg) for leg in fields["legs"]]
            kind = fields.pop("type")
            cls = r.MarketOrderRequest if kind == "market" else r.LimitOrderRequest
            return cls(**fields)
        except ValueError as e:  # pydantic's ValidationError: alpaca-py refuses the fields
            raise OrderRejectedError(f"{what}: alpaca-py refuses the order: {e}"[:500]) from e

    def _send(self, request: Any, cid: str, what: str) -> OptionOrderSnapshot:
        """POST once; after a doubtful failure look it up by client id, never resend blindly."""
        return self._post_once(
            what, cid, lambda: option_snapshot(self._client.submit_order(request)), self._snapshot
        )

    def _snapshot(self, cid: str) -> OptionOrderSnapshot | None:
        try:
            return self._call(
                f"looking up option order {cid}",
                lambda: option_snapshot(self._client.get_order_by_client_id(cid)),
            )
        except NotFoundError:
            return None
