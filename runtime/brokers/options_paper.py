"""PaperOptionsBroker: simulated option orders, filled at the next session's chain.

Like the stock paper broker, an order decided on a session fills at the NEXT one
(``poll(day)`` with ``day`` after the order's), here at that day's chain through the
:class:`~invest.runtime.brokers.options_fills.OptionFillModel`. Orders live one
session (a day order):

- a market order (``limit_premium`` None: the monitors' exits) always fills;
- a limit order fills only if the fill's net premium per share per unit is at least
  as good as its limit (a credit at least the limit, a debit at most its size), else
  it is cancelled with the reason, and the next cycle decides again;
- an order with a leg the chain does not quote (or no chain that day) is cancelled
  with the reason: a paper fill never invents a contract or a price.

Closes fill before opens, so that a roll's buy-back releases its reserve before the
new position is booked. The broker returns fills; the cycle books them (the book
may still refuse one, e.g. for cash, and the cycle cancels it then).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from invest.runtime.brokers.options_fills import OptionFillModel
from invest.runtime.domain import Ack, OrderStatus
from invest.runtime.errors import DataError
from invest.runtime.options.book import OptionAction, OptionFill
from invest.runtime.options.chain import ChainSource
from invest.runtime.options.plan import OptionOrder, OrderAction

__all__ = ["OptionOrderFill", "PaperOptionsBroker", "net_premium"]

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class OptionOrderFill:
    """An order and its fill."""

    order: OptionOrder
    fill: OptionFill


def net_premium(fill: OptionFill, contracts: int) -> float:
    """The fill's net premium per share per unit: > 0 received, < 0 paid (as the limit)."""
    return -sum(leg.contracts * leg.price for leg in fill.legs) / contracts


class PaperOptionsBroker:
    """A broker for option structures that fills at the next session's chain."""

    name = "paper-options"

    def __init__(
        self,
        chains: ChainSource,
        model: OptionFillModel,
        pending: Sequence[tuple[OptionOrder, date]] = (),
    ) -> None:
        self.chains = chains
        self.model = model
        #: (order, session it was decided on), in the order submitted.
        self._pending: dict[str, tuple[OptionOrder, date]] = {
            o.client_order_id: (o, d) for o, d in pending
        }
        #: Every client id ever accepted: a repeat is never queued again.
        self._seen: set[str] = set(self._pending)
        self._cancelled: list[tuple[OptionOrder, str]] = []

    def submit(self, orders: Sequence[OptionOrder], day: date) -> list[Ack]:
        """Queue orders decided on ``day`` (idempotent on the client id); all ``SUBMITTED``."""
        for order in orders:
            if order.client_order_id in self._seen:
                continue
            self._seen.add(order.client_order_id)
            self._pending[order.client_order_id] = (order, day)
        return [Ack(o.client_order_id, OrderStatus.SUBMITTED, o.client_order_id) for o in orders]

    def open_orders(self) -> list[OptionOrder]:
        """Orders submitted and neither filled nor cancelled yet."""
        return [o for o, _ in self._pending.values()]

    def take_cancelled(self) -> list[tuple[OptionOrder, str]]:
        """Orders cancelled since the last call, with the reason (then forgotten)."""
        out, self._cancelled = self._cancelled, []
        return out

    def cancel(self, order: OptionOrder, reason: str) -> None:
        """Record a cancellation decided outside (the book refused the fill)."""
        self._pending.pop(order.client_order_id, None)
        self._cancelled.append((order, reason))

    def poll(self, day: date) -> list[OptionOrderFill]:
        """Fill (or cancel) every order decided before ``day`` at ``day``'s chain; closes first."""
        due = [(o, d) for o, d in self._pending.values() if d < day]
        due.sort(key=lambda od: od[0].action is not OrderAction.CLOSE)  # stable: closes first
        out: list[OptionOrderFill] = []
        for order, _ in due:
            del self._pending[order.client_order_id]
            why, fill = self._fill(order, day)
            if fill is None:
                self._cancelled.append((order, why))
            else:
                out.append(OptionOrderFill(order, fill))
        return out

    def _fill(self, order: OptionOrder, day: date) -> tuple[str, OptionFill | None]:
        underlying = order.structure.underlying
        try:
            chain = self.chains.chain(underlying, day)
            fill = self.model.fill(
                chain,
                order.structure,
                order.contracts,
                action=OptionAction.OPEN
                if order.action is OrderAction.OPEN
                else OptionAction.CLOSE,
                client_order_id=order.client_order_id,
                account=order.account,
                position_id=order.position_id,
                day=day,
                reason=order.reason,
            )
        except DataError as e:  # DataUnavailableError too: no chain, a leg not quoted
            return f"not filled on {day}: {e}", None
        if order.limit_premium is None:
            return "", fill
        got = net_premium(fill, order.contracts)
        if got < order.limit_premium - _EPS:
            return (
                f"limit not met on {day}: net premium {got:+.2f}/share, the limit is "
                f"{order.limit_premium:+.2f} (a one-day order: cancelled)"
            ), None
        return "", fill
