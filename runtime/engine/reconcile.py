"""Reconciliation: the ledger against the broker (the outbox, open orders, fills, positions).

Run at start-up, before any trading, and periodically; ``invest run`` and every
engine cycle resolve the outbox before they plan.

**The outbox first** (:func:`resolve_outbox`). Orders go out through an outbox:
the cycle's transaction commits each order as ``pending`` before the broker is
called, and the broker's answer is recorded afterwards in a transaction of its
own (``submitted`` with the broker's id, ``rejected``/``cancelled``, or
``unknown`` when the answer was lost to a timeout). An order still ``pending``
or ``unknown`` has no answer: the process died between the commit and the
answer, or the broker did not answer. Each is asked for by its client id:

* the broker has it -> its answer is adopted (``submitted``; a fill comes
  through the broker's fills as usual; a dead order is ``cancelled``);
* the broker does not have it, and the order is from the account's latest
  marked session -> it never arrived: it is sent now under the same client id,
  once per resolution. A resend cannot double it: Alpaca refuses a second order
  with a client id it already has (422, which the broker turns into a look-up),
  and the paper broker's book *is* the ledger's open orders, so it always
  finds a paper intent and never queues it twice;
* the broker does not have it, and a later session was marked since -> what was
  planned on old prices is not sent late: it is marked ``cancelled``.

Then the rest, differences with a known cause adopted and written down (an
audit event each):

* a fill the broker reports for an order the ledger has open (or cancelled too
  late) -> the fill is recorded and applied;
* an order or fill with our client-id prefix that the ledger lacks -> its cycle's
  transaction rolled back after the broker had it; the order (and fill) is recorded;
* an order the ledger has open that the broker does not know (not open, no fill)
  -> it expired (or was never sent, where no outbox resolution ran): marked cancelled.

Anything else (an order or fill the broker has and we never made, a position that
differs with no fill to explain it) halts the account and raises an alert.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from invest.runtime.brokers.base import Broker
from invest.runtime.brokers.paper import PaperBroker
from invest.runtime.domain import OPEN, Ack, Fill, HaltState, OrderIntent, OrderStatus, Side
from invest.runtime.errors import TemporaryBrokerError
from invest.runtime.ledger import Ledger, reads
from invest.runtime.ledger import engine_state as repo

__all__ = [
    "CLIENT_ID_PREFIX",
    "LedgerView",
    "PaperReconciler",
    "Reconciliation",
    "ReconcilingBroker",
    "apply_reconciliation",
    "compare",
    "ledger_view",
    "reconciling_broker",
    "resolve_outbox",
]

logger = logging.getLogger(__name__)

#: Client order ids made by :func:`invest.runtime.domain.client_order_id` start with this.
CLIENT_ID_PREFIX = "inv-"
_OPEN = frozenset(OPEN)


def resolve_outbox(ledger: Ledger, broker: Broker, account: str) -> list[Ack]:
    """Give every order of ``account``'s outbox (no broker answer yet) its answer; see above.

    Each answer is recorded at once, in its own transaction.

    Returns:
        The answers recorded, in the order resolved.

    Raises:
        BrokerError: the broker could not be asked; the orders resolved so far are
            recorded, the rest stay in the outbox for the next resolution.
    """
    last = ledger.last_day(account)
    out: list[Ack] = []
    for intent, day, status in ledger.unanswered(account):
        cid = intent.client_order_id
        ack = broker.find(cid)
        if ack is not None:
            logger.info("%s: order %s (%s) found at the broker: adopted", account, cid, status)
        elif last is None or day.isoformat() >= last:
            logger.warning("%s: order %s never reached the broker: sending it now", account, cid)
            ledger.event(account, "outbox_resend", {"client_order_id": cid, "was": status.value})
            try:
                (ack,) = broker.submit([intent], day)
            except TemporaryBrokerError as e:
                ledger.record_answer(Ack(cid, OrderStatus.UNKNOWN, None, str(e)[:300]))
                raise
        else:
            why = f"never reached the broker; planned on {day.isoformat()}, too old to send now"
            ack = Ack(cid, OrderStatus.CANCELLED, None, why)
        ledger.record_answer(ack)
        out.append(ack)
    return out


@runtime_checkable
class ReconcilingBroker(Protocol):
    """What a broker reports for reconciliation (live brokers implement it beside Broker)."""

    def positions(self) -> dict[str, Decimal]:
        """Quantity held per symbol at the broker (zero positions left out)."""
        ...

    def open_orders(self) -> list[OrderIntent]:
        """Orders open at the broker; ones we did not make carry their broker client id."""
        ...

    def fills_since(self, ts: datetime) -> list[Fill]:
        """Executions at or after ``ts``, oldest first."""
        ...


class PaperReconciler:
    """The paper broker as a :class:`ReconcilingBroker`.

    The paper broker keeps no account of its own: its open orders are the ledger's
    (restored at build), its fills reach the ledger through ``poll``, and its
    positions are the sum of the fills it made, read from the ledger's fill table.
    Reconciling it checks that the positions snapshot equals the sum of the fills.
    """

    def __init__(self, broker: PaperBroker, conn: sqlite3.Connection, account: str) -> None:
        self.broker = broker
        self.conn = conn
        self.account = account

    def positions(self) -> dict[str, Decimal]:
        """Buys minus sells per symbol, from the fills."""
        return reads.fill_totals(self.conn, self.account)

    def open_orders(self) -> list[OrderIntent]:
        """The orders the paper broker is holding."""
        return self.broker.open_orders()

    def fills_since(self, ts: datetime) -> list[Fill]:
        """None: the paper broker reports fills through ``poll`` only."""
        return []


def reconciling_broker(
    broker: Broker, conn: sqlite3.Connection, account: str
) -> ReconcilingBroker | None:
    """The reconciling view of ``broker``, or None when it offers none."""
    if isinstance(broker, ReconcilingBroker):
        return broker
    if isinstance(broker, PaperBroker):
        return PaperReconciler(broker, conn, account)
    return None


@dataclass(frozen=True, slots=True)
class LedgerView:
    """What the ledger believes about one account."""

    account: str
    orders: dict[str, dict[str, Any]]
    positions: dict[str, Decimal]
    filled: dict[str, Decimal]


def ledger_view(conn: sqlite3.Connection, account: str) -> LedgerView:
    """Read the account's orders, positions snapshot and filled quantities."""
    return LedgerView(
        account,
        reads.order_rows(conn, account),
        reads.position_quantities(conn, account),
        reads.filled_quantities(conn, account),
    )


