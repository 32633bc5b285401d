"""The ledger's sink for an options account (the live cycle's, the demo's, the venue outbox's)."""

from __future__ import annotations

from invest.runtime.domain import Ack, Fill, OrderStatus
from invest.runtime.ledger import LedgerSink

__all__ = ["OptionsLedgerSink"]


class OptionsLedgerSink(LedgerSink):
    """The ledger's sink for an options account.

    Two differences from the stock sink, both about what an options account records:
    its only stock fills are settlements (a put assigned, a call called away), which
    go in with their own ``filled`` order row (:meth:`LedgerSink.assignment`: no order
    was sent for them, and a rerun never moves the shares twice); and a paper order
    the broker cancels (a limit not met, no quote) is marked cancelled, so that it is
    not queued again at the next run.
    """

    def fill(self, fill: Fill) -> None:
        """Record the stock fill of a settlement with its order row (once)."""
        self.assignment(fill, f"{fill.account}:{fill.day.isoformat()}")

    def option_answer(self, ack: Ack) -> None:
        """Record the answer; a cancellation or rejection of an accepted order closes it."""
        super().option_answer(ack)
        if ack.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
            self.option_cancel(ack.client_order_id, ack.detail or ack.status.value)
