"""The kill switch: cancel every open order of an account, or sell every position.

Both go to the broker first and then to the ledger; a crash in between is
repaired by the next reconciliation (an order the broker no longer has is marked
cancelled). Flatten orders never wait for the LLM or the strategy: they are
recorded and sent like any other order, under client ids derived from a
``ACCOUNT:DAY:flattenN`` cycle id, so a retry cannot send them twice.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from invest.runtime.cycle import AccountRuntime, send
from invest.runtime.domain import HaltState, OrderIntent, OrderStatus, Side, client_order_id
from invest.runtime.ledger import Ledger, LedgerSink, reads

__all__ = ["cancel_open_orders", "flatten"]


def cancel_open_orders(ledger: Ledger, acct: AccountRuntime, reason: str) -> list[OrderIntent]:
    """Cancel every open order of ``acct`` at its broker, then in the ledger.

    Returns:
        The orders cancelled.
    """
    cancelled = acct.broker.cancel_all()
    with ledger.transaction():
        for intent in cancelled:
            ledger.set_order_status(intent.client_order_id, OrderStatus.CANCELLED)
            ledger.event(
                acct.name,
                "order_cancelled",
                {"client_order_id": intent.client_order_id, "reason": reason},
            )
    return cancelled


def _flatten_cycle(ledger: Ledger, account: str, day: date) -> str:
    prefix = f"{account}:{day.isoformat()}:flatten"
    return f"{prefix}{reads.flatten_cycles(ledger.conn, account, prefix) + 1}"


def flatten(ledger: Ledger, acct: AccountRuntime, day: date, actor: str) -> list[OrderIntent]:
    """Cancel the open orders of ``acct``, sell every position, and HALT the account.

    The account stays HALTED so that the strategy does not buy back; a ``resume``
    lifts it. The sells fill like any order (the paper broker: at the next bar).

    Args:
        ledger: the ledger (the engine's writer).
        acct: the account, built from the ledger (state and open orders).
        day: the session the orders are decided on (the last completed session).
        actor: who asked, for the audit log.

    Returns:
        The sell orders sent.
    """
    cancel_open_orders(ledger, acct, f"flatten by {actor}")
    last = reads.marks(ledger.conn, acct.name)
    cycle_id = _flatten_cycle(ledger, acct.name, day)
    intents = [
        OrderIntent(
            acct.name,
            cycle_id,
            p.symbol,
            Side.SELL,
            p.quantity,
            Decimal(str(round(last.get(p.symbol, float(p.avg_cost)), 6))),
            f"flatten by {actor}",
            client_order_id(acct.name, cycle_id, p.symbol, Side.SELL),
        )
        for p in acct.state.positions.values()
        if p.quantity > 0
    ]
    with ledger.transaction():  # the outbox: recorded and committed before the broker call
        fresh = [i for i in intents if ledger.record_order(i, day.isoformat())]
        ledger.event(acct.name, "flatten", {"actor": actor, "orders": len(fresh)})
        if acct.state.halt is not HaltState.HALTED:
            ledger.set_halt(acct.name, HaltState.HALTED, f"flattened by {actor}")
    send(acct, fresh, day, LedgerSink(ledger))
    return fresh
