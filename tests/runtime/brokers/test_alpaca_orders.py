"""AlpacaBroker sends each order once: submit, duplicates, timeouts, rejections, 429s."""

from __future__ import annotations

import pytest

from invest.runtime.adapters.alpaca.broker import AlpacaBroker
from invest.runtime.brokers.base import Broker
from invest.runtime.errors import BrokerError, TemporaryBrokerError
from tests.runtime.brokers.support import (
    DAY,
    KEY,
    SECRET,
    FakeAlpaca,
    Sleeps,
    intent,
    make_broker,
)

ORDERS = "/v2/orders"
BY_CLIENT_ID = "/v2/orders:by_client_order_id"


def test_the_alpaca_broker_is_a_broker(alpaca: FakeAlpaca) -> None:
    broker: Broker = make_broker(alpaca)
    assert broker.name == "alpaca"


def test_a_buy_goes_as_a_notional_market_day_order_with_our_client_id(
    alpaca: FakeAlpaca,
) -> None:
    alpaca.on("POST", ORDERS, (200, "order_aapl_buy_accepted.json"))
    buy = intent("AAPL", qty="2.6", price="200")
    broker = make_broker(alpaca)
    broker.submit([buy], DAY)
    (post,) = alpaca.calls("POST", ORDERS)
    assert post.body == {
        "symbol": "AAPL",
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "notional": 520.0,
        "client_order_id": buy.client_order_id,
    }
    assert post.key_header == KEY
    assert broker.take_cancelled() == []


def test_a_sell_goes_as_a_fractional_quantity(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (200, "order_msft_sell_new.json"))
    make_broker(alpaca).submit([intent("MSFT", "sell", qty="2.5", price="425")], DAY)
    (post,) = alpaca.calls("POST", ORDERS)
    assert post.body["qty"] == 2.5
    assert "notional" not in post.body


def test_without_fractional_trading_a_buy_goes_as_whole_shares(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (200, "order_aapl_buy_accepted.json"))
    make_broker(alpaca, fractional=False).submit([intent("AAPL", qty="2.6")], DAY)
    (post,) = alpaca.calls("POST", ORDERS)
    assert post.body["qty"] == 2.0
    assert "notional" not in post.body


def test_a_duplicate_client_id_fetches_the_order_instead_of_failing(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (422, "error_422_duplicate.json"))
    alpaca.on("GET", BY_CLIENT_ID, (200, "order_aapl_buy_accepted.json"))
    buy = intent("AAPL", qty="2.6", price="200")
    broker = make_broker(alpaca)
    broker.submit([buy], DAY)
    assert len(alpaca.calls("POST", ORDERS)) == 1
    (get,) = alpaca.calls("GET", BY_CLIENT_ID)
    assert get.params == {"client_order_id": buy.client_order_id}
    assert broker.take_cancelled() == []
    alpaca.on("GET", ORDERS, (200, "[]"))
    assert broker.open_orders() == []  # Alpaca lists nothing open: nothing unconfirmed either


def test_a_timeout_is_followed_by_a_lookup_and_never_a_second_post(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (200, "order_aapl_buy_accepted.json", 1.0))  # past the timeout
    alpaca.on("GET", BY_CLIENT_ID, (200, "order_aapl_buy_accepted.json"))
    buy = intent("AAPL", qty="2.6", price="200")
    sleeps = Sleeps()
    broker = make_broker(alpaca, sleeps, read_timeout_s=0.25)
    broker.submit([buy], DAY)
    assert len(alpaca.calls("POST", ORDERS)) == 1
    assert [g.params["client_order_id"] for g in alpaca.calls("GET", BY_CLIENT_ID)] == [
        buy.client_order_id
    ]
    assert sleeps.waits == []  # found at the first lookup: no backoff
    broker.submit([buy], DAY)  # a retry of the cycle sends nothing
    assert len(alpaca.calls("POST", ORDERS)) == 1


def test_a_timeout_whose_order_never_arrived_is_sent_again_with_the_same_id(
    alpaca: FakeAlpaca,
) -> None:
    alpaca.on(
        "POST",
        ORDERS,
        (200, "order_aapl_buy_accepted.json", 1.0),
        (200, "order_aapl_buy_accepted.json"),
    )
    alpaca.on("GET", BY_CLIENT_ID, (404, "error_404_order.json"))
    sleeps = Sleeps()
    make_broker(alpaca, sleeps, read_timeout_s=0.25).submit([intent("AAPL")], DAY)
    posts = alpaca.calls("POST", ORDERS)
    assert len(posts) == 2
    assert posts[0].body["client_order_id"] == posts[1].body["client_order_id"]
    assert sleeps.waits == [0.5]


