"""Portfolio construction: closed forms, constraints, and sklearn / scipy as references.

sklearn's ``LedoitWolf`` and scipy's SLSQP (dev extra only) are independent
implementations: the shrinkage and the constrained optima must match them on random
covariances and on the bundled sample's 20 real stocks.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from sklearn import covariance as sklearn_covariance

from invest.runtime.data.sample import INDEX_SYMBOL, SampleData
from invest.runtime.errors import ConfigError, DataError
from invest.runtime.portfolio.construction import (
    METHODS,
    FloatArray,
    ledoit_wolf,
    portfolio_vol,
    risk_contributions,
    trailing_returns,
    weights,
)


def random_cov(seed: int, n: int) -> FloatArray:
    """A random SPD matrix with correlated names and varied vols."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    vols = rng.uniform(0.1, 0.6, n)
    corr = a @ a.T + n * 0.2 * np.eye(n)
    d = np.sqrt(np.diag(corr))
    return np.asarray(corr / np.outer(d, d) * np.outer(vols, vols))


def sample_returns(lookback: int = 504) -> tuple[tuple[str, ...], FloatArray]:
    frame = SampleData().load([s for s in SampleData().symbols() if s != INDEX_SYMBOL])
    t = len(frame) - 1
    return frame.symbols, trailing_returns(frame.close, t, lookback)


def slsqp(cov: FloatArray, mu: FloatArray, cap: float, budget: float) -> FloatArray:
    """scipy's SLSQP on ``w' cov w / 2 - mu' w`` under the same constraints."""
    n = len(cov)
    result = minimize(
        lambda x: 0.5 * x @ cov @ x - mu @ x,
        np.full(n, budget / n),
        jac=lambda x: cov @ x - mu,
        method="SLSQP",
        bounds=[(0.0, cap)] * n,
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - budget}],
        options={"ftol": 1e-16, "maxiter": 2000},
    )
    assert result.success, result.message
    return np.asarray(result.x)


