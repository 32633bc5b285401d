"""Paper option fills: mid +- a fraction of the half-spread, fees per contract, no invented legs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invest.runtime.brokers.options_fills import OptionFillModel
from invest.runtime.config.options_risk import OptionsRiskConfig
from invest.runtime.domain import AccountState
from invest.runtime.errors import DataUnavailableError
from invest.runtime.options.book import OptionAction, OptionBook, position_id
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.contracts import OptionContract, Right
from invest.runtime.options.structures import bull_put, butterfly

DAY = date(2027, 1, 4)
EXP = date(2027, 1, 15)


def contract(right: Right, strike: int, root: str = "XYZ") -> OptionContract:
    return OptionContract(root, EXP, right, Decimal(strike))


def chain(*quotes: tuple[Right, int, float, float], root: str = "XYZ") -> OptionChain:
    rows = tuple(OptionQuote(contract(r, k, root), bid, ask) for r, k, bid, ask in quotes)
    return OptionChain(root, DAY, 100.0, rows, "test")


SPREAD = bull_put(contract(Right.PUT, 100), contract(Right.PUT, 95))
CHAIN = chain((Right.PUT, 100, 1.90, 2.10), (Right.PUT, 95, 0.70, 0.90))


def fill(
    model: OptionFillModel, action: OptionAction = OptionAction.OPEN, n: int = 2
) -> dict[str, tuple[int, float]]:
    out = model.fill(
        CHAIN, SPREAD, n, action=action, client_order_id="c", account="a", position_id="p", day=DAY
    )
    return {leg.symbol: (leg.contracts, leg.price) for leg in out.legs}


P100, P95 = contract(Right.PUT, 100).symbol, contract(Right.PUT, 95).symbol


def test_sells_receive_below_mid_and_buys_pay_above_by_the_fraction() -> None:
    assert fill(OptionFillModel(0.5, 0)) == {P100: (-2, 1.95), P95: (2, 0.85)}
    assert fill(OptionFillModel(0.0, 0)) == {P100: (-2, 2.00), P95: (2, 0.80)}
    assert fill(OptionFillModel(1.0, 0)) == {P100: (-2, 1.90), P95: (2, 0.90)}


def test_a_close_reverses_every_leg() -> None:
    assert fill(OptionFillModel(0.5, 0), OptionAction.CLOSE) == {P100: (2, 2.05), P95: (-2, 0.75)}


def test_prices_round_to_the_cent_against_the_order() -> None:
    q = OptionQuote(contract(Right.CALL, 100), 1.00, 1.03)  # mid 1.015, half 0.015
    model = OptionFillModel(0.5, 0)
    assert model.price(q, buying=True) == 1.03  # 1.0225 up
    assert model.price(q, buying=False) == 1.00  # 1.0075 down


def test_fees_are_per_contract_per_leg() -> None:
    out = OptionFillModel(0.5, 0.65).fill(
        CHAIN,
        SPREAD,
        3,
        action=OptionAction.OPEN,
        client_order_id="c",
        account="a",
        position_id="p",
        day=DAY,
    )
    assert out.fees == Decimal("3.90")  # 2 legs x 3 contracts
    fly = butterfly(*(contract(Right.CALL, k) for k in (95, 100, 105)), Right.CALL)
    calls = chain(*((Right.CALL, k, 1.0, 1.2) for k in (95, 100, 105)))
    out = OptionFillModel(0.5, 0.65).fill(
        calls,
        fly,
        1,
        action=OptionAction.OPEN,
        client_order_id="c",
        account="a",
        position_id="p",
        day=DAY,
    )
    assert out.fees == Decimal("2.60")  # the body's two contracts both pay


def test_a_leg_not_in_the_chain_is_refused_never_invented() -> None:
    only_one = chain((Right.PUT, 100, 1.90, 2.10))
    with pytest.raises(DataUnavailableError, match=f"{P95} is not quoted in the test chain of XYZ"):
        OptionFillModel().fill(
            only_one,
            SPREAD,
            1,
            action=OptionAction.OPEN,
            client_order_id="c",
            account="a",
            position_id="p",
            day=DAY,
        )
    with pytest.raises(DataUnavailableError, match="cannot fill from the ABC chain"):
        OptionFillModel().fill(
            chain((Right.PUT, 100, 1.9, 2.1), root="ABC"),
            SPREAD,
            1,
            action=OptionAction.OPEN,
            client_order_id="c",
            account="a",
            position_id="p",
            day=DAY,
        )
    no_ask = chain((Right.PUT, 100, 0.0, 0.0), (Right.PUT, 95, 0.7, 0.9))
    with pytest.raises(DataUnavailableError, match="no ask"):
        OptionFillModel().fill(
            no_ask,
            SPREAD,
            1,
            action=OptionAction.OPEN,
            client_order_id="c",
            account="a",
            position_id="p",
            day=DAY,
        )


def test_the_model_is_built_from_the_options_risk_config_and_checks_its_inputs() -> None:
    model = OptionFillModel.from_config(
        OptionsRiskConfig(fill_spread_fraction=1.0, fee_per_contract=0.5)
    )
    assert model == OptionFillModel(1.0, 0.5)
    with pytest.raises(ValueError, match="spread_fraction must be in"):
        OptionFillModel(1.5)


@given(fraction=st.floats(0, 1), n=st.integers(1, 20), fee=st.integers(0, 100))
def test_a_round_trip_through_the_book_costs_the_spread_fraction_and_the_fees(
    fraction: float, n: int, fee: int
) -> None:
    model = OptionFillModel(fraction, fee / 100)
    state = AccountState("a", Decimal(100_000))
    book = OptionBook("a")
    pid = position_id("a", "c1", SPREAD)
    kw = {"client_order_id": "c", "account": "a", "position_id": pid, "day": DAY}
    book.open(model.fill(CHAIN, SPREAD, n, action=OptionAction.OPEN, **kw), SPREAD, n, state)
    book.close(model.fill(CHAIN, SPREAD, n, action=OptionAction.CLOSE, **kw), state)
    pnl = book.position(pid).pnl()
    assert pnl.realised is not None
    # Each leg crosses fraction x half its 0.20 spread twice; rounding each price to the cent
    # against the order adds at most a cent per leg each way.
    cost = 2 * 2 * fraction * 0.10 * 100 * n + float(pnl.fees)
    rounding = 2 * 2 * 0.01 * 100 * n
    assert cost - 1e-6 <= -float(pnl.realised) <= cost + rounding + 1e-6
    assert pnl.fees == Decimal(4 * n * fee) / 100
