"""A venue's option orders in the options session's broker shape, sent after the commit.

The session (``options_cycle.run_options_session``) submits orders as it decides them
and asks the broker for fills when it settles. For a venue that would send inside the
ledger's transaction; :class:`VenueOptionsBroker` keeps the stock cycle's discipline
instead:

- ``submit`` only queues: the order is recorded ``pending`` (the outbox) in the
  cycle's transaction, and :meth:`VenueOptionsBroker.send` sends the queue after the
  commit, recording each answer in its own transaction (a timeout: ``unknown``, for
  the lookup by client id);
- :func:`resolve_option_outbox` runs before the cycle: an order recorded with no
  answer is looked up by its client id (adopted when the venue has it; when it never
  arrived: sent now if it was planned on the last marked session or later, else
  cancelled as too old), the stock outbox's rule;
- ``poll`` reads the sent orders (``poll_option_fills``): a final one with units
  filled comes back as a fill (of those units), one that ended without a fill as a
  cancellation with the venue's reason.

:class:`OptionOrdersApi` is what it needs of ``adapters.alpaca.option_orders
.AlpacaOptionOrders``, so the tests give a fake.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Protocol

from invest.runtime.brokers.options_paper import OptionOrderFill
from invest.runtime.domain import UNANSWERED, Ack, OrderStatus
from invest.runtime.engine.options_sink import OptionsLedgerSink
from invest.runtime.errors import TemporaryBrokerError
from invest.runtime.ledger import Ledger
from invest.runtime.ledger.options import StoredOptionOrder
from invest.runtime.options.book import OptionFill
from invest.runtime.options.plan import OptionOrder, OptionsSink

if TYPE_CHECKING:
    from invest.runtime.adapters.alpaca.option_parsing import OptionEvent

__all__ = [
    "OptionOrdersApi",
    "VenueOptionsBroker",
    "option_mismatches",
    "resolve_option_outbox",
]

logger = logging.getLogger(__name__)


class _Update(Protocol):
    @property
    def ack(self) -> Ack: ...
    @property
    def fill(self) -> OptionFill | None: ...
    @property
    def contracts(self) -> int: ...


class OptionOrdersApi(Protocol):
    """A venue's option orders (``AlpacaOptionOrders``)."""

    def submit_option(self, order: OptionOrder) -> Ack: ...

    def lookup(self, client_order_id: str) -> Ack | None: ...

    def poll_option_fills(self, orders: Iterable[OptionOrder]) -> Sequence[_Update]: ...

    def option_positions(self) -> dict[str, int]: ...

    def option_events(self, since: date) -> Sequence[OptionEvent]: ...


def option_mismatches(
    ledger: Ledger, api: OptionOrdersApi, account: str, today: date, since: date
) -> list[str]:
    """Why the ledger's option legs of ``account`` differ from the venue's holdings (empty: none).

    The venue's assignments, expiries and exercises since ``since`` explain a symbol they
    touched (``reconcile_option_positions`` says so); every difference is listed, since an
    options book the ledger cannot explain is not one to keep trading.
    """
    from invest.runtime.adapters.alpaca.option_parsing import (
        ledger_option_legs,
        reconcile_option_positions,
    )

    legs = ledger_option_legs(ledger.load_book(account).open_positions())
    found = reconcile_option_positions(
        legs, api.option_positions(), today, api.option_events(since)
    )
    return [f"{m.symbol}: {m.explanation}" for m in found]