# --- Ledoit-Wolf ----------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "periods", "names"), [(0, 40, 8), (1, 300, 5), (2, 15, 30)])
def test_ledoit_wolf_matches_sklearn(seed: int, periods: int, names: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((periods, names)) @ rng.standard_normal((names, names))
    cov, shrinkage = ledoit_wolf(x)
    ref = sklearn_covariance.LedoitWolf().fit(x)
    assert shrinkage == pytest.approx(ref.shrinkage_, rel=1e-10)
    np.testing.assert_allclose(cov, ref.covariance_, rtol=1e-10, atol=1e-14)
    assert 0.0 < shrinkage < 1.0


def test_ledoit_wolf_on_the_sample_matches_sklearn() -> None:
    _, r = sample_returns()
    cov, shrinkage = ledoit_wolf(r)
    ref = sklearn_covariance.LedoitWolf().fit(r)
    assert shrinkage == pytest.approx(ref.shrinkage_, rel=1e-10)
    np.testing.assert_allclose(cov, ref.covariance_, rtol=1e-9)


def test_ledoit_wolf_shrinks_more_with_fewer_periods() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((400, 10)) * np.linspace(0.5, 3.0, 10)
    few, many = ledoit_wolf(x[:20])[1], ledoit_wolf(x)[1]
    assert few > many + 0.05


def test_ledoit_wolf_clips_the_shrinkage_at_one() -> None:
    # Few draws of uncorrelated, equal-variance names: the estimated error of S exceeds
    # its distance to the target, so the shrinkage is 1 and the estimate is mu * I.
    x = np.random.default_rng(3).standard_normal((20, 10))
    cov, shrinkage = ledoit_wolf(x)
    assert shrinkage == 1.0
    assert sklearn_covariance.LedoitWolf().fit(x).shrinkage_ == 1.0
    np.testing.assert_allclose(cov, np.trace(cov) / 10 * np.eye(10))


def test_ledoit_wolf_refuses_gaps() -> None:
    x = np.ones((5, 2))
    x[2, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        ledoit_wolf(x)


# --- closed forms on two assets -------------------------------------------------------


def two_assets(s1: float, s2: float, rho: float) -> FloatArray:
    return np.array([[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]])


def test_min_variance_two_assets_closed_form() -> None:
    s1, s2, rho = 0.2, 0.3, 0.25
    cov = two_assets(s1, s2, rho)
    w1 = (s2 * s2 - rho * s1 * s2) / (s1 * s1 + s2 * s2 - 2 * rho * s1 * s2)
    np.testing.assert_allclose(weights("min_variance", cov), [w1, 1 - w1], atol=1e-9)
    # With a cash reserve the same mix, scaled to the budget.
    w = weights("min_variance", cov, cash_reserve=0.2)
    np.testing.assert_allclose(w, [0.8 * w1, 0.8 * (1 - w1)], atol=1e-9)


def test_risk_parity_is_inverse_vol_when_uncorrelated() -> None:
    cov = two_assets(0.1, 0.4, 0.0)
    np.testing.assert_allclose(weights("risk_parity", cov), [0.8, 0.2], atol=1e-10)
    np.testing.assert_allclose(weights("inverse_vol", cov), [0.8, 0.2], atol=1e-12)
    # Correlation changes risk parity only when the vols differ... with 3 names it moves.
    cov3 = np.diag([0.04, 0.04, 0.04])
    cov3[0, 1] = cov3[1, 0] = 0.03
    rp = weights("risk_parity", cov3)
    assert rp[2] > rp[0] + 0.05
    np.testing.assert_allclose(weights("inverse_vol", cov3), [1 / 3] * 3)


def test_mean_variance_two_assets_unconstrained_optimum() -> None:
    cov = two_assets(0.2, 0.3, 0.25)
    mu = np.array([0.05, 0.09])
    lam = 3.0
    # Lagrangian of max mu'w - lam/2 w'Sw s.t. 1'w = 1: w = S^-1 (mu - g 1) / lam.
    inv = np.linalg.inv(cov)
    ones = np.ones(2)
    g = (ones @ inv @ mu - lam) / (ones @ inv @ ones)
    expected = inv @ (mu - g * ones) / lam
    assert np.all((expected > 0) & (expected < 1))
    got = weights("mean_variance", cov, scores=mu, risk_aversion=lam)
    np.testing.assert_allclose(got, expected, atol=1e-9)
    # More risk aversion moves the mix towards the minimum-variance portfolio.
    timid = weights("mean_variance", cov, scores=mu, risk_aversion=300.0)
    np.testing.assert_allclose(timid, weights("min_variance", cov), atol=2e-3)


# --- risk parity on random SPD matrices -----------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 25))
def test_risk_parity_contributions_equal(seed: int, n: int) -> None:
    cov = random_cov(seed, n)
    w = weights("risk_parity", cov, cash_reserve=0.1)
    assert w.sum() == pytest.approx(0.9, abs=1e-12)
    assert np.all(w > 0)
    rc = risk_contributions(w, cov)
    assert rc.sum() == pytest.approx(portfolio_vol(w, cov), rel=1e-12)
    np.testing.assert_allclose(rc / rc.sum(), np.full(n, 1.0 / n), atol=1e-6)


# --- constraints and the scipy reference ----------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(2, 15),
    cap=st.floats(0.1, 1.0),
    cash=st.floats(0.0, 0.5),
    method=st.sampled_from(METHODS),
)
def test_constraints_hold(seed: int, n: int, cap: float, cash: float, method: str) -> None:
    budget = 1.0 - cash
    cap = max(cap, budget / n)
    cov = random_cov(seed, n)
    scores = np.random.default_rng(seed).normal(0.05, 0.1, n)
    w = weights(method, cov, scores=scores, cap=cap, cash_reserve=cash, risk_aversion=2.0)
    assert w.sum() == pytest.approx(budget, abs=1e-9)
    assert np.all(w >= 0.0)
    assert np.all(w <= cap + 1e-12)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", ["min_variance", "mean_variance"])
def test_matches_slsqp_on_random_covariances(seed: int, method: str) -> None:
    n, cap, cash, lam = 12, 0.2, 0.05, 4.0
    cov = random_cov(seed, n)
    mu = np.random.default_rng(seed + 100).normal(0.08, 0.1, n)
    if method == "min_variance":
        q, lin = cov, np.zeros(n)
        got = weights(method, cov, cap=cap, cash_reserve=cash)
    else:
        q, lin = lam * cov, mu
        got = weights(method, cov, scores=mu, cap=cap, cash_reserve=cash, risk_aversion=lam)
    ref = slsqp(q, lin, cap, 1 - cash)

    def f(x: FloatArray) -> float:
        return float(0.5 * x @ q @ x - lin @ x)

    assert f(got) <= f(ref) + 1e-12
    np.testing.assert_allclose(got, ref, atol=1e-5)


@pytest.mark.parametrize("method", ["min_variance", "mean_variance"])
def test_matches_slsqp_on_the_samples_20_stocks(method: str) -> None:
    symbols, r = sample_returns()
    assert len(symbols) == 20
    cov = ledoit_wolf(r)[0] * 252
    mu = r.mean(axis=0) * 252
    cap, cash, lam = 0.15, 0.02, 3.0
    got = weights(method, cov, scores=mu, cap=cap, cash_reserve=cash, risk_aversion=lam)
    if method == "min_variance":
        ref = slsqp(cov, np.zeros(20), cap, 1 - cash)
    else:
        ref = slsqp(lam * cov, mu, cap, 1 - cash)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert np.all(got <= cap + 1e-12)
    assert got.sum() == pytest.approx(1 - cash)


# --- the cap, bad input, point in time ------------------------------------------------


def test_cap_moves_the_weights_and_spreads_the_excess() -> None:
    cov = np.diag([0.01, 0.04, 0.09, 0.16])
    free = weights("inverse_vol", cov)
    assert free[0] > 0.4
    capped = weights("inverse_vol", cov, cap=0.4)
    assert capped[0] == pytest.approx(0.4)
    assert capped.sum() == pytest.approx(1.0)
    # The others keep their inverse-vol proportions.
    assert capped[1] / capped[3] == pytest.approx(free[1] / free[3])
    # A cap that the excess pushes another name over caps that one too.
    twice = weights("inverse_vol", cov, cap=0.3)
    np.testing.assert_allclose(twice[:2], [0.3, 0.3])
    assert twice[2] / twice[3] == pytest.approx(free[2] / free[3])
    mv = weights("min_variance", cov, cap=0.3)
    assert mv.max() == pytest.approx(0.3)
    assert not np.allclose(mv, weights("min_variance", cov))


def test_infeasible_cap_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"cap 0.2 x 4 names = 0.8 < the invested budget 0.9"):
        weights("equal", np.eye(4), cap=0.2, cash_reserve=0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "kelly"}, "unknown method 'kelly'"),
        ({"method": "mean_variance"}, "needs scores"),
        ({"method": "mean_variance", "scores": np.ones(3)}, "2 finite numbers"),
        ({"method": "equal", "cash_reserve": 1.0}, "cash reserve"),
        ({"method": "equal", "cap": 0.0}, "the cap must be"),
    ],
)
def test_bad_input(kwargs: dict[str, object], message: str) -> None:
    method = str(kwargs.pop("method"))
    with pytest.raises(ConfigError, match=message):
        weights(method, np.eye(2), **kwargs)  # type: ignore[arg-type]


def test_bad_covariance() -> None:
    with pytest.raises(ConfigError, match="symmetric"):
        weights("equal", np.array([[1.0, 0.5], [0.1, 1.0]]))
    with pytest.raises(ConfigError, match="positive variance"):
        weights("inverse_vol", np.diag([1.0, 0.0]))


def test_trailing_returns_reads_rows_up_to_t_only() -> None:
    closes = np.array([[100.0, 10.0], [110.0, 11.0], [99.0, 12.1], [1e9, np.nan]])
    r = trailing_returns(closes, 2, 2)
    np.testing.assert_allclose(r, [[0.1, 0.1], [-0.1, 0.1]])
    later = closes.copy()
    later[3] = [5.0, 5.0]
    np.testing.assert_array_equal(trailing_returns(later, 2, 2), r)
    with pytest.raises(DataError, match=r"column\(s\) \[1\]"):
        trailing_returns(closes, 3, 2)
    with pytest.raises(DataError, match="need 3 closes up to row 1"):
        trailing_returns(closes, 1, 2)
