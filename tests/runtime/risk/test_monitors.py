"""Risk monitors: VaR/CVaR (historical, parametric), concentration, drawdown, the VaR limit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats  # dev extra: the test reference, never in the runtime

from invest.runtime.risk.monitors import (
    book_risk,
    concentration,
    drawdown,
    historical_cvar,
    historical_var,
    norm_ppf,
    parametric_cvar,
    parametric_var,
    parametric_var_limit_clamp,
    portfolio_returns,
    var_limit_clamp,
)

# Twenty hand-written daily returns. Sorted, the worst five are
# -0.04, -0.03, -0.025, -0.02, -0.015.
FIXTURE = [
    0.01, -0.02, 0.005, -0.04, 0.012, -0.01, 0.003, -0.025, 0.007, 0.0,
    0.015, -0.005, 0.02, -0.03, 0.004, -0.015, 0.008, 0.006, -0.001, 0.011,
]  # fmt: skip


# -- historical VaR / CVaR on the hand fixture -------------------------------------------


@pytest.mark.parametrize(
    ("level", "var", "cvar"),
    [
        # k = ceil(20 * 0.05) = 1: the worst day alone.
        (0.95, 0.04, 0.04),
        # k = 2: VaR is the 2nd worst loss, CVaR the mean of the two worst.
        (0.90, 0.03, (0.04 + 0.03) / 2),
        # k = 3 exactly: 20 * 0.15 is 3.0000000000000004 in floats and must not become 4.
        (0.85, 0.025, (0.04 + 0.03 + 0.025) / 3),
        # k = 4.
        (0.80, 0.02, (0.04 + 0.03 + 0.025 + 0.02) / 4),
    ],
)
def test_historical_var_and_cvar_match_the_hand_computed_tail(
    level: float, var: float, cvar: float
) -> None:
    assert historical_var(FIXTURE, level) == pytest.approx(var, abs=1e-15)
    assert historical_cvar(FIXTURE, level) == pytest.approx(cvar, abs=1e-15)


def test_historical_var_is_numpys_inverted_cdf_quantile_on_a_longer_series() -> None:
    r = np.random.default_rng(7).standard_t(4, size=250) * 0.01
    for level in (0.95, 0.99):
        q = np.quantile(r, 1 - level, method="inverted_cdf")
        assert historical_var(r, level) == pytest.approx(-q, abs=1e-15)
        k = math.ceil(250 * (1 - level) - 1e-9)
        assert historical_cvar(r, level) == pytest.approx(-np.sort(r)[:k].mean(), abs=1e-15)


def test_a_tail_of_gains_gives_a_negative_var_not_zero() -> None:
    assert historical_var([0.01, 0.02, 0.03], 0.95) == pytest.approx(-0.01)


@pytest.mark.parametrize(
    ("returns", "level", "msg"),
    [
        ([], 0.95, "non-empty"),
        ([0.01, float("nan")], 0.95, "NaN"),
        ([0.01, 0.02], 1.0, "level"),
        ([0.01, 0.02], 0.3, "level"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    returns: list[float], level: float, msg: str
) -> None:
    with pytest.raises(ValueError, match=msg):
        historical_var(returns, level)


# -- the normal quantile and the parametric monitors -------------------------------------


def test_norm_ppf_matches_scipy_across_the_range() -> None:
    ps = np.concatenate(
        [np.logspace(-12, -2, 40), np.linspace(0.01, 0.99, 99), 1 - np.logspace(-10, -2, 40)]
    )
    for p in ps:
        assert norm_ppf(float(p)) == pytest.approx(stats.norm.ppf(p), rel=1e-12, abs=1e-12)


def test_norm_ppf_refuses_the_ends() -> None:
    for p in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="0 < p < 1"):
            norm_ppf(p)


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_parametric_var_and_cvar_match_scipy_and_the_tail_integral(level: float) -> None:
    r = np.asarray(FIXTURE)
    mu, sigma = r.mean(), r.std(ddof=1)
    expected_var = -stats.norm.ppf(1 - level, loc=mu, scale=sigma)
    assert parametric_var(r, level) == pytest.approx(expected_var, rel=1e-12)
    # CVaR as the average VaR over the tail, integrated numerically: independent of the
    # closed form phi(z) / (1 - level) that the module uses.
    tail, _ = integrate.quad(lambda u: -mu + sigma * stats.norm.ppf(u), level, 1.0)
    assert parametric_cvar(r, level) == pytest.approx(tail / (1 - level), rel=1e-8)


def test_parametric_var_known_closed_form() -> None:
    # [-1, 0, 1]: mean 0, sample std (ddof=1) exactly 1, so VaR is z itself.
    r = [-1.0, 0.0, 1.0]
    assert parametric_var(r, 0.975) == pytest.approx(1.959963984540054, rel=1e-12)
    assert parametric_cvar(r, 0.975) == pytest.approx(
        math.exp(-(1.959963984540054**2) / 2) / math.sqrt(2 * math.pi) / 0.025, rel=1e-10
    )


# -- hypothesis: the orderings that must always hold --------------------------------------

_returns = st.lists(
    st.floats(min_value=-0.5, max_value=0.5, allow_nan=False), min_size=2, max_size=300
)
_level = st.floats(min_value=0.5, max_value=0.999)


@settings(max_examples=200, deadline=None)
@given(_returns, _level)
def test_cvar_is_never_below_var(r: list[float], level: float) -> None:
    assert historical_cvar(r, level) >= historical_var(r, level) - 1e-12
    assert parametric_cvar(r, level) >= parametric_var(r, level) - 1e-12


@settings(max_examples=200, deadline=None)
@given(_returns, _level, _level)
def test_var_is_monotone_in_the_level(r: list[float], a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    assert historical_var(r, hi) >= historical_var(r, lo)
    assert historical_cvar(r, hi) >= historical_cvar(r, lo) - 1e-12
    assert parametric_var(r, hi) >= parametric_var(r, lo) - 1e-12


# -- portfolio returns, concentration, drawdown -------------------------------------------


def test_portfolio_returns_weight_each_asset_and_leave_cash_at_zero() -> None:
    r = [[0.10, -0.02], [0.00, 0.04]]
    out = portfolio_returns([0.5, 0.25], r)
    assert out.tolist() == pytest.approx([0.05 - 0.005, 0.01])


def test_portfolio_returns_refuse_a_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="days x assets"):
        portfolio_returns([0.5, 0.5, 0.0], [[0.1, 0.2]])


@pytest.mark.parametrize("n", [1, 2, 5, 20])
def test_equal_weights_have_herfindahl_one_over_n(n: int) -> None:
    largest, top3, hhi = concentration([1 / n] * n)
    assert largest == pytest.approx(1 / n)
    assert top3 == pytest.approx(min(3, n) / n)
    assert hhi == pytest.approx(1 / n)


def test_concentration_hand_case() -> None:
    assert concentration([0.1, 0.4, 0.2, 0.3]) == pytest.approx((0.4, 0.9, 0.30))


def test_concentration_herfindahl_ignores_cash_but_largest_does_not() -> None:
    # Two names at 20% each, 60% cash: each is 20% of equity, half of what is invested.
    assert concentration([0.2, 0.2]) == pytest.approx((0.2, 0.4, 0.5))
    assert concentration([]) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match=">= 0"):
        concentration([0.5, -0.1])


def test_drawdown_on_a_hand_curve() -> None:
    # Peaks 100, 110, 110, 120, 120, 120: the deepest is 88 / 110 - 1 = -20%,
    # the current 114 / 120 - 1 = -5%.
    current, deepest = drawdown([100, 110, 88, 120, 108, 114])
    assert current == pytest.approx(-0.05)
    assert deepest == pytest.approx(-0.20)
    assert drawdown([100, 101, 102]) == (0.0, 0.0)
    with pytest.raises(ValueError, match="> 0"):
        drawdown([100, 0, 50])


# -- the VaR limit on a buy ---------------------------------------------------------------


def _book() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(16)
    return {
        "CALM": rng.normal(0.0, 0.005, 500),  # 0.5% daily
        "WILD": rng.normal(0.0, 0.05, 500),  # 5% daily
    }


def test_the_var_limit_shrinks_a_buy_that_would_breach_it() -> None:
    rets = _book()
    weights = {"CALM": 0.5}
    allowed, clamp = var_limit_clamp(weights, "WILD", 0.10, rets, limit=0.01, level=0.99)
    assert clamp is not None
    assert 0.0 < allowed < 0.10
    m = np.column_stack([rets["CALM"], rets["WILD"]])
    var_full = historical_var(portfolio_returns([0.5, 0.10], m), 0.99)
    var_allowed = historical_var(portfolio_returns([0.5, allowed], m), 0.99)
    var_past = historical_var(portfolio_returns([0.5, allowed + 2e-4], m), 0.99)
    assert var_full > 0.01
    assert var_allowed <= 0.01 < var_past  # at the edge of the limit, not far inside it
    assert clamp.rule == "var_limit"
    assert clamp.symbol == "WILD"
    assert clamp.reason == (
        f"VaR 99% 1-day would be {var_full:.2%} > 1.00%: buy shrunk from 10.0% to {allowed:.1%}"
        f" (VaR {var_allowed:.2%})"
    )


def test_the_var_limit_leaves_a_buy_alone_when_it_does_not_bind() -> None:
    allowed, clamp = var_limit_clamp({"CALM": 0.5}, "WILD", 0.10, _book(), limit=0.20)
    assert (allowed, clamp) == (0.10, None)


def test_the_var_limit_adds_the_buy_to_a_name_already_held() -> None:
    rets = _book()
    # WILD alone at 10% (VaR about 1.2%) is within a 3% limit; on top of 30% already
    # held (40% in all, VaR about 4.7%) it is not.
    assert var_limit_clamp({}, "WILD", 0.10, rets, limit=0.03)[1] is None
    allowed, clamp = var_limit_clamp({"WILD": 0.30}, "WILD", 0.10, rets, limit=0.03)
    assert clamp is not None
    assert allowed < 0.10


def test_the_var_limit_blocks_a_buy_when_the_book_already_breaches_it() -> None:
    allowed, clamp = var_limit_clamp({"WILD": 0.9}, "CALM", 0.05, _book(), limit=0.03)
    assert allowed == 0.0
    assert clamp is not None
    assert "blocked" in clamp.reason


def test_the_var_limit_needs_returns_for_every_name() -> None:
    with pytest.raises(ValueError, match="no trailing returns for NEW"):
        var_limit_clamp({"CALM": 0.5}, "NEW", 0.1, _book(), limit=0.03)


# -- the parametric twin ----------------------------------------------------------------


def test_the_parametric_var_limit_finds_the_largest_buy_within_the_limit() -> None:
    rets = _book()
    m = np.column_stack([rets["CALM"], rets["WILD"]])
    allowed, clamp = parametric_var_limit_clamp(
        {"CALM": 0.5}, "WILD", 0.10, rets, limit=0.01, level=0.99
    )
    assert clamp is not None
    assert clamp.rule == "var_limit"
    assert clamp.reason.startswith("normal VaR 99% 1-day would be")
    # The normal VaR is convex in the weight: the answer is the root of VaR(x) = limit,
    # found here independently with scipy's brentq.
    from scipy.optimize import brentq

    def excess(x: float) -> float:
        return parametric_var(portfolio_returns([0.5, x], m), 0.99) - 0.01

    root = brentq(excess, 0.0, 0.10)
    assert allowed == pytest.approx(root, abs=2e-4)
    assert allowed <= root


def test_the_parametric_and_historical_limits_differ_on_fat_tails() -> None:
    # A fat-tailed series: calm days and a few crashes. Its normal VaR at 99% misses
    # the crashes' depth, so the parametric limit lets more of the buy through.
    calm = np.full(300, 0.001)
    calm[::50] = -0.08
    rets = {"FAT": calm}
    hist, _ = var_limit_clamp({}, "FAT", 0.5, rets, limit=0.02)
    norm, _ = parametric_var_limit_clamp({}, "FAT", 0.5, rets, limit=0.02)
    assert hist == pytest.approx(0.25, abs=2e-4)  # 8% x 0.25 = the 2% limit
    assert norm > hist


# -- book_risk: the record's monitors in one sort ---------------------------------------


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 300), k=st.integers(1, 5), seed=st.integers(0, 2**31))
def test_book_risk_equals_the_single_figures(n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rets = rng.normal(0.0, 0.02, (n, k))
    w = rng.uniform(0.0, 0.3, k)
    book = portfolio_returns(w, rets)
    out = book_risk(w, rets)
    assert out["var95"] == historical_var(book, 0.95)
    assert out["var99"] == historical_var(book, 0.99)
    assert out["cvar95"] == pytest.approx(historical_cvar(book, 0.95), abs=1e-15)
    assert out["cvar99"] == pytest.approx(historical_cvar(book, 0.99), abs=1e-15)
    assert (out["largest"], out["top3"], out["hhi"]) == concentration(w)
