"""The Broker interface. Paper and Alpaca implement it; the cycle only sees this."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol

from invest.runtime.domain import Fill, OrderIntent
from invest.runtime.market import Market


class Broker(Protocol):
    """Where order intents go and fills come from.

    ``submit`` must be idempotent on ``client_order_id``: submitting the same
    intent twice never creates a second order.
    """

    name: str

    def submit(self, intents: Sequence[OrderIntent], day: date) -> None:
        """Send orders decided on session ``day`` (already recorded in the ledger)."""
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
