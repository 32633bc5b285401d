"""AlpacaBroker reports fills (partial ones too), cancellations and the state to reconcile."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from invest.runtime.adapters.alpaca.broker import AlpacaBroker
from invest.runtime.data.frame import BarFrame
from invest.runtime.domain import Side
from invest.runtime.errors import TemporaryBrokerError
from invest.runtime.market import Market
from tests.runtime.brokers.support import (
    ACCOUNT,
    DAY,
    KEY,
    SECRET,
    START,
    FakeAlpaca,
    Sleeps,
    by_client_id,
    fixture,
    intent,
    make_broker,
)

ORDERS = "/v2/orders"
BY_CLIENT_ID = "/v2/orders:by_client_order_id"
FILLS = "/v2/account/activities/FILL"
AAPL = intent("AAPL", qty="2.6", price="200")
NVDA = intent("NVDA", qty="8", price="125")
FOREIGN_ID = "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f"


def market() -> Market:
    frame = BarFrame(
        dates=np.array(["2024-03-13", "2024-03-14"], dtype="datetime64[D]"),
        symbols=("AAPL", "NVDA"),
        close=np.array([[170.0, 120.0], [178.0, 121.0]]),
        adjusted=False,
        source="test",
    )
    return Market(frame)


def submitted(alpaca: FakeAlpaca) -> AlpacaBroker:
    """A broker that sent an AAPL and an NVDA buy, both accepted."""
    alpaca.on(
        "POST", ORDERS, (200, "order_aapl_buy_accepted.json"), (200, "order_nvda_buy_accepted.json")
    )
    broker = make_broker(alpaca)
    broker.submit([AAPL, NVDA], DAY)
    return broker


def test_a_partial_fill_gives_one_fill_per_execution_with_the_same_client_id(
    alpaca: FakeAlpaca,
) -> None:
    broker = submitted(alpaca)
    alpaca.routes.clear()
    alpaca.on("GET", by_client_id(AAPL), (200, "order_aapl_buy_filled.json"))
    alpaca.on("GET", by_client_id(NVDA), (200, "order_nvda_partially_filled.json"))
    alpaca.on("GET", FILLS, (200, "activities_fills.json"))
    fills = broker.poll(market(), 1, Decimal(10_000))
    nvda = NVDA
    assert [(f.symbol, f.quantity, f.price) for f in fills] == [
        ("AAPL", Decimal("2.907343"), Decimal("178.86")),
        ("NVDA", Decimal("2"), Decimal("121.4")),
        ("NVDA", Decimal("1.2"), Decimal("121.67")),
    ]
    assert {f.client_order_id for f in fills[1:]} == {nvda.client_order_id}
    assert all(f.account == ACCOUNT and f.side is Side.BUY and f.fees == 0 for f in fills)
    assert {f.day for f in fills} == {date(2024, 3, 14)}  # New York date of the execution
    assert fills[1].reason == nvda.reason
    (read,) = alpaca.calls("GET", FILLS)
    assert read.params["after"] == START.isoformat()
    assert read.params["direction"] == "asc"
    assert broker.take_cancelled() == []


def test_fills_are_reported_once_and_an_expired_remainder_is_cancelled(alpaca: FakeAlpaca) -> None:
    broker = submitted(alpaca)
    alpaca.routes.clear()
    alpaca.on("GET", by_client_id(AAPL), (200, "order_aapl_buy_filled.json"))
    alpaca.on("GET", by_client_id(NVDA), (200, "order_nvda_partially_filled.json"))
    alpaca.on("GET", FILLS, (200, "activities_fills.json"))
    assert len(broker.poll(market(), 1, Decimal(0))) == 3
    alpaca.routes.clear()
    alpaca.on("GET", by_client_id(NVDA), (200, "order_nvda_expired_partial.json"))
    alpaca.on("GET", FILLS, (200, "activities_fills.json"))  # the overlap reads them again
    assert broker.poll(market(), 1, Decimal(0)) == []
    ((cancelled, reason),) = broker.take_cancelled()
    assert cancelled.symbol == "NVDA"
    assert reason == "expired at Alpaca ($1000 asked; 3.2 filled)"
    # Both orders are settled: the next poll asks nothing about them.
    before = len(alpaca.calls("GET", BY_CLIENT_ID))
    broker.poll(market(), 1, Decimal(0))
    assert len(alpaca.calls("GET", BY_CLIENT_ID)) == before


def test_after_a_restart_a_pending_order_alpaca_never_saw_is_cancelled_not_resent(
    alpaca: FakeAlpaca,
) -> None:
    aapl, nvda = intent("AAPL"), intent("NVDA")
    alpaca.on("GET", by_client_id(aapl), (200, "order_aapl_buy_filled.json"))
    alpaca.on("GET", by_client_id(nvda), (404, "error_404_order.json"))
    alpaca.on("GET", FILLS, (200, "[]"))
    broker = AlpacaBroker(
        make_broker(alpaca).config,
        KEY,
        SECRET,
        account=ACCOUNT,
        pending=[(aapl, DAY), (nvda, DAY)],
        fills_after=START,
        url_override=alpaca.url,
        sleep=Sleeps(),
    )
    assert broker.poll(market(), 1, Decimal(0)) == []
    assert broker.take_cancelled() == [
        (nvda, "never reached Alpaca (no order with this client id)")
    ]
    assert alpaca.calls("POST", ORDERS) == []


def test_positions_are_signed_decimal_quantities_by_symbol(alpaca: FakeAlpaca) -> None:
    alpaca.on("GET", "/v2/positions", (200, "positions.json"))
    assert make_broker(alpaca).positions() == {
        "AAPL": Decimal("5.207343"),
        "MSFT": Decimal("10"),
    }


def test_open_orders_return_our_intents_and_foreign_orders(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (200, "order_msft_sell_new.json"))
    msft = intent("MSFT", "sell", qty="2.5", price="425")
    broker = make_broker(alpaca)
    broker.submit([msft], DAY)
    alpaca.on("GET", ORDERS, (200, "orders_open.json"))
    ours, foreign = broker.open_orders()
    assert ours == msft
    assert foreign.symbol == "SPY"
    assert foreign.client_order_id == "3f6b1a52-9c7e-4d21-8f0a-5b6c7d8e9f01"
    assert foreign.quantity == Decimal(1)
    assert "not sent by invest" in foreign.reason
    (listing,) = alpaca.calls("GET", ORDERS)
    assert listing.params == {"status": "open", "limit": "500"}


def test_fills_since_names_foreign_orders_by_their_alpaca_client_id(alpaca: FakeAlpaca) -> None:
    alpaca.on("GET", FILLS, (200, "activities_foreign.json"))
    alpaca.on("GET", f"{ORDERS}/{FOREIGN_ID}", (200, "order_foreign_spy.json"))
    since = datetime(2024, 3, 14, tzinfo=UTC)
    (fill,) = make_broker(alpaca).fills_since(since)
    assert (fill.symbol, fill.quantity, fill.price) == ("SPY", Decimal(1), Decimal("511.02"))
    assert fill.client_order_id == "3f6b1a52-9c7e-4d21-8f0a-5b6c7d8e9f01"
    assert fill.reason == "not sent by invest"
    assert alpaca.calls("GET", FILLS)[0].params["after"] == since.isoformat()


def test_a_poll_leaves_fills_of_foreign_orders_to_reconciliation(alpaca: FakeAlpaca) -> None:
    alpaca.on("GET", FILLS, (200, "activities_foreign.json"))
    alpaca.on("GET", f"{ORDERS}/{FOREIGN_ID}", (200, "order_foreign_spy.json"))
    assert make_broker(alpaca).poll(market(), 1, Decimal(0)) == []


def test_a_full_page_of_fills_is_followed_by_the_next_page(alpaca: FakeAlpaca) -> None:
    (one,) = json.loads(fixture("activities_foreign.json"))
    full = [dict(one, id=f"20240314100245117::{i:08d}") for i in range(100)]
    alpaca.on("GET", FILLS, (200, json.dumps(full)), (200, "[]"))
    alpaca.on("GET", f"{ORDERS}/{FOREIGN_ID}", (200, "order_foreign_spy.json"))
    fills = make_broker(alpaca).fills_since(START)
    assert len(fills) == 100
    reads = alpaca.calls("GET", FILLS)
    assert len(reads) == 2
    assert reads[1].params["page_token"] == full[-1]["id"]
    assert len(alpaca.calls("GET", f"{ORDERS}/{FOREIGN_ID}")) == 1  # looked up once


def test_cancel_all_returns_what_alpaca_cancelled(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (200, "order_msft_sell_new.json"))
    msft = intent("MSFT", "sell", qty="2.5", price="425")
    broker = make_broker(alpaca)
    broker.submit([msft], DAY)
    alpaca.on("DELETE", ORDERS, (207, "cancel_all.json"))
    alpaca.on("GET", f"{ORDERS}/{FOREIGN_ID}", (200, "order_foreign_spy.json"))
    ours, foreign = broker.cancel_all()
    assert ours == msft
    assert foreign.symbol == "SPY"
    alpaca.on("GET", FILLS, (200, "[]"))
    broker.poll(market(), 1, Decimal(0))
    assert alpaca.calls("GET", BY_CLIENT_ID) == []  # cancelled: no longer tracked
    assert broker.take_cancelled() == []  # cancel_all already returned it


def test_a_poll_that_fails_halfway_loses_no_fill(alpaca: FakeAlpaca) -> None:
    broker = submitted(alpaca)
    alpaca.routes.clear()
    alpaca.on("GET", by_client_id(AAPL), (200, "order_aapl_buy_filled.json"))
    alpaca.on("GET", by_client_id(NVDA), (200, "order_nvda_partially_filled.json"))
    mixed = json.loads(fixture("activities_fills.json")) + json.loads(
        fixture("activities_foreign.json")
    )
    alpaca.on("GET", FILLS, (200, json.dumps(mixed)))
    alpaca.on("GET", f"{ORDERS}/{FOREIGN_ID}", (500, "error_500.json"))
    with pytest.raises(TemporaryBrokerError):
        broker.poll(market(), 1, Decimal(0))
    alpaca.routes[("GET", f"{ORDERS}/{FOREIGN_ID}")].clear()
    alpaca.on("GET", f"{ORDERS}/{FOREIGN_ID}", (200, "order_foreign_spy.json"))
    assert len(broker.poll(market(), 1, Decimal(0))) == 3
    assert broker.poll(market(), 1, Decimal(0)) == []


def test_fills_since_needs_an_aware_time(alpaca: FakeAlpaca) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_broker(alpaca).fills_since(datetime(2024, 3, 14))  # noqa: DTZ001 - the point of the test


# -- option orders, positions and fills are not the stock broker's ---------------------------

OPTIONS = Path(__file__).parents[2] / "fixtures" / "alpaca_options"


def _options_fixture(name: str) -> Any:
    return json.loads((OPTIONS / name).read_text())


def test_an_open_multi_leg_option_order_is_left_to_the_option_orders(alpaca: FakeAlpaca) -> None:
    stocks = json.loads(fixture("orders_open.json"))
    mleg = _options_fixture("order_bull_put_accepted.json")
    alpaca.on("GET", ORDERS, (200, json.dumps([*stocks, mleg])))
    listed = make_broker(alpaca).open_orders()
    assert sorted(o.symbol for o in listed) == sorted(o["symbol"] for o in stocks)


def test_option_positions_and_option_fills_are_not_shares(alpaca: FakeAlpaca) -> None:
    alpaca.on("GET", "/v2/positions", (200, json.dumps(_options_fixture("positions_options.json"))))
    held = make_broker(alpaca).positions()
    assert held == {"AAPL": Decimal(100)}
    (stock,) = json.loads(fixture("activities_foreign.json"))
    option = dict(stock, id="20240314100245117::1", symbol="AAPL240322P00165000", price="1.27")
    alpaca.on("GET", FILLS, (200, json.dumps([stock, option])))
    alpaca.on("GET", f"{ORDERS}/{FOREIGN_ID}", (200, "order_foreign_spy.json"))
    fills = make_broker(alpaca).fills_since(START)
    assert [f.symbol for f in fills] == ["SPY"]
