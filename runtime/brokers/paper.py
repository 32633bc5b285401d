"""PaperBroker: simulated executions with the shared fill model. No ``if dry_run``.

Orders wait until the next bar (``poll`` at a later row), then fill there:
sells first, so that their proceeds are settled before any buy is checked
against cash; a buy is cut to the cash available at fill time.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from invest.runtime.brokers.fills import FillModel
from invest.runtime.domain import Fill, OrderIntent, Side, money
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

    def submit(self, intents: Sequence[OrderIntent], day: date) -> None:
        """Queue orders decided on ``day``; a client id seen before is ignored (idempotent)."""
        for intent in intents:
            self._pending.setdefault(intent.client_order_id, (intent, day))

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
                    continue
            notional = float(qty) * price
            fees = self.model.fees(notional)
            px = Decimal(str(price))
            cash += (-1 if intent.side is Side.BUY else 1) * money(qty * px) - fees
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