@dataclass
class Reconciliation:
    """What reconciling one account found and what will be done about it."""

    account: str
    adopt_orders: list[OrderIntent] = field(default_factory=list)
    adopt_fills: list[Fill] = field(default_factory=list)
    cancel: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every difference was explained."""
        return not self.mismatches

    def summary(self) -> str:
        """One line for the log."""
        return (
            f"{self.account}: {len(self.adopt_fills)} fills and {len(self.adopt_orders)} orders "
            f"adopted, {len(self.cancel)} orders cancelled, {len(self.mismatches)} unexplained"
        )


def _adopted_intent(account: str, o: OrderIntent | Fill, day: date) -> OrderIntent:
    ref = o.ref_price if isinstance(o, OrderIntent) else o.price
    return OrderIntent(
        account,
        f"{account}:{day.isoformat()}:adopted",
        o.symbol,
        o.side,
        o.quantity,
        ref,
        "adopted at reconciliation (its cycle rolled back after the broker had it)",
        o.client_order_id,
    )


def compare(
    view: LedgerView,
    broker_open: Sequence[OrderIntent],
    broker_fills: Sequence[Fill],
    broker_positions: dict[str, Decimal],
    today: date,
) -> Reconciliation:
    """Compare the ledger with the broker's report (a pure function)."""
    rec = Reconciliation(view.account)
    known = dict(view.orders)
    _fills(rec, view, known, broker_fills, today)
    open_ids = {o.client_order_id for o in broker_open}
    for o in broker_open:
        status = known.get(o.client_order_id, {}).get("status")
        if status is None:
            if o.client_order_id.startswith(CLIENT_ID_PREFIX):
                rec.adopt_orders.append(_adopted_intent(view.account, o, today))
                known[o.client_order_id] = {"status": OrderStatus.SUBMITTED.value}
            else:
                rec.mismatches.append(
                    f"unknown order at the broker: {o.client_order_id} {o.side} {o.quantity} {o.symbol}"
                )
        elif status not in _OPEN:
            rec.mismatches.append(
                f"order {o.client_order_id} ({o.symbol}) is {status} in the ledger but open at the broker"
            )
    filled_now = {f.client_order_id for f in rec.adopt_fills}
    for coid, row in sorted(view.orders.items()):
        if row["status"] in _OPEN and coid not in open_ids and coid not in filled_now:
            rec.cancel.append(
                (coid, "unknown to the broker at reconciliation (never sent, or expired)")
            )
    _positions(rec, view, broker_positions)
    return rec


