"""A tiny ledger of two accounts with known round trips and equity marks, for the trade views."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from invest.runtime.config import AccountConfig
from invest.runtime.domain import Fill, OrderIntent, OrderStatus, Side, client_order_id
from invest.runtime.ledger import Ledger

#: (account, day, symbol, side, quantity, price, fees, reason), in the order filled.
FILLS = (
    ("alpha", "2024-03-04", "AAA", "buy", "10", "100", "1", "target 20%"),
    ("beta", "2024-03-05", "BBB", "buy", "3", "50", "0", "target 10%"),
    ("alpha", "2024-03-06", "AAA", "buy", "10", "110", "1", "target 40%"),
    ("beta", "2024-03-07", "BBB", "sell", "3", "49", "0", "rebalance: out of the top 5"),
    ("alpha", "2024-03-11", "AAA", "sell", "5", "120", "1", "take profit +14.3%"),
    ("alpha", "2024-04-02", "AAA", "sell", "15", "100", "1", "stop loss -4.8%"),
)

#: (account, day, equity): alpha marks every listed day, beta only some (a weekly account).
EQUITY = (
    ("alpha", "2024-03-04", 9999.0),
    ("alpha", "2024-03-05", 10050.0),
    ("alpha", "2024-03-06", 10100.0),
    ("alpha", "2024-03-11", 10200.0),
    ("alpha", "2024-03-12", 10150.0),
    ("alpha", "2024-04-02", 9900.0),
    ("beta", "2024-03-05", 5000.0),
    ("beta", "2024-03-07", 4997.0),
    ("beta", "2024-04-02", 5010.0),
)


def fills() -> list[Fill]:
    """:data:`FILLS` as domain fills."""
    return [
        Fill(
            client_order_id(acct, f"{acct}:{day}", sym, Side(side)),
            acct,
            sym,
            Side(side),
            Decimal(qty),
            Decimal(price),
            Decimal(fees),
            date.fromisoformat(day),
            reason,
        )
        for acct, day, sym, side, qty, price, fees, reason in FILLS
    ]


def build(path: Path) -> Path:
    """Write the tiny ledger at ``path``; returns ``path``."""
    led = Ledger(path, now=lambda: datetime(2024, 4, 2, 21, tzinfo=UTC))
    try:
        led.ensure_account("alpha", AccountConfig(universe=("AAA",), cash=10_000.0))
        led.ensure_account("beta", AccountConfig(universe=("BBB",), cash=5_000.0))
        with led.transaction():
            for f in fills():
                intent = OrderIntent(
                    f.account,
                    f"{f.account}:{f.day}",
                    f.symbol,
                    f.side,
                    f.quantity,
                    f.price,
                    f.reason,
                    f.client_order_id,
                )
                led.record_order(intent, f.day.isoformat(), OrderStatus.SUBMITTED)
                led.record_fill(f)
            for acct, day, equity in EQUITY:
                led.record_equity(acct, day, equity, 0.0)
    finally:
        led.close()
    return path
