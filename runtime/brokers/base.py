"""The Broker interface. Paper and Alpaca implement it; the cycle only sees this."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from invest.runtime.domain import Fill, OrderIntent, OrderStatus

if TYPE_CHECKING:  # the Market loads the data providers (pandas): Ack users need none of it
    from invest.runtime.market import Market


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


class Broker(Protocol):
    """Where order intents go and fills come from.

    ``submit`` must be idempotent on ``client_order_id``: submitting the same
    intent twice never creates a second order.
    """

    name: str

    def submit(self, intents: Sequence[OrderIntent], day: date) -> list[Ack]:
        """Send orders decided on session ``day`` (committed to the ledger's outbox already).

        Returns one answer per intent, in order.

        Raises:
            BrokerError: the broker could not be reached (the answers of the intents
                before the failing one are lost with it; their client ids find them).
        """
        ...

    def find(self, client_order_id: str) -> Ack | None:
        """The broker's answer for an order it has under ``client_order_id``; None: it has none.

        Raises:
            BrokerError: the broker could not be asked.
        """
        ...

    def poll(self, market: Market, t: int, cash: Decimal) -> list[Fill]:
        """Fills that happened by row ``t`` (for paper: executes at bar ``t``)."""
        ...

    def take_cancelled(self) -> list[tuple[OrderIntent, str]]:
        """Orders the broker cancelled since the last call, with the reason (then forgets them)."""
        ...

    def open_orders(self) -> list[OrderIntent]:
        """Orders sent and not yet filled or cancelled."""
        ...

    def cancel_all(self) -> list[OrderIntent]:
        """Cancel every open order; return what was cancelled."""
        ...