def _fills(
    rec: Reconciliation,
    view: LedgerView,
    known: dict[str, dict[str, Any]],
    broker_fills: Sequence[Fill],
    today: date,
) -> None:
    seen: dict[str, Decimal] = {}
    for f in broker_fills:
        coid = f.client_order_id
        seen[coid] = seen.get(coid, Decimal(0)) + f.quantity
        if seen[coid] <= view.filled.get(coid, Decimal(0)):
            continue  # recorded already
        row = known.get(coid)
        if row is None and not coid.startswith(CLIENT_ID_PREFIX):
            rec.mismatches.append(
                f"fill of an order we never made: {coid} {f.side} {f.quantity} {f.symbol}"
            )
            continue
        if row is None:
            rec.adopt_orders.append(_adopted_intent(view.account, f, f.day))
            known[coid] = {"status": OrderStatus.SUBMITTED.value}
        elif row["status"] not in _OPEN and row["status"] != OrderStatus.FILLED.value:
            rec.notes.append(f"{coid} was {row['status']} in the ledger but filled at the broker")
        rec.adopt_fills.append(f)


def _positions(rec: Reconciliation, view: LedgerView, broker: dict[str, Decimal]) -> None:
    expected = dict(view.positions)
    for f in rec.adopt_fills:
        delta = f.quantity if f.side is Side.BUY else -f.quantity
        expected[f.symbol] = expected.get(f.symbol, Decimal(0)) + delta
    for sym in sorted(set(expected) | set(broker)):
        mine, theirs = expected.get(sym, Decimal(0)), broker.get(sym, Decimal(0))
        if mine != theirs:
            rec.mismatches.append(f"position {sym}: ledger {mine}, broker {theirs}")


def apply_reconciliation(ledger: Ledger, rec: Reconciliation, synced_at: str) -> None:
    """Write what ``rec`` adopts and cancels, and HALT the account on a mismatch (one transaction)."""
    name = rec.account
    with ledger.transaction():
        state = ledger.load_state(name)
        for intent in rec.adopt_orders:
            ledger.record_order(intent, intent.cycle_id.split(":")[1])
            ledger.event(name, "reconcile_adopt_order", {"client_order_id": intent.client_order_id})
        for f in rec.adopt_fills:
            try:
                state.apply_fill(f)
            except ValueError as e:
                rec.mismatches.append(f"fill {f.client_order_id} cannot apply: {e}")
                continue
            ledger.record_fill(f)
            ledger.event(name, "reconcile_adopt_fill", {"client_order_id": f.client_order_id})
        for coid, reason in rec.cancel:
            ledger.set_order_status(coid, OrderStatus.CANCELLED)
            ledger.event(name, "order_cancelled", {"client_order_id": coid, "reason": reason})
        if rec.adopt_fills:
            ledger.save_state(state, ledger.last_day(name))
        if rec.mismatches:
            ledger.event(name, "reconcile_mismatch", {"mismatches": rec.mismatches})
            if state.halt is not HaltState.HALTED:
                ledger.set_halt(
                    name, HaltState.HALTED, "reconciliation: " + "; ".join(rec.mismatches[:3])
                )
        repo.update_engine_account(ledger.conn, name, ledger.ts(), synced_at=synced_at)
    quiet = not (rec.mismatches or rec.adopt_fills or rec.adopt_orders or rec.cancel)
    level = logging.WARNING if rec.mismatches else logging.DEBUG if quiet else logging.INFO
    logger.log(level, "reconciled %s", rec.summary())
