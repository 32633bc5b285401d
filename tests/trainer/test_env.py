"""The trading environment: gymnasium contract, observation layout, timing and reward."""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from invest.runtime.brokers.fills import FillModel
from invest.runtime.features import FEATURE_NAMES
from invest.trainer.dataset import MarketArrays
from invest.trainer.env import BUY, HOLD, OBS_LAYOUT, SELL, TradingEnv, obs_dim

F = len(FEATURE_NAMES)
COST = FillModel().cost_fraction()


def synthetic(close: np.ndarray) -> MarketArrays:
    """Arrays over given closes with every row valid and zero features."""
    t, n = close.shape
    dates = np.busday_offset(np.datetime64("2020-01-01", "D"), np.arange(t), roll="forward")
    return MarketArrays(
        dates=dates.astype("datetime64[D]"),
        symbols=tuple(f"S{j}" for j in range(n)),
        close=close,
        features=np.zeros((t, n, F), dtype=np.float32),
        valid=np.ones((t, n), dtype=bool),
        days=dates.astype("datetime64[D]").astype(np.int64),
    )


def run(env: TradingEnv, actions: list[int]) -> list[float]:
    return [env.step(a)[1] for a in actions]


def test_the_env_passes_sb3_check_env(market: Any, train_rows: tuple[int, int]) -> None:
    from stable_baselines3.common.env_checker import check_env

    check_env(TradingEnv(market, train_rows), warn=True)


def test_the_observation_follows_the_contract_layout(
    market: Any, train_rows: tuple[int, int]
) -> None:
    env = TradingEnv(market, train_rows)
    obs, info = env.reset(seed=1)
    j, t = market.symbols.index(info["symbol"]), info["start"]
    assert obs.shape == (obs_dim(),) == (F + 3,)
    assert obs.dtype == np.float32
    assert (*FEATURE_NAMES, "in_position", "unrealised", "days_held") == OBS_LAYOUT
    np.testing.assert_array_equal(obs[:F], np.nan_to_num(market.features[t, j]))
    assert obs[F:].tolist() == [0.0, 0.0, 0.0]


def test_a_buy_fills_at_the_next_close_and_shows_in_the_next_observation(
    market: Any, train_rows: tuple[int, int]
) -> None:
    env = TradingEnv(market, train_rows)
    _, info = env.reset(seed=2, options={"in_position": False})
    j, t = market.symbols.index(info["symbol"]), info["start"]
    c = market.close[:, j]
    obs, reward, *_ = env.step(BUY)
    entry = c[t + 1] * (1 + 5e-4)
    assert obs[F] == 1.0
    assert obs[F + 1] == pytest.approx(c[t + 1] / entry - 1, abs=1e-7)
    assert obs[F + 2] == 0.0
    growth = math.log(1 - COST) + math.log(c[t + 2] / c[t + 1])
    assert reward == pytest.approx(100 * (growth - 0.5 * max(0.0, -growth)), rel=1e-9)
    for _ in range(5):
        obs, *_ = env.step(HOLD)
    days = (market.dates[t + 6] - market.dates[t + 1]).astype(int)
    assert obs[F + 2] == pytest.approx(days / 252, abs=1e-7)
    assert obs[F + 1] == pytest.approx(c[t + 6] / entry - 1, abs=1e-6)


def test_holding_while_flat_earns_exactly_zero(market: Any, train_rows: tuple[int, int]) -> None:
    env = TradingEnv(market, train_rows)
    env.reset(seed=3, options={"in_position": False})
    rewards = run(env, [HOLD, SELL] * 100)
    assert rewards == [0.0] * 200


def test_churning_loses_exactly_the_costs_on_flat_prices() -> None:
    env = TradingEnv(synthetic(np.full((400, 1), 50.0)), (0, 400), drawdown_penalty=0.0)
    env.reset(seed=0, options={"symbol": 0, "start": 0})
    rewards = run(env, [BUY, SELL] * 50)
    assert all(r == pytest.approx(100 * math.log(1 - COST)) for r in rewards)
    assert sum(rewards) < 0


def test_the_drawdown_penalty_only_adds_losses() -> None:
    close = 50.0 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.02, (400, 1)), axis=0))
    data = synthetic(close)
    totals = {}
    for lam in (0.0, 0.5, 2.0):
        env = TradingEnv(data, (0, 400), drawdown_penalty=lam)
        env.reset(seed=0, options={"symbol": 0, "start": 0})
        actions = np.random.default_rng(1).integers(0, 3, 252).tolist()
        totals[lam] = sum(run(env, actions))
    assert totals[0.0] > totals[0.5] > totals[2.0]


def test_total_reward_never_exceeds_the_log_growth_of_the_account(
    market: Any, train_rows: tuple[int, int]
) -> None:
    env = TradingEnv(market, train_rows, reward_scale=1.0)
    rng = np.random.default_rng(4)
    for _ in range(5):
        _, info = env.reset(seed=int(rng.integers(1000)), options={"in_position": False})
        j, t0 = market.symbols.index(info["symbol"]), info["start"]
        c, pos, growth, total = market.close[:, j], 0, 0.0, 0.0
        for t in range(t0, t0 + env.episode_days):
            a = int(rng.integers(3))
            new = pos if a == HOLD else int(a == BUY)
            growth += (new != pos) * math.log(1 - COST) + new * math.log(c[t + 2] / c[t + 1])
            pos = new
            total += env.step(a)[1]
        assert total <= growth + 1e-12


def test_episodes_stay_inside_the_training_rows(market: Any) -> None:
    rows = market.rows(None, market.day(3000))
    env = TradingEnv(market, rows, episode_days=100)
    for seed in range(20):
        env.reset(seed=seed)
        truncated = False
        while not truncated:
            _, _, terminated, truncated, _ = env.step(BUY)
            assert not terminated
            assert env.row + 1 < rows[1]  # the last reward read close[row + 1]
            assert market.valid[env.row, market.symbols.index(env.symbols[env._j])]


def test_an_episode_lasts_episode_days_steps(market: Any, train_rows: tuple[int, int]) -> None:
    env = TradingEnv(market, train_rows, episode_days=30)
    env.reset(seed=5)
    flags = [env.step(HOLD)[3] for _ in range(30)]
    assert flags == [False] * 29 + [True]


def test_a_window_too_short_for_an_episode_is_a_clear_error(market: Any) -> None:
    with pytest.raises(ValueError, match="episode_days"):
        TradingEnv(market, (0, 300), episode_days=252)


def test_reset_with_a_seed_is_reproducible(market: Any, train_rows: tuple[int, int]) -> None:
    a, b = TradingEnv(market, train_rows), TradingEnv(market, train_rows)
    assert a.reset(seed=11)[1] == b.reset(seed=11)[1]


def test_a_step_calls_nothing_from_pandas(market: Any, train_rows: tuple[int, int]) -> None:
    env = TradingEnv(market, train_rows)
    env.reset(seed=6)
    modules: set[str] = set()

    def profile(frame: Any, event: str, arg: Any) -> None:
        modules.add(str(frame.f_globals.get("__name__", "")))
        if event == "c_call":
            modules.add(str(getattr(arg, "__module__", None) or ""))

    sys.setprofile(profile)
    try:
        for a in [BUY, HOLD, SELL, HOLD, BUY] * 20:
            env.step(a)
    finally:
        sys.setprofile(None)
    assert not [m for m in modules if m.startswith("pandas")]
    assert "invest.trainer.env" in modules
