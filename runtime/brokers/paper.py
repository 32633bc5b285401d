"""PaperBroker: simulated executions with the shared fill model. No ``if dry_run``.

Orders wait until the next bar (``poll`` at a later row), then fill there:
sells first, so that their proceeds are settled before any buy is checked
against cash; a buy is cut to the cash available at fill time. Cash never goes
negative: a sale whose minimum commission exceeds its proceeds and the cash
there is charged only what they can pay.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from invest.runtime.brokers.fills import FillModel
from invest.runtime.domain import Ack, Fill, OrderIntent, OrderStatus, Side, money
from invest.runtime.market import Market

logger = logging.getLogger(__name__)


class PaperBroker:
    """A broker that fills at the next bar using :class:`FillModel`."""

    name = "paper"

    def __init__(self, model: FillModel, pending: Sequence[tuple[OrderIntent, date]] = ()) -> None:
        self.model = model
        #: (intent, session it was decided on); restored from the ledger after a restart.
        self._pending: dict[str, tuple[OrderIntent, date]] = {
            i.client_order_id: (i, d) for i, d in pending
        }
        #: Every client id ever accepted (filled, cancelled or open), like a real broker
        #: that refuses a reused client order id.
        self._seen: set[str] = set(self._pending)
        self._cancelled: list[tuple[OrderIntent, str]] = []

    def submit(self, intents: Sequence[OrderIntent], day: date) -> list[Ack]:
        """Queue orders decided on ``day``; a client id seen before is ignored (idempotent).

        Seen before means ever: an order that already filled or was cancelled is not
        queued again when a retry submits its intent a second time. Every intent is
        answered ``SUBMITTED`` (the paper broker refuses nothing at submission).
        """
        for intent in intents:
            if intent.client_order_id in self._seen:
                continue
            self._seen.add(intent.client_order_id)
            self._pending[intent.client_order_id] = (intent, day)
        return [self._ack(i.client_order_id) for i in intents]

    def find(self, client_order_id: str) -> Ack | None:
        """``SUBMITTED`` for an order this broker holds or held, else None.

        The paper broker's book is the ledger's open orders (restored at build), so an
        intent committed to the outbox before a crash is found here and adopted, never
        queued twice.
        """
        return self._ack(client_order_id) if client_order_id in self._seen else None

    @staticmethod
    def _ack(client_order_id: str) -> Ack:
        return Ack(client_order_id, OrderStatus.SUBMITTED, client_order_id)

    def take_cancelled(self) -> list[tuple[OrderIntent, str]]:
        """Orders cancelled at fill time since the last call (a buy cash could not pay)."""
        out, self._cancelled = self._cancelled, []
        return out

    def open_orders(self) -> list[OrderIntent]:
        """Orders not yet filled."""
        return [i for i, _ in self._pending.values()]

    def cancel_all(self) -> list[OrderIntent]:
        """Drop every pending order."""
        out = self.open_orders()
        self._pending.clear()
        return out

    def poll(self, market: Market, t: int, cash: Decimal) -> list[Fill]:
        """Fill every order decided before session ``t`` at bar ``t``."""
        if not self._pending:
            return []
        day = market.day(t)
        due = [(i, d) for i, d in self._pending.values() if d < day]
        due.sort(key=lambda x: x[0].side is Side.BUY)  # sells first
        fills: list[Fill] = []
        opens = market.frame.open
        for intent, _ in due:
            j = market.col[intent.symbol]
            bar = float(opens[t, j]) if opens is not None else float(market.close[t, j])
            if not math.isfinite(bar) or bar <= 0:
                continue  # no bar today for this symbol: the order waits
            del self._pending[intent.client_order_id]
            price = round(self.model.price(intent.side, bar), 6)
            qty = intent.quantity
            if intent.side is Side.BUY:
                qty = self.model.affordable_qty(qty, price, cash)
                if qty <= 0:
                    logger.info(
                        "paper buy %s %s cancelled: no cash", intent.symbol, intent.client_order_id
                    )
                    self._cancelled.append((intent, "cancelled at fill: not enough cash"))
                    continue
            px = Decimal(str(price))
            gross = money(qty * px)
            fees = self.model.fees(float(qty * px))  # as affordable_qty computes them
            if intent.side is Side.SELL and fees > gross + cash:
                fees = self._waive(intent, fees, gross + cash)
            cash += (-gross if intent.side is Side.BUY else gross) - fees
            fills.append(
                Fill(
                    intent.client_order_id,
                    intent.account,
                    intent.symbol,
                    intent.side,
                    qty,
                    px,
                    fees,
                    day,
                    intent.reason,
                )
            )
        return fills

    @staticmethod
    def _waive(intent: OrderIntent, fees: Decimal, payable: Decimal) -> Decimal:
        # A cash account never goes negative: a sale worth less than its (minimum)
        # commission is charged only what its proceeds and the cash there can pay.
        logger.info(
            "paper sell %s %s: fees %s cut to %s (cash cannot go negative)",
            intent.symbol,
            intent.client_order_id,
            fees,
            payable,
        )
        return payable
