"""FillModel: slippage, fees and the largest affordable quantity."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invest.runtime.brokers.fills import FillModel
from invest.runtime.config import FillSettings
from invest.runtime.domain import QTY_STEP, Side, money


def test_slippage_raises_the_price_of_a_buy() -> None:
    assert FillModel(slippage_bps=10).price(Side.BUY, 100.0) == pytest.approx(100.10)


def test_slippage_lowers_the_price_of_a_sell() -> None:
    assert FillModel(slippage_bps=10).price(Side.SELL, 100.0) == pytest.approx(99.90)


def test_zero_slippage_fills_at_the_bar_price() -> None:
    model = FillModel(slippage_bps=0)
    assert model.price(Side.BUY, 42.5) == 42.5
    assert model.price(Side.SELL, 42.5) == 42.5


@given(bps=st.floats(0, 500), bar=st.floats(0.01, 1e6))
def test_slippage_always_moves_the_price_against_the_order(bps: float, bar: float) -> None:
    model = FillModel(slippage_bps=bps)
    assert model.price(Side.BUY, bar) >= bar >= model.price(Side.SELL, bar)


def test_no_fees_when_there_is_no_commission() -> None:
    assert FillModel().fees(123_456.78) == Decimal(0)


def test_fees_are_a_fraction_of_notional_rounded_to_cents() -> None:
    assert FillModel(commission_pct=0.001).fees(12_345.0) == Decimal("12.34")


def test_the_minimum_commission_applies_to_small_orders() -> None:
    model = FillModel(commission_pct=0.001, min_commission=1.0)
    assert model.fees(100.0) == Decimal("1.00")
    assert model.fees(5_000.0) == Decimal("5.00")


def test_a_flat_minimum_commission_applies_without_a_percentage() -> None:
    assert FillModel(min_commission=0.35).fees(10.0) == Decimal("0.35")


def test_cost_fraction_adds_slippage_and_commission() -> None:
    assert FillModel(slippage_bps=5, commission_pct=0.001).cost_fraction() == pytest.approx(0.0015)


def test_the_model_is_built_from_the_config_section() -> None:
    s = FillSettings(slippage_bps=7, commission_pct=0.002, min_commission=1.5, fractional=False)
    assert FillModel.from_settings(s) == FillModel(7, 0.002, 1.5, False)


def test_affordable_qty_keeps_an_order_that_fits() -> None:
    assert FillModel().affordable_qty(Decimal(10), 100.0, Decimal("1000.00")) == Decimal(10)


def test_affordable_qty_cuts_an_order_to_the_cash() -> None:
    qty = FillModel().affordable_qty(Decimal(10), 100.0, Decimal("555.55"))
    assert Decimal("5.5") < qty < Decimal("5.5555")
    assert money(qty * Decimal(100)) <= Decimal("555.55")


def test_affordable_qty_cuts_to_whole_shares_when_not_fractional() -> None:
    model = FillModel(fractional=False)
    assert model.affordable_qty(Decimal(10), 100.0, Decimal("555.55")) == Decimal(5)


def test_affordable_qty_leaves_room_for_the_commission() -> None:
    model = FillModel(commission_pct=0.01, fractional=False)
    # 10 shares cost 1,000 + 10 fees: 1,000 of cash buys only 9
    assert model.affordable_qty(Decimal(10), 100.0, Decimal("1000.00")) == Decimal(9)


def test_affordable_qty_leaves_room_for_the_minimum_commission() -> None:
    model = FillModel(min_commission=5.0, fractional=False)
    assert model.affordable_qty(Decimal(10), 100.0, Decimal("1004.99")) == Decimal(9)
    assert model.affordable_qty(Decimal(10), 100.0, Decimal("1005.00")) == Decimal(10)


@pytest.mark.parametrize("cash", [Decimal(0), Decimal("-10.00")])
def test_affordable_qty_is_zero_without_cash(cash: Decimal) -> None:
    assert FillModel().affordable_qty(Decimal(10), 100.0, cash) == Decimal(0)


def test_affordable_qty_is_zero_when_the_minimum_commission_exceeds_the_cash() -> None:
    model = FillModel(min_commission=10.0)
    assert model.affordable_qty(Decimal(1), 5.0, Decimal("9.99")) == Decimal(0)


def _cost(model: FillModel, qty: Decimal, price: float) -> Decimal:
    px = Decimal(str(price))
    return money(qty * px) + model.fees(float(qty * px))


@settings(max_examples=300, deadline=None)
@given(
    qty=st.decimals("0.000001", "100000", places=6),
    price=st.floats(0.01, 10_000.0).map(lambda p: round(p, 6)),
    cash=st.decimals("0", "1000000", places=2),
    commission=st.floats(0.0, 0.05),
    min_commission=st.floats(0.0, 20.0),
    fractional=st.booleans(),
)
def test_affordable_qty_never_spends_more_than_the_cash(
    qty: Decimal,
    price: float,
    cash: Decimal,
    commission: float,
    min_commission: float,
    fractional: bool,
) -> None:
    model = FillModel(0.0, commission, min_commission, fractional)
    if not fractional:
        qty = qty.to_integral_value()
    got = model.affordable_qty(qty, price, cash)
    assert 0 <= got <= qty
    if got > 0:
        assert _cost(model, got, price) <= cash
    if got < qty:
        # Cut orders are close to the largest that fits: one more step (or 1% more) does not.
        step = QTY_STEP if fractional else Decimal(1)
        bigger = max(got + step, (got * Decimal("1.01")).quantize(step))
        assert bigger > qty or _cost(model, bigger, price) > cash - Decimal("0.02")
