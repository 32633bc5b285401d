"""PaperBroker: next-bar fills with the shared fill model, sells first, idempotent submit."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from invest.runtime.brokers.base import Broker
from invest.runtime.brokers.fills import FillModel
from invest.runtime.brokers.paper import PaperBroker
from invest.runtime.domain import Fill, OrderIntent, Side, client_order_id, money
from invest.runtime.market import Market
from tests.runtime.conftest import columns, make_market, rising

N = 10
DECIDED = 4  # orders are decided on row 4 and may fill from row 5 on


def _intent(symbol: str, side: Side, qty: float | str, cycle: str = "acct:d4") -> OrderIntent:
    return OrderIntent(
        "acct",
        cycle,
        symbol,
        side,
        Decimal(str(qty)),
        Decimal(100),
        "test",
        client_order_id("acct", cycle, symbol, side),
    )


@pytest.fixture
def market() -> Market:
    # A closes 100, 101, ...; B closes 50, 51, ...; opens are absent (next close fills)
    closes, syms = columns(A=rising(N, 100, 1), B=rising(N, 50, 1))
    return make_market(closes, syms)


@pytest.fixture
def broker() -> PaperBroker:
    return PaperBroker(FillModel(slippage_bps=0))


def test_the_paper_broker_satisfies_the_broker_protocol(broker: PaperBroker) -> None:
    as_broker: Broker = broker
    assert as_broker.name == "paper"


def test_an_order_does_not_fill_on_the_day_it_was_decided(
    market: Market, broker: PaperBroker
) -> None:
    broker.submit([_intent("A", Side.BUY, 1)], market.day(DECIDED))
    assert broker.poll(market, DECIDED, Decimal(10_000)) == []
    assert len(broker.open_orders()) == 1


def test_an_order_fills_at_the_next_close_when_there_are_no_opens(
    market: Market, broker: PaperBroker
) -> None:
    broker.submit([_intent("A", Side.BUY, 2)], market.day(DECIDED))
    (fill,) = broker.poll(market, DECIDED + 1, Decimal(10_000))
    assert fill.day == market.day(DECIDED + 1)
    assert fill.price == Decimal("105.0")  # close of row 5
    assert fill.quantity == Decimal(2)
    assert fill.side is Side.BUY
    assert broker.open_orders() == []


def test_an_order_fills_at_the_next_open_when_the_data_has_opens() -> None:
    closes, syms = columns(A=rising(N, 100, 1))
    opens = closes - 0.5
    market = make_market(closes, syms, opens=opens)
    broker = PaperBroker(FillModel(slippage_bps=0))
    broker.submit([_intent("A", Side.BUY, 1)], market.day(DECIDED))
    (fill,) = broker.poll(market, DECIDED + 1, Decimal(10_000))
    assert fill.price == Decimal("104.5")


def test_fills_carry_slippage_and_fees_from_the_fill_model(market: Market) -> None:
    broker = PaperBroker(FillModel(slippage_bps=100, commission_pct=0.01, min_commission=0))
    broker.submit([_intent("A", Side.BUY, 10), _intent("B", Side.SELL, 10)], market.day(DECIDED))
    fills = {f.symbol: f for f in broker.poll(market, DECIDED + 1, Decimal(10_000))}
    assert fills["A"].price == Decimal("106.05")  # 105 + 1%
    assert fills["B"].price == Decimal("54.45")  # 55 - 1%
    assert fills["A"].fees == Decimal("10.60")  # 1% of 1,060.50, to the cent (half-even)
    assert fills["B"].fees == Decimal("5.44")  # 1% of 544.50


def test_sells_fill_before_buys_so_their_proceeds_pay_for_the_buys(
    market: Market, broker: PaperBroker
) -> None:
    buy = _intent("A", Side.BUY, 5)  # 5 x 105 = 525
    sell = _intent("B", Side.SELL, 10)  # 10 x 55 = 550
    broker.submit([buy, sell], market.day(DECIDED))
    fills = broker.poll(market, DECIDED + 1, Decimal(0))
    assert [(f.symbol, f.side) for f in fills] == [("B", Side.SELL), ("A", Side.BUY)]
    assert fills[1].quantity == Decimal(5)


def test_a_buy_is_cut_to_the_cash_available_at_fill_time(
    market: Market, broker: PaperBroker
) -> None:
    broker.submit([_intent("A", Side.BUY, 100)], market.day(DECIDED))
    (fill,) = broker.poll(market, DECIDED + 1, Decimal("1000.00"))
    assert Decimal(9) < fill.quantity < Decimal("9.524")  # 1,000 / 105 = 9.5238
    assert fill.quantity * fill.price + fill.fees <= Decimal("1000.00")


def test_a_buy_is_cut_to_whole_shares_when_fractions_are_off(market: Market) -> None:
    broker = PaperBroker(FillModel(slippage_bps=0, fractional=False))
    broker.submit([_intent("A", Side.BUY, 100)], market.day(DECIDED))
    (fill,) = broker.poll(market, DECIDED + 1, Decimal("1000.00"))
    assert fill.quantity == Decimal(9)


def test_several_buys_together_never_spend_more_than_the_cash(market: Market) -> None:
    broker = PaperBroker(FillModel(slippage_bps=20, commission_pct=0.005, min_commission=1))
    broker.submit([_intent("A", Side.BUY, 6), _intent("B", Side.BUY, 20)], market.day(DECIDED))
    fills = broker.poll(market, DECIDED + 1, Decimal("1500.00"))
    spent = sum((f.quantity * f.price + f.fees for f in fills), Decimal(0))
    assert len(fills) == 2
    assert spent <= Decimal("1500.00")


def test_a_buy_without_any_cash_is_dropped_without_a_fill(
    market: Market, broker: PaperBroker
) -> None:
    broker.submit([_intent("A", Side.BUY, 1)], market.day(DECIDED))
    assert broker.poll(market, DECIDED + 1, Decimal(0)) == []
    assert broker.open_orders() == []


def test_submitting_the_same_client_id_twice_makes_one_order_and_one_fill(
    market: Market, broker: PaperBroker
) -> None:
    intent = _intent("A", Side.BUY, 1)
    broker.submit([intent], market.day(DECIDED))
    broker.submit([intent], market.day(DECIDED))
    assert broker.open_orders() == [intent]
    assert len(broker.poll(market, DECIDED + 1, Decimal(10_000))) == 1


def test_resubmitting_after_the_fill_does_not_fill_again(
    market: Market, broker: PaperBroker
) -> None:
    intent = _intent("A", Side.BUY, 1)
    broker.submit([intent], market.day(DECIDED))
    fills: list[Fill] = broker.poll(market, DECIDED + 1, Decimal(10_000))
    broker.submit([intent], market.day(DECIDED + 1))  # a retry after a crash, say
    fills += broker.poll(market, DECIDED + 2, Decimal(10_000))
    assert len(fills) == 1
    assert broker.open_orders() == []


def test_resubmitting_a_cancelled_order_does_not_revive_it(
    market: Market, broker: PaperBroker
) -> None:
    intent = _intent("A", Side.BUY, 1)
    broker.submit([intent], market.day(DECIDED))
    assert broker.cancel_all() == [intent]
    broker.submit([intent], market.day(DECIDED))
    assert broker.open_orders() == []
    assert broker.poll(market, DECIDED + 1, Decimal(10_000)) == []


def test_an_order_waits_while_its_symbol_has_no_bar() -> None:
    closes, syms = columns(A=rising(N, 100, 1), B=rising(N, 50, 1))
    closes[DECIDED + 1 : DECIDED + 3, 0] = np.nan  # A has no bar on rows 5 and 6
    market = make_market(closes, syms)
    broker = PaperBroker(FillModel(slippage_bps=0))
    broker.submit([_intent("A", Side.BUY, 1), _intent("B", Side.BUY, 1)], market.day(DECIDED))
    assert [f.symbol for f in broker.poll(market, DECIDED + 1, Decimal(10_000))] == ["B"]
    assert broker.poll(market, DECIDED + 2, Decimal(10_000)) == []
    assert [i.symbol for i in broker.open_orders()] == ["A"]
    (fill,) = broker.poll(market, DECIDED + 3, Decimal(10_000))
    assert (fill.symbol, fill.day, fill.price) == ("A", market.day(DECIDED + 3), Decimal("107.0"))


def test_an_order_waits_when_the_open_is_missing_even_if_the_close_is_there() -> None:
    closes, syms = columns(A=rising(N, 100, 1))
    opens = closes.copy()
    opens[DECIDED + 1, 0] = np.nan
    market = make_market(closes, syms, opens=opens)
    broker = PaperBroker(FillModel(slippage_bps=0))
    broker.submit([_intent("A", Side.SELL, 1)], market.day(DECIDED))
    assert broker.poll(market, DECIDED + 1, Decimal(0)) == []
    assert len(broker.poll(market, DECIDED + 2, Decimal(0))) == 1


def test_orders_restored_after_a_restart_fill_at_the_next_bar(market: Market) -> None:
    intent = _intent("A", Side.SELL, 3)
    broker = PaperBroker(FillModel(slippage_bps=0), [(intent, market.day(DECIDED))])
    assert broker.open_orders() == [intent]
    assert broker.poll(market, DECIDED, Decimal(0)) == []
    (fill,) = broker.poll(market, DECIDED + 1, Decimal(0))
    assert fill.client_order_id == intent.client_order_id
    assert fill.reason == "test"


def test_cancel_all_returns_and_drops_every_open_order(market: Market, broker: PaperBroker) -> None:
    intents = [_intent("A", Side.BUY, 1), _intent("B", Side.SELL, 1)]
    broker.submit(intents, market.day(DECIDED))
    assert sorted(i.symbol for i in broker.cancel_all()) == ["A", "B"]
    assert broker.open_orders() == []
    assert broker.poll(market, DECIDED + 1, Decimal(10_000)) == []


def test_a_sale_worth_less_than_its_minimum_commission_never_overdraws_cash(
    market: Market,
) -> None:
    broker = PaperBroker(FillModel(slippage_bps=0, min_commission=5.0))
    broker.submit([_intent("B", Side.SELL, "0.02")], market.day(DECIDED))  # 0.02 x 55 = 1.10
    (fill,) = broker.poll(market, DECIDED + 1, Decimal(0))
    assert fill.fees == Decimal("1.10")  # what the proceeds and the cash can pay
    assert money(fill.quantity * fill.price) - fill.fees == Decimal(0)


def test_a_sale_pays_its_full_minimum_commission_when_there_is_cash(market: Market) -> None:
    broker = PaperBroker(FillModel(slippage_bps=0, min_commission=5.0))
    broker.submit([_intent("B", Side.SELL, "0.02")], market.day(DECIDED))
    (fill,) = broker.poll(market, DECIDED + 1, Decimal("100.00"))
    assert fill.fees == Decimal("5.00")