def test_a_429_is_retried_after_a_backoff_without_a_lookup(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (429, "error_429.json"), (200, "order_aapl_buy_accepted.json"))
    sleeps = Sleeps()
    make_broker(alpaca, sleeps).submit([intent("AAPL")], DAY)
    assert len(alpaca.calls("POST", ORDERS)) == 2
    assert alpaca.calls("GET", BY_CLIENT_ID) == []
    assert sleeps.waits == [0.5]


def test_a_429_that_never_clears_gives_up_after_the_bounded_retries(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (429, "error_429.json"))
    alpaca.on("GET", ORDERS, (200, "[]"))
    sleeps = Sleeps()
    buy = intent("AAPL")
    broker = make_broker(alpaca, sleeps, retries=2, backoff_s=1.0, backoff_max_s=1.5)
    with pytest.raises(TemporaryBrokerError, match="rate limit"):
        broker.submit([buy, intent("MSFT", "sell")], DAY)
    assert len(alpaca.calls("POST", ORDERS)) == 3
    assert sleeps.waits == [1.0, 1.5]
    # Its fate is unknown, and the order after it was never tried: both count as open.
    assert sorted(o.symbol for o in broker.open_orders()) == ["AAPL", "MSFT"]


def test_a_5xx_on_a_read_is_retried(alpaca: FakeAlpaca) -> None:
    alpaca.on("GET", "/v2/positions", (500, "error_500.json"), (200, "positions.json"))
    sleeps = Sleeps()
    assert "AAPL" in make_broker(alpaca, sleeps).positions()
    assert sleeps.waits == [0.5]


def test_a_rejection_is_reported_and_the_next_order_still_goes(alpaca: FakeAlpaca) -> None:
    alpaca.on(
        "POST", ORDERS, (403, "error_403_buying_power.json"), (200, "order_msft_sell_new.json")
    )
    tsla, msft = intent("TSLA", qty="40", price="170"), intent("MSFT", "sell", qty="2.5")
    broker = make_broker(alpaca)
    rejected, accepted = broker.submit([tsla, msft], DAY)
    assert len(alpaca.calls("POST", ORDERS)) == 2
    assert alpaca.calls("GET", BY_CLIENT_ID) == []  # a rejection is final: no lookup
    assert (rejected.client_order_id, rejected.status) == (tsla.client_order_id, "rejected")
    assert "insufficient buying power" in rejected.detail
    assert "HTTP 403" in rejected.detail
    assert accepted.status == "submitted"
    assert accepted.broker_order_id
    assert broker.take_cancelled() == []  # answered, not reported a second time


def test_an_invalid_order_422_is_a_rejection(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (422, "error_422_invalid_symbol.json"))
    broker = make_broker(alpaca)
    (answer,) = broker.submit([intent("XYZQ")], DAY)
    assert answer.status == "rejected"
    assert 'asset "XYZQ" not found' in answer.detail


def test_refused_keys_stop_the_batch_with_a_clear_message_and_no_key(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (401, "error_401.json"))
    broker = make_broker(alpaca)
    with pytest.raises(BrokerError) as info:
        broker.submit([intent("AAPL"), intent("MSFT", "sell")], DAY)
    message = str(info.value)
    assert "check ALPACA_API_KEY" in message
    assert KEY not in message
    assert SECRET not in message
    assert len(alpaca.calls("POST", ORDERS)) == 1
    assert KEY not in repr(broker)
    assert SECRET not in repr(broker)


def test_an_unreachable_alpaca_is_a_temporary_error(alpaca: FakeAlpaca) -> None:
    broker = AlpacaBroker(
        make_broker(alpaca).config,
        KEY,
        SECRET,
        account="a",
        url_override="http://127.0.0.1:9",  # discard port: connection refused
        sleep=Sleeps(),
    )
    with pytest.raises(TemporaryBrokerError, match="unreachable") as info:
        broker.positions()
    assert KEY not in str(info.value)


def test_an_order_that_rounds_to_nothing_is_rejected_without_a_request(alpaca: FakeAlpaca) -> None:
    broker = make_broker(alpaca, fractional=False)
    (answer,) = broker.submit([intent("MSFT", "sell", qty="0.4")], DAY)
    assert alpaca.seen == []
    assert answer.status == "rejected"
    assert "round to 0" in answer.detail
