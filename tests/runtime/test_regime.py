"""Regime: index against its moving average, with a hysteresis band."""

from __future__ import annotations

import numpy as np

from invest.runtime.regime import ATTACK, DEFENSE, regime_series


def test_regime_is_defense_until_the_average_exists() -> None:
    reg, sma = regime_series(np.linspace(100, 200, 10), window=5, band=0.0)
    assert (reg[:4] == DEFENSE).all()
    assert np.isnan(sma[:4]).all()
    assert reg[4] == ATTACK


def test_hysteresis_keeps_the_regime_inside_the_band() -> None:
    # Flat at 100 (average 100), then wiggles within +-1% while band is 2%.
    prices = np.array([100.0] * 5 + [103, 101, 99.5, 100.5, 99.2, 97, 98.5, 99.9])
    reg, _ = regime_series(prices, window=5, band=0.02)
    assert reg[5] == ATTACK  # 103 > 100 * 1.02
    assert (reg[6:10] == ATTACK).all()  # inside the band: keeps ATTACK
    assert reg[10] == DEFENSE  # 97 < avg * 0.98
    assert (reg[11:] == DEFENSE).all()


def test_without_a_band_each_cross_flips_the_regime() -> None:
    prices = np.array([100.0] * 5 + [103, 97, 103, 97])
    reg, _ = regime_series(prices, window=5, band=0.0)
    assert list(reg[5:]) == [ATTACK, DEFENSE, ATTACK, DEFENSE]


def test_regime_is_a_function_of_the_prefix_only() -> None:
    rng = np.random.default_rng(7)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 600)))
    full, _ = regime_series(prices, 200, 0.02)
    for k in (250, 400, 599):
        part, _ = regime_series(prices[:k], 200, 0.02)
        assert (part == full[:k]).all()
