"""The filling fake Alpaca (:mod:`.exchange`) against the real AlpacaBroker and alpaca-py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from invest.runtime.adapters.alpaca.broker import AlpacaBroker
from invest.runtime.clock import FixedClock
from invest.runtime.config.alpaca import AlpacaConfig
from invest.runtime.domain import OrderStatus
from tests.runtime.brokers.exchange import FillingAlpaca, close_price, serve_filling
from tests.runtime.brokers.support import KEY, SECRET, intent

DAY = date(2022, 3, 1)
AFTER_CLOSE = "2022-03-01T21:30:00+00:00"  # 16:30 New York
NEXT_CLOSE = "2022-03-02T21:00:00+00:00"  # 16:00 New York, the next session


@pytest.fixture
def fake() -> Iterator[FillingAlpaca]:
    with serve_filling(Decimal(10_000)) as f:
        yield f


def _broker(fake: FillingAlpaca) -> AlpacaBroker:
    cfg = AlpacaConfig(retries=0, backoff_s=0, read_timeout_s=5, connect_timeout_s=5)
    return AlpacaBroker(
        cfg,
        KEY,
        SECRET,
        account="alpaca-paper",
        clock=FixedClock(datetime(2022, 3, 1, tzinfo=UTC)),
        url_override=fake.url,
    )


def _tick(fake: FillingAlpaca, stamp: str) -> None:
    with fake.lock:
        fake.advance(stamp)


def test_orders_fill_at_the_next_close_and_the_account_follows(fake: FillingAlpaca) -> None:
    _tick(fake, AFTER_CLOSE)
    buy = intent("AAPL", "buy", "10", "160")
    (ack,) = _broker(fake).submit([buy], DAY)
    assert ack.status is OrderStatus.SUBMITTED
    # A second broker (a restart) sending it again: Alpaca's 422, a look-up, no second order.
    again = _broker(fake)
    (ack2,) = again.submit([buy], DAY)
    assert ack2.broker_order_id == ack.broker_order_id
    assert len(fake.orders) == 1
    assert fake.duplicates == [buy.client_order_id]
    assert again.positions() == {}
    _tick(fake, NEXT_CLOSE)
    price = close_price("AAPL", date(2022, 3, 2))
    assert price is not None
    qty = (Decimal(1600) / price).quantize(Decimal("1e-9"), rounding="ROUND_DOWN")
    fills = again.fills_since(datetime(2022, 3, 1, tzinfo=UTC))
    assert [(f.client_order_id, f.quantity, f.price, f.day) for f in fills] == [
        (buy.client_order_id, qty, price, date(2022, 3, 2))
    ]
    assert again.positions() == {"AAPL": qty}
    assert again.find(buy.client_order_id) == ack  # filled: still SUBMITTED, the fill comes apart
    assert fake.cash == Decimal(10_000) - (qty * price).quantize(Decimal("0.01"))
    assert again.open_orders() == []


def test_refuses_a_sell_of_shares_it_does_not_hold_and_a_buy_past_its_cash(
    fake: FillingAlpaca,
) -> None:
    _tick(fake, AFTER_CLOSE)
    broker = _broker(fake)
    sell, big = intent("MSFT", "sell", "1"), intent("HD", "buy", "100", "300")
    acks = broker.submit([sell, big], DAY)
    assert [a.status for a in acks] == [OrderStatus.REJECTED, OrderStatus.REJECTED]
    assert fake.orders == {}
    assert [why for _, why in fake.refused] == [
        "insufficient qty available for order",
        "insufficient buying power",
    ]
