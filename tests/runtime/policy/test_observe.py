"""Observations (spec 2): the contract's raw observation at row t, the pack's normalisation applied."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from invest.runtime.domain import AccountState
from invest.runtime.features import FEATURE_NAMES, compute_features
from invest.runtime.policy.contract import OBS_LAYOUT, Normaliser, raw_observations
from invest.runtime.policy.observe import OBS_DIM, Observer, book_weights
from tests.runtime.conftest import position
from tests.runtime.policy.support import trend_market

IDENT = Normaliser.identity()
SYMS = ("DOWN", "UP", "FLAT")
F = len(FEATURE_NAMES)
WREL, CASH = OBS_LAYOUT.index("weight_rel"), OBS_LAYOUT.index("cash")


def _flat() -> AccountState:
    return AccountState("a", Decimal(1000))


def test_features_are_computed_once_per_market_from_its_closes() -> None:
    market = trend_market()
    fs = market.features()
    assert market.features() is fs
    assert Observer(market, ("UP",), "IDX", IDENT)._features is fs.values
    np.testing.assert_array_equal(fs.values, compute_features(market.close).values)


def test_the_observation_is_the_contracts_raw_observation_of_the_row() -> None:
    market = trend_market()
    t = 299
    obs = Observer(market, SYMS, "IDX", IDENT).observe(t, _flat())
    assert obs.obs.shape == (3, OBS_DIM)
    assert obs.obs.dtype == np.float32
    row = market.features().values[t]
    cols = [market.col[s] for s in SYMS]
    want = raw_observations(
        row[cols].astype(np.float64),
        np.ones(3, bool),
        row[market.col["IDX"]].astype(np.float64),
        np.zeros(3),
        1.0,
    )
    np.testing.assert_array_equal(obs.obs, IDENT.apply(want))  # the identity still clips
    np.testing.assert_array_equal(obs.obs[:, :F], np.clip(row[cols], -5, 5))  # own features
    up_ret = OBS_LAYOUT.index("xs_ret_21")
    assert obs.obs[:, up_ret].tolist() == [-1.0, 1.0, 0.0]  # DOWN < FLAT < UP
    assert obs.obs[:, WREL].tolist() == [0.0, 0.0, 0.0]
    assert obs.obs[:, CASH].tolist() == [1.0, 1.0, 1.0]
    assert obs.usable.tolist() == [True, True, True]


def test_the_packs_normalisation_is_applied() -> None:
    market = trend_market()
    rng = np.random.default_rng(0)
    norm = Normaliser(
        rng.normal(0, 0.1, OBS_DIM).astype(np.float32),
        rng.uniform(0.01, 0.5, OBS_DIM).astype(np.float32),
    )
    raw = Observer(market, SYMS, "IDX", IDENT).observe(299, _flat()).obs
    scaled = Observer(market, SYMS, "IDX", norm).observe(299, _flat()).obs
    np.testing.assert_array_equal(scaled, norm.apply(raw))
    assert not np.allclose(scaled, raw)


def test_warm_up_nan_features_become_the_mean_after_normalisation() -> None:
    market = trend_market()
    obs = Observer(market, ("UP", "DOWN", "FLAT"), "IDX", IDENT).observe(30, _flat())
    assert np.isnan(market.features().values[30, 0]).any()
    assert np.isfinite(obs.obs).all()


def test_the_book_is_each_weight_times_n_and_cash_over_equity() -> None:
    market = trend_market()
    t = 299
    day = market.day(t)
    up, down = market.price("UP", t), market.price("DOWN", t)
    # UP worth 500, DOWN worth 1500, cash 500: equity 2500
    state = AccountState(
        "a",
        Decimal(500),
        {
            "UP": position("UP", 500 / up, up / 2, day),
            "DOWN": position("DOWN", 1500 / down, down, day),
        },
    )
    weights, cash = book_weights(market, t, SYMS, state)
    np.testing.assert_allclose(weights, [0.6, 0.2, 0.0], rtol=1e-6)
    assert cash == 0.2
    obs = Observer(market, SYMS, "IDX", IDENT).observe(t, state)
    np.testing.assert_allclose(obs.weights, weights)
    np.testing.assert_allclose(obs.obs[:, WREL], [1.8, 0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(obs.obs[:, CASH], 0.2, rtol=1e-6)
    none, all_cash = book_weights(market, t, SYMS, _flat())
    assert (none.tolist(), all_cash) == ([0.0, 0.0, 0.0], 1.0)


def test_a_missing_bar_is_flagged_unusable_and_left_out_of_the_ranks() -> None:
    market = trend_market(gap=("UP", 290))
    obs = Observer(market, ("UP", "FLAT", "DOWN"), "IDX", IDENT).observe(290, _flat())
    assert obs.usable.tolist() == [False, True, True]
    xs = obs.obs[:, OBS_LAYOUT.index("xs_ret_21")]
    assert xs.tolist() == [0.0, 1.0, -1.0]  # ranked among the two usable symbols
