"""The Broker interface. Paper and Alpaca implement it; the cycle only sees this."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from invest.runtime.domain import Ack, Fill, OrderIntent

if TYPE_CHECKING:  # the Market loads the data providers (pandas): Ack users need none of it
    from invest.runtime.market import Market


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