def resolve_option_outbox(ledger: Ledger, api: OptionOrdersApi, account: str) -> list[Ack]:
    """Give each option order of ``account`` with no answer yet its answer (see the module).

    Raises:
        TemporaryBrokerError: the venue could not be asked; the rest stay in the outbox.
    """
    sink = OptionsLedgerSink(ledger)
    last = ledger.last_day(account)
    out: list[Ack] = []
    for stored in ledger.open_option_orders(account, unanswered_only=True):
        cid = stored.order.client_order_id
        ack = api.lookup(cid)
        if ack is not None:
            logger.info("%s: option order %s found at the broker: adopted", account, cid)
        elif last is None or stored.day.isoformat() >= last:
            logger.warning(
                "%s: option order %s never reached the broker: sending it now", account, cid
            )
            try:
                ack = api.submit_option(stored.order)
            except TemporaryBrokerError as e:
                sink.option_answer(Ack(cid, OrderStatus.UNKNOWN, None, str(e)[:300]))
                raise
        else:
            why = f"never reached the broker; planned on {stored.day}, too old to send now"
            ack = Ack(cid, OrderStatus.CANCELLED, None, why)
        sink.option_answer(ack)
        out.append(ack)
    return out


class VenueOptionsBroker:
    """The options session's broker over a venue (see the module)."""

    name = "venue-options"

    def __init__(self, api: OptionOrdersApi, open_orders: Sequence[StoredOptionOrder]) -> None:
        self.api = api
        #: The ledger's open option orders (answered: at the venue), by client id.
        self._open = {
            s.order.client_order_id: s.order for s in open_orders if s.status not in UNANSWERED
        }
        self._queued: list[OptionOrder] = []
        self._cancelled: list[tuple[OptionOrder, str]] = []

    def submit(self, orders: Sequence[OptionOrder], day: date) -> list[Ack]:
        """Queue ``orders`` for :meth:`send` (after the commit); each stays ``pending``."""
        seen = {o.client_order_id for o in self._queued}
        self._queued += [o for o in orders if o.client_order_id not in seen]
        return [Ack(o.client_order_id, OrderStatus.PENDING, None) for o in orders]

    def open_orders(self) -> list[OptionOrder]:
        """Orders at the venue and orders queued, neither filled nor cancelled yet."""
        return [*self._open.values(), *self._queued]

    def take_cancelled(self) -> list[tuple[OptionOrder, str]]:
        """Orders that ended without a fill since the last call, with the venue's reason."""
        out, self._cancelled = self._cancelled, []
        return out

    def cancel(self, order: OptionOrder, reason: str) -> None:
        """The book refused a fill the venue made: said loudly (reconciliation will differ)."""
        logger.error(
            "%s: option order %s filled at the broker but refused by the book: %s",
            order.account,
            order.client_order_id,
            reason,
        )
        self._open.pop(order.client_order_id, None)
        self._cancelled.append((order, reason))

    def poll(self, day: date) -> list[OptionOrderFill]:
        """The fills of the orders that ended at the venue (of the units filled); cancellations kept."""
        orders = list(self._open.values())
        out: list[OptionOrderFill] = []
        for order, update in zip(orders, self.api.poll_option_fills(orders), strict=True):
            status = update.ack.status
            if update.fill is not None:
                self._open.pop(order.client_order_id)
                units = update.contracts
                done = (
                    order
                    if units == order.contracts
                    else dataclasses.replace(order, contracts=units)
                )
                out.append(OptionOrderFill(done, update.fill))
            elif status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
                self._open.pop(order.client_order_id)
                self._cancelled.append((order, update.ack.detail or status.value))
        return out

    def send(self, sink: OptionsSink) -> list[Ack]:
        """Send the queued orders (the cycle has committed them) and record each answer."""
        acks: list[Ack] = []
        for order in self._queued:
            try:
                ack = self.api.submit_option(order)
            except TemporaryBrokerError as e:  # whether it arrived is unknown: looked up later
                ack = Ack(order.client_order_id, OrderStatus.UNKNOWN, None, str(e)[:300])
            sink.option_answer(ack)
            if ack.status in (OrderStatus.SUBMITTED, OrderStatus.PARTIAL, OrderStatus.UNKNOWN):
                self._open[order.client_order_id] = order
            acks.append(ack)
        self._queued = []
        return acks
