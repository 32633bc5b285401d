"""Engine events for the notifier tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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
from invest.runtime.notify.chart import BenchmarkSeries, EquitySeries, TradeMark
from invest.runtime.notify.format import ReportData

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


def _days(n: int) -> tuple[date, ...]:
    """``n`` weekdays ending on DAY."""
    out: list[date] = []
    d = DAY
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d -= timedelta(days=1)
    return tuple(reversed(out))


def curves(_event: Event | None) -> ReportData:
    """Two accounts (the second shorter), the benchmark and two fills on DAY."""
    return ReportData(
        (
            EquitySeries("trend-daily", _days(5), (10000.0, 10050.0, 9990.0, 10114.5, 10234.5)),
            EquitySeries("rl-weekly", _days(3), (5000.0, 5025.0, 5010.0)),
        ),
        BenchmarkSeries("SP500", _days(6), (5100.0, 5110.0, 5090.0, 5120.0, 5150.0, 5160.0)),
        (TradeMark("trend-daily", DAY, "AAPL", "buy"), TradeMark("rl-weekly", DAY, "XOM", "sell")),
    )


def png_in(body: bytes) -> bytes:
    """The PNG file inside a multipart request body (from its signature to its IEND chunk)."""
    start = body.index(b"\x89PNG\r\n\x1a\n")
    end = body.index(b"IEND", start) + 8  # the chunk type, then its CRC
    return body[start:end]
