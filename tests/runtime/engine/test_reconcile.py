"""Reconciliation of the ledger with the broker (invariant 3): adopt what is explained, halt on the rest."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from invest.runtime.clock import FixedClock
from invest.runtime.domain import Fill, HaltState, OrderIntent, OrderStatus, Side, client_order_id
from invest.runtime.engine.reconcile import (
    LedgerView,
    PaperReconciler,
    ReconcilingBroker,
    apply_reconciliation,
    compare,
    ledger_view,
)
from invest.runtime.ledger import engine_state as repo
from invest.runtime.ledger import reads
from tests.runtime.engine.support import drive, make_engine, ny, two_weeks

DAY = date(2022, 6, 3)


def _intent(
    symbol: str = "KO", side: Side = Side.BUY, qty: str = "10", coid: str | None = None
) -> OrderIntent:
    cycle = f"acct:{DAY.isoformat()}"
    return OrderIntent(
        "acct", cycle, symbol, side, Decimal(qty), Decimal("60"), "test",
        coid or client_order_id("acct", cycle, symbol, side),
    )  # fmt: skip


def _fill(intent: OrderIntent, qty: str | None = None) -> Fill:
    q = Decimal(qty) if qty else intent.quantity
    return Fill(
        intent.client_order_id,
        "acct",
        intent.symbol,
        intent.side,
        q,
        Decimal("61"),
        Decimal(0),
        date(2022, 6, 6),
    )


def _view(*open_orders: OrderIntent, positions: dict[str, Decimal] | None = None) -> LedgerView:
    orders = {
        o.client_order_id: {
            "status": "submitted",
            "symbol": o.symbol,
            "side": o.side.value,
            "quantity": str(o.quantity),
            "day": DAY.isoformat(),
            "cycle_id": o.cycle_id,
        }
        for o in open_orders
    }
    return LedgerView("acct", orders, positions or {}, {})


def test_a_fill_the_broker_reports_for_a_submitted_order_is_adopted() -> None:
    buy = _intent()
    rec = compare(_view(buy), [], [_fill(buy)], {"KO": Decimal(10)}, DAY)
    assert rec.ok
    assert [f.client_order_id for f in rec.adopt_fills] == [buy.client_order_id]
    assert rec.cancel == []


def test_an_order_the_broker_does_not_know_is_cancelled_with_a_reason() -> None:
    never_sent = _intent()
    rec = compare(_view(never_sent), [], [], {}, DAY)
    assert rec.ok
    assert rec.cancel == [
        (
            never_sent.client_order_id,
            "unknown to the broker at reconciliation (never sent, or expired)",
        )
    ]


def test_an_order_of_ours_that_the_ledger_lost_is_adopted() -> None:
    orphan = _intent()  # its cycle rolled back after the broker had it
    rec = compare(_view(), [orphan], [], {}, DAY)
    assert rec.ok
    assert [o.client_order_id for o in rec.adopt_orders] == [orphan.client_order_id]
    assert rec.adopt_orders[0].cycle_id == "acct:2022-06-03:adopted"


def test_an_unknown_order_at_the_broker_is_unexplained() -> None:
    manual = _intent(coid="web-12345")
    rec = compare(_view(), [manual], [], {}, DAY)
    assert not rec.ok
    assert "unknown order at the broker: web-12345" in rec.mismatches[0]


def test_a_position_that_differs_with_no_fill_to_explain_it_is_unexplained() -> None:
    rec = compare(_view(positions={"KO": Decimal(10)}), [], [], {"KO": Decimal(12)}, DAY)
    assert rec.mismatches == ["position KO: ledger 10, broker 12"]


def test_a_fill_seen_before_is_not_adopted_twice() -> None:
    buy = _intent()
    view = LedgerView(
        "acct",
        {buy.client_order_id: {"status": "filled"}},
        {"KO": Decimal(10)},
        {buy.client_order_id: Decimal(10)},
    )
    rec = compare(view, [], [_fill(buy)], {"KO": Decimal(10)}, DAY)
    assert rec.ok
    assert rec.adopt_fills == []


def test_the_paper_broker_is_a_reconciling_broker_over_the_ledger(home: Path) -> None:
    clock = FixedClock(ny("2022-06-01", "08:00"))
    engine, _ = make_engine(home, clock)
    drive(engine, clock, ny("2022-06-14", "18:00"))
    conn = engine.ledger.conn
    acct = engine.build("weekly")
    rb = PaperReconciler(acct.broker, conn, "weekly")  # type: ignore[arg-type]
    assert isinstance(rb, ReconcilingBroker)
    rec = compare(
        ledger_view(conn, "weekly"),
        rb.open_orders(),
        rb.fills_since(datetime(2000, 1, 1, tzinfo=UTC)),
        rb.positions(),
        DAY,
    )
    assert rec.ok
    assert not rec.cancel
    assert not rec.adopt_fills
    assert rb.positions()  # it holds something after two weeks
    engine.shutdown()


def test_a_tampered_positions_snapshot_halts_the_account_at_startup_and_alerts(home: Path) -> None:
    clock = two_weeks(home)
    with closing(sqlite3.connect(home / "ledger.sqlite")) as db, db:
        db.execute("UPDATE positions SET quantity = quantity + 1 WHERE account = 'weekly'")
    engine, events = make_engine(home, clock)  # start-up reconciles
    conn = engine.ledger.conn
    assert repo.account_halt(conn, "weekly") is HaltState.HALTED
    assert repo.halt_reason(conn, "weekly").startswith("reconciliation: position")
    assert repo.account_halt(conn, "daily") is HaltState.ACTIVE
    assert [e.kind for e in events.events if e.account == "weekly"] == ["halted"]
    engine.shutdown()


def test_applying_adopts_fills_cancels_orders_and_records_why(home: Path) -> None:
    clock = FixedClock(ny("2022-06-06", "08:00"))
    engine, _ = make_engine(home, clock)
    ledger = engine.ledger
    filled = OrderIntent(
        "daily", "daily:2022-06-03", "KO", Side.BUY, Decimal(10), Decimal(60), "t", "inv-aaa"
    )
    lost = OrderIntent(
        "daily", "daily:2022-06-03", "PEP", Side.BUY, Decimal(5), Decimal(160), "t", "inv-bbb"
    )
    with ledger.transaction():
        ledger.record_order(filled, "2022-06-03")
        ledger.record_order(lost, "2022-06-03")
    fill = Fill(
        "inv-aaa", "daily", "KO", Side.BUY, Decimal(10), Decimal(61), Decimal(0), date(2022, 6, 6)
    )
    rec = compare(ledger_view(ledger.conn, "daily"), [], [fill], {"KO": Decimal(10)}, DAY)
    apply_reconciliation(ledger, rec, clock.now().isoformat())
    statuses = {k: v["status"] for k, v in reads.order_rows(ledger.conn, "daily").items()}
    assert statuses == {"inv-aaa": OrderStatus.FILLED.value, "inv-bbb": OrderStatus.CANCELLED.value}
    assert ledger.load_state("daily").positions["KO"].quantity == Decimal(10)
    reasons = [
        r[0]
        for r in ledger.conn.execute(
            "SELECT detail_json FROM events WHERE kind = 'order_cancelled'"
        )
    ]
    assert any("inv-bbb" in r and "never sent" in r for r in reasons)
    assert repo.engine_account(ledger.conn, "daily").synced_at == clock.now().isoformat()
    engine.shutdown()
