"""Observations follow the contract: features (NaN as 0), then the position state."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import numpy as np

from invest.runtime.domain import AccountState
from invest.runtime.features import FEATURE_NAMES, compute_features
from invest.runtime.policy.observe import OBS_DIM, Observer
from tests.runtime.conftest import position
from tests.runtime.policy.support import trend_market


def test_features_are_computed_once_per_market_from_its_closes() -> None:
    market = trend_market()
    fs = market.features()
    assert market.features() is fs
    assert Observer(market, ("UP",))._features is fs
    np.testing.assert_array_equal(fs.values, compute_features(market.close).values)


def test_the_observation_is_the_feature_row_then_flat_position_state() -> None:
    market = trend_market()
    obs = Observer(market, ("DOWN", "UP")).observe(299, AccountState("a", Decimal(0)))
    assert obs.obs.shape == (2, OBS_DIM)
    assert obs.obs.dtype == np.float32
    row = market.features().values[299]
    np.testing.assert_array_equal(obs.obs[0, : len(FEATURE_NAMES)], row[market.col["DOWN"]])
    np.testing.assert_array_equal(obs.obs[1, : len(FEATURE_NAMES)], row[market.col["UP"]])
    assert obs.obs[:, len(FEATURE_NAMES) :].tolist() == [[0, 0, 0], [0, 0, 0]]
    assert obs.usable.tolist() == [True, True]


def test_warm_up_nan_features_become_zero() -> None:
    market = trend_market()
    obs = Observer(market, ("UP",)).observe(30, AccountState("a", Decimal(0)))
    assert np.isnan(market.features().values[30, 0]).any()
    assert np.isfinite(obs.obs).all()


def test_position_state_is_in_position_unrealised_and_days_held() -> None:
    market = trend_market()
    t = 299
    day = market.day(t)
    price = market.price("UP", t)
    state = AccountState(
        "a",
        Decimal(0),
        {
            "UP": position("UP", 1, price / 1.1, day - timedelta(days=126)),
            "DOWN": position("DOWN", 1, market.price("DOWN", t) / 3, day - timedelta(days=900)),
        },
    )
    obs = Observer(market, ("UP", "DOWN", "FLAT")).observe(t, state).obs[:, -3:]
    np.testing.assert_allclose(obs[0], [1.0, 0.1, 0.5], rtol=1e-5)
    np.testing.assert_allclose(obs[1], [1.0, 1.0, 1.0])  # clipped
    assert obs[2].tolist() == [0.0, 0.0, 0.0]


def test_a_missing_bar_is_flagged_unusable() -> None:
    market = trend_market(gap=("UP", 290))
    obs = Observer(market, ("UP", "FLAT")).observe(290, AccountState("a", Decimal(0)))
    assert obs.usable.tolist() == [False, True]
