"""Multi-leg structures: shapes refused, bounds held and attained, premium signs, collateral."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invest.runtime.errors import ConfigError
from invest.runtime.options.contracts import Leg, OptionContract, Right
from invest.runtime.options.pricing import price
from invest.runtime.options.structures import (
    Structure,
    StructureKind,
    bear_call,
    bear_put,
    bull_call,
    bull_put,
    butterfly,
    cash_secured_put,
    covered_call,
    iron_condor,
)

EXPIRY = date(2027, 1, 15)


def opt(
    right: Right, strike: float | Decimal, expiry: date = EXPIRY, root: str = "SPY"
) -> OptionContract:
    return OptionContract(root, expiry, right, Decimal(str(strike)))


def C(strike: float | Decimal, expiry: date = EXPIRY, root: str = "SPY") -> OptionContract:
    return opt(Right.CALL, strike, expiry, root)


def P(strike: float | Decimal, expiry: date = EXPIRY, root: str = "SPY") -> OptionContract:
    return opt(Right.PUT, strike, expiry, root)


@dataclass(frozen=True)
class Case:
    """A structure with its textbook bounds, written per kind independently of the module."""

    structure: Structure
    loss: Callable[[float], float]  # max loss from the net premium
    gain: Callable[[float], float]
    share_cost: float | None = None


# Strikes on a half-dollar grid (OCC writes them exactly), low strike and widths.
base = st.integers(2, 400).map(lambda n: Decimal(n) / 2)
width = st.integers(1, 40).map(lambda n: Decimal(n) / 2)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    k1 = draw(base)
    w = draw(width)
    k2 = k1 + w
    kind = draw(st.sampled_from(list(StructureKind)))
    f1, wf = float(k1), float(w)
    if kind is StructureKind.CASH_SECURED_PUT:
        return Case(cash_secured_put(P(k1)), lambda n: f1 - n, lambda n: n)
    if kind is StructureKind.COVERED_CALL:
        cost = draw(st.floats(0.5, 400.0))
        return Case(covered_call(C(k1)), lambda n: cost - n, lambda n: f1 - cost + n, cost)
    if kind is StructureKind.BULL_CALL:
        return Case(bull_call(C(k1), C(k2)), lambda n: -n, lambda n: wf + n)
    if kind is StructureKind.BEAR_PUT:
        return Case(bear_put(P(k2), P(k1)), lambda n: -n, lambda n: wf + n)
    if kind is StructureKind.BULL_PUT:
        return Case(bull_put(P(k2), P(k1)), lambda n: wf - n, lambda n: n)
    if kind is StructureKind.BEAR_CALL:
        return Case(bear_call(C(k1), C(k2)), lambda n: wf - n, lambda n: n)
    if kind is StructureKind.IRON_CONDOR:
        gap = draw(width)
        k3 = k2 + gap
        condor = iron_condor(P(k1), P(k2), C(k3), C(k3 + w))
        return Case(condor, lambda n: wf - n, lambda n: n)
    right = draw(st.sampled_from(list(Right)))
    fly = butterfly(opt(right, k1), opt(right, k2), opt(right, k2 + w), right)
    return Case(fly, lambda n: -n, lambda n: wf + n)


def premium_for(case: Case, fraction: float) -> float:
    """A plausible premium: a share of the width (credit) or of the max payoff (debit)."""
    s = case.structure
    strikes = sorted(float(leg.contract.strike) for leg in s.legs)
    scale = (
        strikes[0]
        if s.kind in (StructureKind.CASH_SECURED_PUT, StructureKind.COVERED_CALL)
        else 0.0
    )
    if s.kind in (StructureKind.IRON_CONDOR, StructureKind.BUTTERFLY):
        scale = strikes[1] - strikes[0]
    elif not scale:
        scale = strikes[-1] - strikes[0]
    return fraction * scale if s.is_credit else -fraction * scale


@given(cases(), st.floats(0.01, 0.99), st.lists(st.floats(0.0, 500.0), min_size=1, max_size=20))
def test_the_profit_at_expiry_stays_within_the_bounds_and_reaches_both(
    case: Case, fraction: float, spots: list[float]
) -> None:
    s, cost = case.structure, case.share_cost
    net = premium_for(case, fraction)
    loss, gain = s.max_loss(net, cost), s.max_gain(net, cost)
    assert loss == pytest.approx(case.loss(net))
    assert gain == pytest.approx(case.gain(net))
    eps = 1e-9 * (1 + max(float(leg.contract.strike) for leg in s.legs))
    for spot in spots:
        pnl = s.pnl_at_expiry(spot, net, cost)
        assert -loss - eps <= pnl <= gain + eps
    # Both bounds are reached at some spot: 0, a strike, or far above.
    probes = [0.0, *(float(leg.contract.strike) for leg in s.legs), 10_000.0]
    outcomes = [s.pnl_at_expiry(spot, net, cost) for spot in probes]
    assert min(outcomes) == pytest.approx(-loss)
    assert max(outcomes) == pytest.approx(gain)


@given(cases(), st.floats(0.01, 0.99))
def test_breakevens_give_zero_profit(case: Case, fraction: float) -> None:
    s, cost = case.structure, case.share_cost
    net = premium_for(case, fraction)
    points = s.breakevens(net, cost)
    expected = 2 if s.kind in (StructureKind.IRON_CONDOR, StructureKind.BUTTERFLY) else 1
    if s.max_gain(net, cost) < 0 or s.max_loss(net, cost) < 0:
        expected = 0  # a covered call whose shares cost more than strike + premium, or less
    if s.max_gain(net, cost) != 0 and s.max_loss(net, cost) != 0:  # else it only touches zero
        assert len(points) == expected
    assert list(points) == sorted(points)
    for spot in points:
        assert s.pnl_at_expiry(spot, net, cost) == pytest.approx(0.0, abs=1e-9 * (1 + spot))


def test_textbook_breakevens() -> None:
    assert bull_put(P(100), P(95)).breakevens(1.5) == (98.5,)
    assert bear_call(C(100), C(105)).breakevens(2.0) == (102.0,)
    assert bull_call(C(100), C(110)).breakevens(-4.0) == (104.0,)
    assert bear_put(P(100), P(90)).breakevens(-3.0) == (97.0,)
    assert cash_secured_put(P(50)).breakevens(1.25) == (48.75,)
    assert covered_call(C(55)).breakevens(1.0, share_cost=50.0) == (49.0,)
    assert iron_condor(P(90), P(95), C(105), C(110)).breakevens(2.0) == (93.0, 107.0)
    assert butterfly(C(90), C(100), C(110), "call").breakevens(-2.5) == (92.5, 107.5)


# Strikes within about 30% of the spot and some vol: every leg keeps a price above
# float underflow, so a zero premium cannot hide a sign.
@given(
    spot=st.floats(20.0, 500.0),
    low=st.floats(0.85, 1.0),
    wide=st.floats(0.01, 0.15),
    t=st.floats(14 / 365, 1.0),
    vol=st.floats(0.15, 1.0),
    rate=st.floats(0.0, 0.08),
)
def test_credit_spreads_take_a_credit_and_debit_spreads_pay_when_priced_by_bsm(
    spot: float, low: float, wide: float, t: float, vol: float, rate: float
) -> None:
    k1 = Decimal(round(spot * low, 1)).quantize(Decimal("0.1"))
    k2 = (k1 + Decimal(round(spot * wide, 1)).quantize(Decimal("0.1"))).max(k1 + Decimal("0.1"))
    structures = [
        bull_call(C(k1), C(k2)),
        bear_put(P(k2), P(k1)),
        bull_put(P(k2), P(k1)),
        bear_call(C(k1), C(k2)),
        iron_condor(P(k1 - (k2 - k1)), P(k1), C(k2), C(k2 + (k2 - k1))),
        butterfly(C(k1), C(k2), C(k2 + (k2 - k1)), Right.CALL),
        cash_secured_put(P(k1)),
        covered_call(C(k2)),
    ]
    for s in structures:
        prices = {
            leg.contract.symbol: price(
                leg.contract.right, spot, float(leg.contract.strike), t, vol, rate
            )
            for leg in s.legs
        }
        net = s.net_premium(prices)
        assert (net > 0) is s.is_credit, (s.kind, net)


def test_net_premium_signs_by_hand() -> None:
    spread = bull_put(P(100), P(95))
    prices = {P(100).symbol: 3.0, P(95).symbol: 1.2}
    assert spread.net_premium(prices) == pytest.approx(1.8)
    assert bull_call(C(100), C(105)).net_premium({C(100).symbol: 4.0, C(105).symbol: 1.5}) == -2.5
    fly = butterfly(P(90), P(100), P(110), "put")
    assert fly.net_premium({P(90).symbol: 1.0, P(100).symbol: 4.0, P(110).symbol: 10.0}) == -3.0
    with pytest.raises(ConfigError, match=f"no price for {P(95).symbol}"):
        spread.net_premium({P(100).symbol: 3.0})
    with pytest.raises(ConfigError, match="must be >= 0"):
        spread.net_premium({P(100).symbol: 3.0, P(95).symbol: -1.0})


def test_collateral_and_reserved_shares() -> None:
    csp = cash_secured_put(P(450))
    assert csp.collateral(5.0) == Decimal("45000")
    assert csp.shares_reserved == 0
    spread = bull_put(P(100), P(95))
    assert spread.max_loss(1.8) == pytest.approx(3.2)
    assert spread.collateral(1.8) == Decimal("320.00")
    condor = iron_condor(P(90), P(95), C(105), C(110))
    assert condor.collateral(1.37) == Decimal("363.00")
    assert bull_call(C(100), C(105)).collateral(-2.5) == Decimal("250.00")
    cc = covered_call(C(55))
    assert cc.collateral(1.0) == Decimal(0)
    assert cc.shares_reserved == 100
    assert cc.max_gain(1.0, share_cost=50.0) == 6.0
    with pytest.raises(ConfigError, match="pass share_cost"):
        cc.max_loss(1.0)


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda: bear_call(C(105), C(100)), "short call below a long call"),
        (lambda: bull_call(C(105), C(100)), "long call below a short call"),
        (lambda: bull_put(P(95), P(100)), "long put below a short put"),
        (lambda: bear_put(P(95), P(100)), "short put below a long put"),
        (lambda: bull_put(P(100), P(100)), "long put below a short put"),
        (lambda: bull_put(P(100), P(95, expiry=date(2027, 2, 19))), "one expiry"),
        (lambda: bear_call(C(100), C(105, root="QQQ")), "one underlying"),
        (lambda: iron_condor(P(85), P(95), C(105), C(110)), "equal wings"),
        (lambda: iron_condor(P(90), P(105), C(95), C(110)), "long put < short put < short call"),
        (lambda: butterfly(C(90), C(100), C(115), "call"), "equal wings"),
        (lambda: butterfly(C(90), P(100), C(110), "call"), "cannot hold"),
        (lambda: cash_secured_put(C(100)), "one short put"),
        (lambda: covered_call(P(100)), "one short call"),
        (lambda: Structure(StructureKind.BEAR_CALL, (Leg(C(100), -1),)), "undefined risk"),
        (lambda: Structure(StructureKind.BULL_PUT, (Leg(P(100), -1), Leg(P(95), 2))), "got"),
        (lambda: Structure(StructureKind.CASH_SECURED_PUT, ()), "needs legs"),
    ],
)
def test_malformed_or_undefined_risk_shapes_are_refused(
    build: Callable[[], Structure], says: str
) -> None:
    with pytest.raises(ConfigError, match=says) as error:
        build()
    assert "\n" not in str(error.value)


def test_value_at_expiry_is_the_signed_intrinsic_of_the_legs() -> None:
    condor = iron_condor(P(90), P(95), C(105), C(110))
    assert condor.value_at_expiry(100) == 0.0
    assert condor.value_at_expiry(80) == -5.0
    assert condor.value_at_expiry(107) == -2.0
    assert covered_call(C(55)).value_at_expiry(60) == -5.0
    assert math.isclose(cash_secured_put(P(50)).value_at_expiry(42.5), -7.5)
