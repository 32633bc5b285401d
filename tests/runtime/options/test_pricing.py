"""Black-Scholes-Merton: textbook values, parity, greeks against differences, implied vol."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from invest.runtime.errors import ConfigError, DataError, ImpliedVolError
from invest.runtime.options.contracts import Right
from invest.runtime.options.pricing import (
    Greeks,
    _scalar_price_vega,
    greeks,
    implied_vol,
    price,
    year_fraction,
)

spots = st.floats(1.0, 1000.0)
moneyness = st.floats(0.3, 3.0)  # strike / spot
years = st.floats(1 / 365, 5.0)
vols = st.floats(0.01, 3.0)
rates = st.floats(-0.02, 0.15)
divs = st.floats(0.0, 0.10)
rights = st.sampled_from([Right.CALL, Right.PUT, "call", "put"])


def test_hull_example_15_6_call_and_put() -> None:
    # Hull, Options, Futures and Other Derivatives (8th ed.), Example 15.6.
    assert price("call", 42, 40, 0.5, 0.2, 0.10) == pytest.approx(4.76, abs=0.005)
    assert price("put", 42, 40, 0.5, 0.2, 0.10) == pytest.approx(0.81, abs=0.005)


def test_hull_greeks_of_the_20_week_call() -> None:
    # Hull (8th ed.), chapter 18 (the greek letters): S=49, K=50, r=5%, sigma=20%, 20 weeks.
    g = greeks(Right.CALL, 49, 50, 0.3846, 0.2, 0.05)
    assert g.price == pytest.approx(2.40, abs=0.005)
    assert g.delta == pytest.approx(0.522, abs=0.0005)
    assert g.gamma == pytest.approx(0.066, abs=0.0005)
    assert g.vega == pytest.approx(12.1, abs=0.05)
    assert g.theta == pytest.approx(-4.31, abs=0.005)
    assert g.rho == pytest.approx(8.91, abs=0.005)
    assert g.vega_per_point == pytest.approx(0.121, abs=0.0005)
    assert g.theta_per_day == pytest.approx(-4.31 / 365, abs=0.0001)


def test_dividend_yield_textbook_values() -> None:
    # Hull (8th ed.), Example 17.1: index call, S=930, K=900, r=8%, q=3%, sigma=20%, 2 months.
    assert price("call", 930, 900, 2 / 12, 0.2, 0.08, 0.03) == pytest.approx(51.83, abs=0.005)
    # Haug, The Complete Guide to Option Pricing Formulas (2nd ed.), 1.1.2 (Merton 1973):
    # index put, S=100, K=95, T=0.5, r=10%, q=5%, sigma=20%: 2.4648.
    assert price("put", 100, 95, 0.5, 0.2, 0.10, 0.05) == pytest.approx(2.4648, abs=0.00005)


@given(rights, spots, moneyness, years, vols, rates, divs)
def test_put_call_parity_with_dividends(
    right: Right | str, spot: float, ratio: float, t: float, vol: float, rate: float, div: float
) -> None:
    strike = spot * ratio
    call = price("call", spot, strike, t, vol, rate, div)
    put = price("put", spot, strike, t, vol, rate, div)
    forward_gap = spot * math.exp(-div * t) - strike * math.exp(-rate * t)
    assert call - put == pytest.approx(forward_gap, abs=1e-9 * max(spot, strike))


@settings(max_examples=200)
@given(
    rights,
    spots,
    st.floats(0.6, 1.6),
    st.floats(7 / 365, 3.0),
    st.floats(0.05, 1.5),
    rates,
    divs,
)
def test_greeks_match_finite_differences_of_the_price(
    right: Right | str, spot: float, ratio: float, t: float, vol: float, rate: float, div: float
) -> None:
    strike = spot * ratio
    g = greeks(right, spot, strike, t, vol, rate, div)

    def at(**change: float) -> float:
        args = {"spot": spot, "t": t, "vol": vol, "rate": rate} | change
        return price(right, args["spot"], strike, args["t"], args["vol"], args["rate"], div)

    # Small steps: the truncation error of a central difference grows with the next
    # derivative, large at low vol and short t; rounding stays near 1e-16 * spot / step.
    hs, hv, ht, hr = 1e-6 * spot, 1e-7, 1e-7, 1e-7
    tol = 1e-6 * spot
    assert g.price == at()
    assert g.delta == pytest.approx((at(spot=spot + hs) - at(spot=spot - hs)) / (2 * hs), abs=1e-6)
    up = greeks(right, spot + hs, strike, t, vol, rate, div).delta
    down = greeks(right, spot - hs, strike, t, vol, rate, div).delta
    assert g.gamma == pytest.approx((up - down) / (2 * hs), rel=1e-4, abs=1e-6 / spot)
    assert g.vega == pytest.approx((at(vol=vol + hv) - at(vol=vol - hv)) / (2 * hv), abs=tol)
    # theta is the change with calendar time: the price's derivative in -t.
    assert g.theta == pytest.approx(-(at(t=t + ht) - at(t=t - ht)) / (2 * ht), abs=tol)
    assert g.rho == pytest.approx((at(rate=rate + hr) - at(rate=rate - hr)) / (2 * hr), abs=tol)


def test_arrays_broadcast_and_match_the_scalar_results() -> None:
    strikes = np.array([80.0, 95.0, 100.0, 105.0, 130.0])
    days = np.array([[7.0], [30.0], [365.0]])
    t = year_fraction(days)
    g = greeks("put", 100.0, strikes, t, 0.3, 0.04, 0.01)
    assert isinstance(g.price, np.ndarray)
    assert g.price.shape == (3, 5)
    for i in range(3):
        for j in range(5):
            one = greeks("put", 100.0, float(strikes[j]), float(days[i, 0]) / 365, 0.3, 0.04, 0.01)
            for field in ("price", "delta", "gamma", "vega", "theta", "rho"):
                assert np.asarray(getattr(g, field))[i, j] == pytest.approx(getattr(one, field))
    assert isinstance(price("call", 100, 100, 0.5, 0.2), float)


@given(st.booleans(), spots, moneyness, years, vols, rates, divs)
def test_the_solvers_scalar_kernel_equals_the_vectorised_formula(
    call: bool, spot: float, ratio: float, t: float, vol: float, rate: float, div: float
) -> None:
    strike = spot * ratio
    right = "call" if call else "put"
    value, vega = _scalar_price_vega(vol, call, spot, strike, t, rate, div)
    g = greeks(right, spot, strike, t, vol, rate, div)
    assert value == pytest.approx(g.price, rel=1e-12, abs=1e-12 * spot)
    assert vega == pytest.approx(g.vega, rel=1e-12, abs=1e-12 * spot)


def test_no_time_or_no_vol_gives_the_discounted_forward_intrinsic_value() -> None:
    assert price("call", 110, 100, 0.0, 0.3) == 10.0
    assert price("put", 110, 100, 0.0, 0.3) == 0.0
    g = greeks("call", 110, 100, 0.0, 0.3)
    assert (g.delta, g.gamma, g.vega, g.theta) == (1.0, 0.0, 0.0, 0.0)
    forward_gap = 110 * math.exp(-0.02) - 100 * math.exp(-0.05)
    assert price("call", 110, 100, 1.0, 0.0, 0.05, 0.02) == pytest.approx(forward_gap)
    assert price("put", 110, 100, 1.0, 0.0, 0.05, 0.02) == 0.0


def test_deep_out_of_the_money_prices_keep_their_tail() -> None:
    # 1 + erf(x) rounds to 0 beyond x of about -6; erfc keeps the put's value (about 1e-64).
    tiny = price("put", 100, 50, 7 / 365, 0.3)
    assert 0 < tiny < 1e-50
    assert implied_vol("put", tiny, 100, 50, 7 / 365) == pytest.approx(0.3, rel=1e-6)
    assert price("put", 100, 50, 7 / 365, 0.31) > tiny


@settings(max_examples=300)
@given(
    rights,
    spots,
    st.floats(0.2, 5.0),
    st.floats(0.5 / 365, 5.0),
    st.floats(0.01, 4.0),
    rates,
    divs,
)
def test_implied_vol_round_trips_the_price(
    right: Right | str, spot: float, ratio: float, t: float, vol: float, rate: float, div: float
) -> None:
    strike = spot * ratio
    g = greeks(right, spot, strike, t, vol, rate, div)
    target = float(g.price)
    call = right in (Right.CALL, "call")
    floor = max(
        (1 if call else -1) * (spot * math.exp(-div * t) - strike * math.exp(-rate * t)), 0.0
    )
    time_value = target - floor
    if time_value <= 0:
        # The time value underflowed (or is below the price's precision): nothing to fit.
        with pytest.raises(ImpliedVolError, match="at or below its discounted intrinsic value"):
            implied_vol(right, target, spot, strike, t, rate, div)
        return
    iv = implied_vol(right, target, spot, strike, t, rate, div)
    assert 0 < iv < 1000
    if target > 1e-300:  # subnormal floats carry too few digits to compare
        # The price's relative error is the vol's times the price's elasticity to vol,
        # which reaches 1e4 in the far tails: the tolerance scales with it.
        elasticity = float(g.vega) * vol / target
        tolerance = 1e-10 * (1 + elasticity)
        assert price(right, spot, strike, t, iv, rate, div) == pytest.approx(target, rel=tolerance)
    if time_value > 1e-6 * target and time_value > 1e-250:
        # Where the time value is well inside the price's precision, the vol itself comes back.
        assert iv == pytest.approx(vol, rel=1e-5)


@pytest.mark.parametrize(
    ("right", "value", "t", "says"),
    [
        ("call", 1.5, 0.5, "at or below its discounted intrinsic value 2:"),
        ("put", 0.0, 0.5, "at or below its discounted intrinsic value 0"),
        ("call", 42.0, 0.5, "at or above the no-arbitrage bound 42 \\(the discounted spot\\)"),
        (
            "put",
            39.0,
            0.5,
            "at or above the no-arbitrage bound 38.0\\d* \\(the discounted strike\\)",
        ),
        ("call", 3.0, 0.0, "t <= 0"),
        ("put", 3.0, -0.1, "t <= 0"),
        ("call", math.nan, 0.5, "must be a finite number"),
    ],
)
def test_a_price_no_volatility_fits_says_why(right: str, value: float, t: float, says: str) -> None:
    rate = 0.1 if right == "put" else 0.0
    with pytest.raises(ImpliedVolError, match=says) as error:
        implied_vol(right, value, 42.0, 40.0, t, rate)
    assert isinstance(error.value, DataError)
    assert "\n" not in str(error.value)


def test_a_price_just_under_the_bound_needs_more_vol_than_the_search_allows() -> None:
    with pytest.raises(ImpliedVolError, match="needs a volatility above"):
        implied_vol("call", 100 - 1e-9, 100.0, 100.0, 1 / (365 * 24))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("call", -1.0, 100.0, 0.5, 0.2), "spot must be positive, got -1"),
        (("call", 100.0, 0.0, 0.5, 0.2), "strike must be positive, got 0"),
        (("put", 100.0, 100.0, -0.1, 0.2), "t must be >= 0"),
        (("put", 100.0, 100.0, 0.5, -0.2), "vol must be >= 0"),
        (("put", 100.0, 100.0, 0.5, math.inf), "vol must be finite"),
        (("straddle", 100.0, 100.0, 0.5, 0.2), "right must be 'call' or 'put'"),
        (("call", [1.0, 2.0], [1.0, 2.0, 3.0], 0.5, 0.2), "shapes do not broadcast"),
    ],
)
def test_bad_inputs_are_refused_with_what_to_fix(args: tuple[object, ...], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        price(*args)  # type: ignore[call-overload]


def test_rights_are_read_from_the_enum_or_text() -> None:
    assert price(" CALL ", 42, 40, 0.5, 0.2, 0.1) == price(Right.CALL, 42, 40, 0.5, 0.2, 0.1)
    assert price("Put", 42, 40, 0.5, 0.2, 0.1) == price(Right.PUT, 42, 40, 0.5, 0.2, 0.1)
    assert price("put", 42, 40, 0.5, 0.2, 0.1) != price("call", 42, 40, 0.5, 0.2, 0.1)


def test_year_fraction_is_act_365() -> None:
    assert year_fraction(365) == 1.0
    assert year_fraction(73) == 0.2
    assert np.array_equal(year_fraction(np.array([0, 730])), np.array([0.0, 2.0]))


def test_greeks_is_a_frozen_value() -> None:
    g = greeks("call", 42, 40, 0.5, 0.2, 0.1)
    assert isinstance(g, Greeks)
    with pytest.raises(AttributeError):
        g.delta = 0.0  # type: ignore[misc]


# scipy is not a dependency of the appliance: this cross-check runs only where a
# developer has it installed, and is skipped otherwise (as in the project's dev venv).
@settings(max_examples=100)
@given(st.booleans(), spots, moneyness, st.floats(7 / 365, 3.0), st.floats(0.05, 2.0), rates, divs)
def test_cross_check_against_scipy_when_it_is_installed(
    call: bool, spot: float, ratio: float, t: float, vol: float, rate: float, div: float
) -> None:
    scipy_stats = pytest.importorskip("scipy.stats", reason="scipy is not installed")
    scipy_optimize = pytest.importorskip("scipy.optimize", reason="scipy is not installed")
    strike = spot * ratio
    right = "call" if call else "put"

    def reference(sigma: float) -> float:
        d1 = (math.log(spot / strike) + (rate - div + sigma**2 / 2) * t) / (sigma * math.sqrt(t))
        d2 = d1 - sigma * math.sqrt(t)
        sign = 1 if call else -1
        n = scipy_stats.norm.cdf
        return float(
            sign * spot * math.exp(-div * t) * n(sign * d1)
            - sign * strike * math.exp(-rate * t) * n(sign * d2)
        )

    target = reference(vol)
    assert price(right, spot, strike, t, vol, rate, div) == pytest.approx(
        target, rel=1e-9, abs=1e-9
    )
    assume(target > 1e-6 * spot)
    try:
        ours = implied_vol(right, target, spot, strike, t, rate, div)
    except ImpliedVolError:
        return
    theirs = scipy_optimize.brentq(lambda s: reference(s) - target, 1e-6, 10.0, xtol=1e-14)
    assert price(right, spot, strike, t, ours, rate, div) == pytest.approx(
        reference(theirs), rel=1e-7
    )
