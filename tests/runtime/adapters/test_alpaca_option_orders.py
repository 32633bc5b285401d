"""Alpaca option orders: the exact bodies sent, the answers and fills read, positions, reconciliation.

The real alpaca-py ``TradingClient`` talks to a loopback server serving the recorded
bodies of ``tests/fixtures/alpaca_options`` (see its README), so alpaca-py's request
building, error handling and model parsing all run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from invest.runtime.adapters.alpaca.option_orders import AlpacaOptionOrders
from invest.runtime.adapters.alpaca.option_parsing import (
    MAX_CLIENT_ID,
    OptionEvent,
    OptionMismatch,
    ledger_option_legs,
    option_order_fields,
    reconcile_option_positions,
)
from invest.runtime.domain import AccountState, OrderStatus
from invest.runtime.errors import BrokerError, TemporaryBrokerError
from invest.runtime.options import structures as st
from invest.runtime.options.book import (
    LegFill,
    OptionAction,
    OptionBook,
    OptionPosition,
    position_id,
)
from invest.runtime.options.contracts import OptionContract, Right
from invest.runtime.options.plan import OptionOrder, OrderAction, option_order_id
from invest.runtime.options.structures import Structure
from tests.runtime.brokers.support import KEY, SECRET, FakeAlpaca, Sleeps, make_broker, serve

FIXTURES = Path(__file__).parents[2] / "fixtures" / "alpaca_options"
ACCOUNT = "alpaca-paper"
CYCLE = "alpaca-paper:2024-03-13"
CLOSE_CYCLE = "alpaca-paper:2024-03-15"
EXPIRY = date(2024, 3, 22)
ORDERS = "/v2/orders"
BY_CLIENT_ID = "/v2/orders:by_client_order_id"
POSITIONS = "/v2/positions"
ACTIVITIES = "/v2/account/activities"


def option(right: Right, strike: int, expiry: date = EXPIRY, root: str = "AAPL") -> OptionContract:
    return OptionContract(root, expiry, right, Decimal(strike))


P, C = Right.PUT, Right.CALL
CSP = st.cash_secured_put(option(P, 165))
CC = st.covered_call(option(C, 180))
BULL_PUT = st.bull_put(option(P, 165), option(P, 160))
CONDOR = st.iron_condor(option(P, 155), option(P, 160), option(C, 185), option(C, 190))


def order(
    structure: Structure,
    contracts: int,
    limit: float | None,
    action: OrderAction = OrderAction.OPEN,
    cid: str | None = None,
) -> OptionOrder:
    pos = position_id(ACCOUNT, CYCLE, structure)
    cycle = CYCLE if action is OrderAction.OPEN else CLOSE_CYCLE
    return OptionOrder(
        account=ACCOUNT,
        cycle_id=cycle,
        action=action,
        position_id=pos,
        structure=structure,
        contracts=contracts,
        limit_premium=limit,
        reason=f"test {action} {structure.kind}",
        client_order_id=cid or option_order_id(ACCOUNT, cycle, pos, action),
    )


@pytest.fixture
def alpaca() -> Iterator[FakeAlpaca]:
    with serve() as fake:
        yield fake


def orders_of(
    fake: FakeAlpaca, sleeps: Sleeps | None = None, **config: object
) -> AlpacaOptionOrders:
    return AlpacaOptionOrders.of(make_broker(fake, sleeps, **config))


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def on(fake: FakeAlpaca, method: str, path: str, *answers: tuple[int, str]) -> None:
    fake.on(method, path, *((status, fixture(name)) for status, name in answers))


# -- what is sent ------------------------------------------------------------------------


def test_a_cash_secured_put_goes_as_one_sell_to_open_limit_order(alpaca: FakeAlpaca) -> None:
    on(alpaca, "POST", ORDERS, (200, "order_csp_accepted.json"))
    csp = order(CSP, 2, 1.235)
    ack = orders_of(alpaca).submit_option(csp)
    (post,) = alpaca.calls("POST", ORDERS)
    assert post.body == {
        "symbol": "AAPL240322P00165000",
        "qty": 2.0,
        "side": "sell",
        "position_intent": "sell_to_open",
        "type": "limit",
        "limit_price": 1.24,  # the least received per share, rounded up: never worse
        "time_in_force": "day",
        "client_order_id": csp.client_order_id,
    }
    assert post.key_header == KEY
    assert ack.client_order_id == csp.client_order_id
    assert ack.status is OrderStatus.SUBMITTED
    assert ack.broker_order_id == "3f1c2a9e-7b44-4d2a-9c1e-5a0b6d7e8f01"


def test_a_covered_call_sells_its_call_to_open(alpaca: FakeAlpaca) -> None:
    on(alpaca, "POST", ORDERS, (200, "order_cc_rejected.json"))
    ack = orders_of(alpaca).submit_option(order(CC, 1, 0.85))
    (post,) = alpaca.calls("POST", ORDERS)
    assert (post.body["symbol"], post.body["side"], post.body["position_intent"]) == (
        "AAPL240322C00180000",
        "sell",
        "sell_to_open",
    )
    assert (post.body["qty"], post.body["limit_price"]) == (1.0, 0.85)
    # Alpaca took it and rejected it at once: a dead order, said why.
    assert ack.status is OrderStatus.CANCELLED
    assert "rejected at Alpaca" in ack.detail


def test_a_bull_put_spread_goes_as_one_mleg_order_with_a_negative_credit_limit(
    alpaca: FakeAlpaca,
) -> None:
    on(alpaca, "POST", ORDERS, (200, "order_bull_put_accepted.json"))
    spread = order(BULL_PUT, 3, 0.72)
    ack = orders_of(alpaca).submit_option(spread)
    (post,) = alpaca.calls("POST", ORDERS)
    assert post.body == {
        "order_class": "mleg",
        "qty": 3.0,
        "type": "limit",
        "limit_price": -0.72,  # Alpaca: < 0 a net credit received
        "time_in_force": "day",
        "client_order_id": spread.client_order_id,
        "legs": [
            {
                "symbol": "AAPL240322P00160000",
                "ratio_qty": 1.0,
                "side": "buy",
                "position_intent": "buy_to_open",
            },
            {
                "symbol": "AAPL240322P00165000",
                "ratio_qty": 1.0,
                "side": "sell",
                "position_intent": "sell_to_open",
            },
        ],
    }
    assert ack.status is OrderStatus.SUBMITTED
    assert ack.broker_order_id == "b7e1d2c3-4a5b-4c6d-8e7f-9a0b1c2d3e05"


def test_an_iron_condor_sends_four_legs_and_rounds_the_credit_up(alpaca: FakeAlpaca) -> None:
    on(alpaca, "POST", ORDERS, (200, "order_condor_filled.json"))
    orders_of(alpaca).submit_option(order(CONDOR, 1, 0.655))
    (post,) = alpaca.calls("POST", ORDERS)
    assert post.body["limit_price"] == -0.66  # at least 0.66 received, never 0.65
    assert [(leg["symbol"], leg["side"], leg["position_intent"]) for leg in post.body["legs"]] == [
        ("AAPL240322P00155000", "buy", "buy_to_open"),
        ("AAPL240322P00160000", "sell", "sell_to_open"),
        ("AAPL240322C00185000", "sell", "sell_to_open"),
        ("AAPL240322C00190000", "buy", "buy_to_open"),
    ]
    assert {leg["ratio_qty"] for leg in post.body["legs"]} == {1.0}


def test_a_market_close_buys_the_short_put_back_to_close(alpaca: FakeAlpaca) -> None:
    on(alpaca, "POST", ORDERS, (200, "order_csp_close_filled.json"))
    close = order(CSP, 2, None, OrderAction.CLOSE)
    orders_of(alpaca).submit_option(close)
    (post,) = alpaca.calls("POST", ORDERS)
    assert post.body == {
        "symbol": "AAPL240322P00165000",
        "qty": 2.0,
        "side": "buy",
        "position_intent": "buy_to_close",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": close.client_order_id,
    }


def test_a_debit_spread_pays_a_positive_limit_rounded_down_and_closes_reversed() -> None:
    bull_call = st.bull_call(option(C, 170), option(C, 175))
    opening = option_order_fields(order(bull_call, 2, -1.806))
    assert opening["limit_price"] == 1.80  # Alpaca: > 0 a net debit paid, at most 1.80
    closing = option_order_fields(order(bull_call, 2, 0.9, OrderAction.CLOSE))
    assert closing["limit_price"] == -0.90
    assert [(leg["side"], leg["position_intent"]) for leg in closing["legs"]] == [
        ("sell", "sell_to_close"),
        ("buy", "buy_to_close"),
    ]


def test_a_butterfly_sends_its_body_with_ratio_two() -> None:
    fly = st.butterfly(option(C, 170), option(C, 175), option(C, 180), C)
    fields = option_order_fields(order(fly, 4, -0.5))
    assert fields["qty"] == 4
    assert [(leg["ratio_qty"], leg["side"]) for leg in fields["legs"]] == [
        (1, "buy"),
        (2, "sell"),
        (1, "buy"),
    ]


def test_a_client_id_longer_than_alpaca_takes_is_rejected_before_sending(
    alpaca: FakeAlpaca,
) -> None:
    long_id = "opt-" + "x" * MAX_CLIENT_ID
    ack = orders_of(alpaca).submit_option(order(CSP, 1, 1.0, cid=long_id))
    assert ack.status is OrderStatus.REJECTED
    assert f"1 to {MAX_CLIENT_ID} characters" in ack.detail
    assert alpaca.calls("POST", ORDERS) == []


def test_a_single_leg_limit_with_the_wrong_sign_is_rejected_before_sending(
    alpaca: FakeAlpaca,
) -> None:
    ack = orders_of(alpaca).submit_option(order(CSP, 1, -1.0))  # a sale asked to pay
    assert ack.status is OrderStatus.REJECTED
    assert "limit premium must be > 0" in ack.detail
    # A buy-back allowed to pay at most 0.004 a share rounds down to nothing.
    ack = orders_of(alpaca).submit_option(order(CSP, 1, -0.004, OrderAction.CLOSE))
    assert ack.status is OrderStatus.REJECTED
    assert "rounds to $0.00" in ack.detail
    assert alpaca.calls("POST", ORDERS) == []
    # A sale's least price rounds up, to a cent.
    assert option_order_fields(order(CSP, 1, 0.001))["limit_price"] == 0.01


# -- errors and never twice ---------------------------------------------------------------


def test_insufficient_options_buying_power_is_a_rejection_with_alpacas_words(
    alpaca: FakeAlpaca,
) -> None:
    on(alpaca, "POST", ORDERS, (403, "error_403_options_buying_power.json"))
    ack = orders_of(alpaca).submit_option(order(CSP, 2, 1.2))
    assert ack.status is OrderStatus.REJECTED
    assert "insufficient options buying power" in ack.detail
    assert "HTTP 403" in ack.detail
    assert KEY not in ack.detail
    assert SECRET not in ack.detail
    assert len(alpaca.calls("POST", ORDERS)) == 1  # a rejection is not retried


def test_an_account_without_multi_leg_trading_gets_a_rejection(alpaca: FakeAlpaca) -> None:
    on(alpaca, "POST", ORDERS, (422, "error_422_mleg_unsupported.json"))
    ack = orders_of(alpaca).submit_option(order(BULL_PUT, 1, 0.7))
    assert ack.status is OrderStatus.REJECTED
    assert "not eligible for level 3 options trading" in ack.detail


def test_a_duplicate_client_id_fetches_the_order_instead_of_sending_again(
    alpaca: FakeAlpaca,
) -> None:
    on(alpaca, "POST", ORDERS, (422, "error_422_duplicate.json"))
    on(alpaca, "GET", BY_CLIENT_ID, (200, "order_bull_put_accepted.json"))
    spread = order(BULL_PUT, 3, 0.72)
    ack = orders_of(alpaca).submit_option(spread)
    assert ack.status is OrderStatus.SUBMITTED
    assert ack.broker_order_id == "b7e1d2c3-4a5b-4c6d-8e7f-9a0b1c2d3e05"
    assert len(alpaca.calls("POST", ORDERS)) == 1
    (get,) = alpaca.calls("GET", BY_CLIENT_ID)
    assert get.params == {"client_order_id": spread.client_order_id}


def test_after_a_5xx_the_order_is_looked_up_and_not_posted_again(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (500, '{"code": 50010000, "message": "internal server error"}'))
    on(alpaca, "GET", BY_CLIENT_ID, (200, "order_csp_accepted.json"))
    sleeps = Sleeps()
    ack = orders_of(alpaca, sleeps).submit_option(order(CSP, 2, 1.235))
    assert ack.status is OrderStatus.SUBMITTED
    assert len(alpaca.calls("POST", ORDERS)) == 1
    assert sleeps.waits == []


def test_alpaca_down_raises_a_temporary_error_after_bounded_retries(alpaca: FakeAlpaca) -> None:
    alpaca.on("POST", ORDERS, (503, '{"message": "service unavailable"}'))
    on(alpaca, "GET", BY_CLIENT_ID, (404, "error_404_order.json"))
    sleeps = Sleeps()
    with pytest.raises(TemporaryBrokerError, match="HTTP 503"):
        orders_of(alpaca, sleeps, retries=2).submit_option(order(CSP, 2, 1.235))
    assert len(alpaca.calls("POST", ORDERS)) == 3  # each after a lookup said "not there"
    assert len(alpaca.calls("GET", BY_CLIENT_ID)) == 3
    assert sleeps.waits == [0.5, 1.0]


# -- answers, fills and lookups -------------------------------------------------------------


def test_lookup_answers_an_order_by_client_id_or_none(alpaca: FakeAlpaca) -> None:
    csp = order(CSP, 2, 1.235)
    on(alpaca, "GET", BY_CLIENT_ID, (200, "order_csp_accepted.json"), (404, "error_404_order.json"))
    orders = orders_of(alpaca)
    ack = orders.lookup(csp.client_order_id)
    assert ack is not None
    assert (ack.status, ack.broker_order_id) == (
        OrderStatus.SUBMITTED,
        "3f1c2a9e-7b44-4d2a-9c1e-5a0b6d7e8f01",
    )
    assert orders.lookup(csp.client_order_id) is None


def test_a_filled_cash_secured_put_gives_one_fill_the_book_opens(alpaca: FakeAlpaca) -> None:
    csp = order(CSP, 2, 1.235)
    on(alpaca, "GET", BY_CLIENT_ID, (200, "order_csp_filled.json"))
    (update,) = orders_of(alpaca).poll_option_fills([csp])
    assert update.ack.status is OrderStatus.FILLED
    assert update.contracts == 2
    fill = update.fill
    assert fill is not None
    assert fill.legs == (LegFill("AAPL240322P00165000", -2, 1.27),)
    assert (fill.action, fill.position_id, fill.client_order_id) == (
        OptionAction.OPEN,
        csp.position_id,
        csp.client_order_id,
    )
    assert (fill.day, fill.fees, fill.account) == (date(2024, 3, 14), Decimal(0), ACCOUNT)
    state = AccountState(ACCOUNT, Decimal(40_000))
    pos = OptionBook(ACCOUNT).open(fill, CSP, update.contracts, state)
    assert pos.premium_in == Decimal("254.00")  # 2 x 1.27 x 100
    assert state.cash == Decimal("40254.00")


def test_a_filled_iron_condor_reports_each_legs_own_price(alpaca: FakeAlpaca) -> None:
    condor = order(CONDOR, 1, 0.655)
    on(alpaca, "GET", BY_CLIENT_ID, (200, "order_condor_filled.json"))
    (update,) = orders_of(alpaca).poll_option_fills([condor])
    assert update.fill is not None
    assert update.fill.legs == (
        LegFill("AAPL240322P00155000", 1, 0.31),
        LegFill("AAPL240322P00160000", -1, 0.62),
        LegFill("AAPL240322C00185000", -1, 0.58),
        LegFill("AAPL240322C00190000", 1, 0.22),
    )
    pos = OptionBook(ACCOUNT).open(update.fill, CONDOR, 1, AccountState(ACCOUNT, Decimal(10_000)))
    assert pos.open_premium == pytest.approx(0.67)  # the net credit Alpaca reports


def test_a_partially_filled_spread_waits_until_final_then_fills_its_units(
    alpaca: FakeAlpaca,
) -> None:
    spread = order(BULL_PUT, 3, 0.72)
    on(
        alpaca,
        "GET",
        BY_CLIENT_ID,
        (200, "order_bull_put_partially_filled.json"),
        (200, "order_bull_put_canceled_partial.json"),
    )
    orders = orders_of(alpaca)
    (update,) = orders.poll_option_fills([spread])
    assert (update.ack.status, update.fill, update.contracts) == (OrderStatus.SUBMITTED, None, 0)
    (update,) = orders.poll_option_fills([spread])
    assert update.ack.status is OrderStatus.CANCELLED
    assert update.ack.detail == "canceled at Alpaca; 1 of 3 filled"
    assert update.contracts == 1
    assert update.fill is not None
    assert update.fill.legs == (
        LegFill("AAPL240322P00160000", 1, 0.88),
        LegFill("AAPL240322P00165000", -1, 1.61),
    )
    pos = OptionBook(ACCOUNT).open(update.fill, BULL_PUT, 1, AccountState(ACCOUNT, Decimal(5_000)))
    assert pos.contracts == 1


def test_a_market_close_fill_buys_back_the_short_leg(alpaca: FakeAlpaca) -> None:
    close = order(CSP, 2, None, OrderAction.CLOSE)
    on(alpaca, "GET", BY_CLIENT_ID, (200, "order_csp_close_filled.json"))
    (update,) = orders_of(alpaca).poll_option_fills([close])
    assert update.fill is not None
    assert update.fill.action is OptionAction.CLOSE
    assert update.fill.legs == (LegFill("AAPL240322P00165000", 2, 0.45),)
    assert update.fill.day == date(2024, 3, 15)


def test_an_order_alpaca_never_had_is_answered_cancelled(alpaca: FakeAlpaca) -> None:
    on(alpaca, "GET", BY_CLIENT_ID, (404, "error_404_order.json"))
    (update,) = orders_of(alpaca).poll_option_fills([order(CSP, 1, 1.0)])
    assert update.ack.status is OrderStatus.CANCELLED
    assert "never reached Alpaca" in update.ack.detail
    assert update.fill is None


def test_legs_that_are_not_the_orders_are_refused(alpaca: FakeAlpaca) -> None:
    # The spread's client id answered with the condor's legs.
    on(alpaca, "GET", BY_CLIENT_ID, (200, "order_condor_filled.json"))
    with pytest.raises(BrokerError, match="not the order's"):
        orders_of(alpaca).poll_option_fills([order(BULL_PUT, 1, 0.7)])


# -- positions and reconciliation ---------------------------------------------------------


def test_option_positions_are_signed_contracts_by_occ_symbol(alpaca: FakeAlpaca) -> None:
    on(alpaca, "GET", POSITIONS, (200, "positions_options.json"))
    assert orders_of(alpaca).option_positions() == {
        "AAPL240322P00165000": -4,
        "AAPL240322P00160000": 2,
        "AAPL240322P00155000": 1,
        "AAPL240322C00185000": -1,
        "MSFT240322C00450000": -1,
    }


def _position(structure: Structure, contracts: int) -> OptionPosition:
    return OptionPosition(
        position_id(ACCOUNT, CYCLE, structure),
        ACCOUNT,
        structure,
        contracts,
        date(2024, 3, 8),
        1.0,
        Decimal(0),
        Decimal(0),
        0,
    )


def test_reconciliation_explains_each_leg_that_differs(alpaca: FakeAlpaca) -> None:
    expired = st.cash_secured_put(option(P, 170, date(2024, 3, 15)))
    closed = _position(CC, 1)
    closed.closed = date(2024, 3, 12)  # closed positions hold nothing
    ledger = ledger_option_legs(
        [
            _position(CSP, 2),
            _position(BULL_PUT, 3),
            _position(CONDOR, 1),
            _position(expired, 1),
            closed,
        ]
    )
    on(alpaca, "GET", POSITIONS, (200, "positions_options.json"))
    broker = orders_of(alpaca).option_positions()
    found = reconcile_option_positions(ledger, broker, today=date(2024, 3, 18))
    assert [(m.symbol, m.ledger, m.broker) for m in found] == [
        ("AAPL240315P00170000", -1, 0),
        ("AAPL240322C00190000", 1, 0),
        ("AAPL240322P00165000", -5, -4),
        ("MSFT240322C00450000", 0, -1),
    ]
    why = {m.symbol: m.explanation for m in found}
    assert "expired 2024-03-15" in why["AAPL240315P00170000"]
    assert "OPASN" in why["AAPL240315P00170000"]
    assert "closed at Alpaca outside invest" in why["AAPL240322C00190000"]
    assert "partial fill" in why["AAPL240322P00165000"]
    assert "opened outside invest" in why["MSFT240322C00450000"]


def test_reconciliation_names_a_leg_long_at_one_and_short_at_the_other() -> None:
    symbol = "AAPL240322P00160000"
    assert reconcile_option_positions({symbol: 2}, {symbol: -2}, today=date(2024, 3, 18)) == [
        OptionMismatch(symbol, 2, -2, "the ledger is long 2 and Alpaca short 2")
    ]
    assert reconcile_option_positions({symbol: 2}, {symbol: 2}, today=date(2024, 3, 18)) == []


def test_a_leg_filled_on_the_wrong_side_is_refused(alpaca: FakeAlpaca) -> None:
    # The close's client id answered with the opening sale: a buy-back never sells.
    on(alpaca, "GET", BY_CLIENT_ID, (200, "order_csp_filled.json"))
    with pytest.raises(BrokerError, match="does not match buy 1 per unit"):
        orders_of(alpaca).poll_option_fills([order(CSP, 2, None, OrderAction.CLOSE)])


def test_option_events_read_assignments_and_expiries_and_skip_share_trades(
    alpaca: FakeAlpaca,
) -> None:
    on(alpaca, "GET", ACTIVITIES, (200, "activities_option_events.json"))
    events = orders_of(alpaca).option_events(date(2024, 3, 15))
    assert events == [
        OptionEvent(
            "20240315000000000::7c1e5a2b-3d4f-4a6b-8c9d-0e1f2a3b4c01",
            "assigned",
            "AAPL240315P00170000",
            1,
            date(2024, 3, 15),
        ),
        OptionEvent(
            "20240315000000000::7c1e5a2b-3d4f-4a6b-8c9d-0e1f2a3b4c03",
            "expired",
            "AAPL240315C00185000",
            1,
            date(2024, 3, 15),
        ),
    ]
    (get,) = alpaca.calls("GET", ACTIVITIES)
    assert get.params["activity_types"] == "OPASN,OPEXP,OPEXC"
    assert get.params["after"] == "2024-03-14"  # Alpaca's "after" is exclusive


def test_reconciliation_names_the_assignment_alpaca_booked() -> None:
    symbol = "AAPL240315P00170000"
    event = OptionEvent("a1", "assigned", symbol, 1, date(2024, 3, 15))
    (found,) = reconcile_option_positions({symbol: -1}, {}, date(2024, 3, 18), [event])
    assert found.explanation == (
        "the ledger holds -1 and Alpaca none: Alpaca booked assigned +1 on 2024-03-15; "
        "settle it in the ledger"
    )
