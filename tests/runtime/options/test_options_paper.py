"""The paper options broker: next-session fills, one-day limits, market exits, no invented legs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from invest.runtime.brokers.options_fills import OptionFillModel
from invest.runtime.brokers.options_paper import PaperOptionsBroker, net_premium
from invest.runtime.domain import OrderStatus
from invest.runtime.errors import DataUnavailableError
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.contracts import OptionContract, Right
from invest.runtime.options.plan import OptionOrder, OrderAction, option_order_id
from invest.runtime.options.structures import Structure, bull_put, cash_secured_put

D1, D2, D3 = date(2027, 1, 4), date(2027, 1, 5), date(2027, 1, 6)
EXP = date(2027, 1, 15)


def contract(strike: int) -> OptionContract:
    return OptionContract("XYZ", EXP, Right.PUT, Decimal(strike))


class DayChains:
    """A ChainSource with one hand-written chain per day (and none on the others)."""

    name = "test"

    def __init__(self, quotes: dict[date, dict[int, tuple[float, float]]]) -> None:
        self.quotes = quotes
        self.asked: list[date] = []

    def chain(self, underlying: str, as_of: date) -> OptionChain:
        self.asked.append(as_of)
        if as_of not in self.quotes:
            raise DataUnavailableError(f"no chain of {underlying} on {as_of}")
        rows = tuple(
            OptionQuote(contract(k), bid, ask) for k, (bid, ask) in self.quotes[as_of].items()
        )
        return OptionChain(underlying, as_of, 100.0, rows, "test")


CSP = cash_secured_put(contract(95))
SPREAD = bull_put(contract(95), contract(90))


def order(
    structure: Structure,
    limit: float | None,
    action: OrderAction = OrderAction.OPEN,
    pid: str = "p1",
    rule: str = "",
) -> OptionOrder:
    return OptionOrder(
        "acct", "acct:2027-01-04", action, pid, structure, 2, limit, "why",
        option_order_id("acct", "acct:2027-01-04", pid, action), rule,
    )  # fmt: skip


def broker(quotes: dict[date, dict[int, tuple[float, float]]]) -> PaperOptionsBroker:
    return PaperOptionsBroker(DayChains(quotes), OptionFillModel(0.5, 0.65))


def test_an_order_fills_at_the_next_sessions_chain_not_the_days_it_was_decided_on() -> None:
    b = broker({D1: {95: (1.00, 1.20)}, D2: {95: (2.00, 2.20)}})
    (ack,) = b.submit([order(CSP, 0.5)], D1)
    assert ack.status is OrderStatus.SUBMITTED
    assert b.poll(D1) == []  # decided today: not filled today
    assert len(b.open_orders()) == 1
    (done,) = b.poll(D2)
    # mid 2.10 less half the half-spread: 2.05 (D1's chain would give 1.05)
    assert [(leg.contracts, leg.price) for leg in done.fill.legs] == [(-2, 2.05)]
    assert done.fill.day == D2
    assert done.fill.fees == Decimal("1.30")
    assert b.open_orders() == []
    assert b.take_cancelled() == []


def test_a_limit_not_met_cancels_the_day_order_with_the_reason() -> None:
    quotes = {D2: {95: (1.00, 1.20)}}  # a sale fills at 1.05
    b = broker(quotes)
    b.submit([order(CSP, 1.06)], D1)
    assert b.poll(D2) == []
    ((cancelled, why),) = b.take_cancelled()
    assert cancelled.position_id == "p1"
    assert "limit not met" in why
    assert "+1.05" in why
    assert "+1.06" in why
    assert b.poll(D3) == []  # gone: a one-day order is not tried again
    # the same limit at the fill's price fills
    b2 = broker(quotes)
    b2.submit([order(CSP, 1.05)], D1)
    assert len(b2.poll(D2)) == 1


def test_a_debit_limit_is_the_most_paid() -> None:
    # closing the credit spread buys back the 95 put (1.575 up to 1.58) and sells the 90
    # (0.425 down to 0.42): a debit of 1.16
    quotes = {D2: {95: (1.50, 1.60), 90: (0.40, 0.50)}}
    too_tight = broker(quotes)
    too_tight.submit([order(SPREAD, -1.15, OrderAction.CLOSE, rule="roll")], D1)
    assert too_tight.poll(D2) == []
    ok = broker(quotes)
    ok.submit([order(SPREAD, -1.16, OrderAction.CLOSE, rule="roll")], D1)
    (done,) = ok.poll(D2)
    assert net_premium(done.fill, 2) == pytest.approx(-1.16)


def test_a_market_order_always_fills_whatever_the_price() -> None:
    b = broker({D2: {95: (9.00, 9.40), 90: (5.00, 5.20)}})
    b.submit([order(SPREAD, None, OrderAction.CLOSE, rule="stop_loss")], D1)
    (done,) = b.poll(D2)
    assert net_premium(done.fill, 2) < -4


def test_a_leg_missing_from_the_chain_cancels_and_names_it() -> None:
    b = broker({D2: {95: (1.00, 1.20)}})  # the 90 put is not quoted
    b.submit([order(SPREAD, None, OrderAction.CLOSE)], D1)
    assert b.poll(D2) == []
    ((_, why),) = b.take_cancelled()
    assert contract(90).symbol in why
    assert "not quoted" in why


def test_no_chain_that_day_cancels_with_the_reason() -> None:
    b = broker({})
    b.submit([order(CSP, None)], D1)
    assert b.poll(D2) == []
    ((_, why),) = b.take_cancelled()
    assert "no chain of XYZ" in why


def test_closes_fill_before_opens_and_a_repeat_is_not_queued_again() -> None:
    b = broker({D2: {95: (1.00, 1.20), 90: (0.40, 0.50)}})
    opening = order(CSP, None, pid="new")
    closing = order(SPREAD, None, OrderAction.CLOSE, pid="old")
    b.submit([opening, closing], D1)
    b.submit([opening], D1)  # a retry
    assert [d.order.action for d in b.poll(D2)] == [OrderAction.CLOSE, OrderAction.OPEN]
    b.submit([opening], D2)  # filled already: never again
    assert b.poll(D3) == []
