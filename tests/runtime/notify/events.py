"""Engine events for the notifier tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from invest.runtime.domain import HaltState
from invest.runtime.events import (
    AccountReport,
    CycleSummary,
    DailyReport,
    ErrorEvent,
    Event,
    Halted,
    OrderFilled,
    OrderRejected,
    OrderSent,
    Resumed,
    StopTriggered,
    WeeklySummary,
)

AT = datetime(2024, 3, 14, 21, 0, tzinfo=UTC)
DAY = date(2024, 3, 14)
REPORTS = (
    AccountReport("trend-daily", 10234.5, 120.0, 0.0119, 2, 5, "ACTIVE", "ATTACK"),
    AccountReport("rl-weekly", 5010.0, -15.0, -0.003, 0, 3, "ACTIVE"),
)
RECORD = {
    "day": "2024-03-14",
    "account": "trend-daily",
    "regime": "ATTACK",
    "equity": 10234.5,
    "scores": {"AAPL": 1.8},
    "orders": [
        {"side": "buy", "qty": "2", "symbol": "AAPL", "ref_price": "178", "reason": "target 20%"}
    ],
    "clamps": [{"rule": "cash_reserve", "symbol": "*", "reason": "kept 5% cash"}],
}


def sent() -> OrderSent:
    return OrderSent(
        at=AT,
        account="trend-daily",
        client_order_id="inv-1",
        symbol="AAPL",
        side="buy",
        quantity=Decimal("2"),
        ref_price=Decimal("178.00"),
        reason="target 20%",
    )


def every_event() -> list[Event]:
    return [
        sent(),
        OrderFilled(
            at=AT,
            account="trend-daily",
            client_order_id="inv-1",
            symbol="AAPL",
            side="buy",
            quantity=Decimal("2"),
            price=Decimal("178.12"),
            fees=Decimal(0),
            day=DAY,
        ),
        OrderRejected(
            at=AT,
            account="trend-daily",
            client_order_id="inv-2",
            symbol="TSLA",
            reason="insufficient buying power",
        ),
        StopTriggered(
            at=AT,
            account="trend-daily",
            symbol="NVDA",
            rule="stop_loss",
            reason="down 15.2% from cost",
        ),
        CycleSummary(
            at=AT,
            account="trend-daily",
            cycle_id="trend-daily:2024-03-14",
            day=DAY,
            equity=10234.5,
            record=RECORD,
        ),
        Halted(at=AT, account=None, state=HaltState.HALTED, reason="daily loss 6.1% >= 5%"),
        Resumed(at=AT, account="trend-daily", actor="telegram:333"),
        ErrorEvent(
            at=AT,
            account="trend-daily",
            error="TemporaryBrokerError",
            message="Alpaca down",
            consecutive=2,
        ),
        DailyReport(at=AT, day=DAY, accounts=REPORTS),
        WeeklySummary(at=AT, week_ending=DAY, accounts=REPORTS),
    ]


def curves(_event: Event | None) -> dict[str, list[float]]:
    return {
        "trend-daily": [10000.0, 10050.0, 9990.0, 10114.5, 10234.5],
        "rl-weekly": [5000.0, 5025.0, 5010.0],
    }
