"""The portfolio environment: observations, the reward's decomposition, books, episodes."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from invest.runtime.brokers.fills import FillModel
from invest.runtime.features import FEATURE_NAMES
from invest.runtime.policy.contract import (
    LEVELS,
    NORM_CLIP,
    OBS_DIM,
    Normaliser,
    level_weights,
    raw_observations,
)
from invest.trainer.env import PortfolioSim, PortfolioVecEnv, SimSettings, fit_normaliser

FREE = FillModel(slippage_bps=0.0, commission_pct=0.0)
COSTLY = FillModel(slippage_bps=10.0, commission_pct=0.001)
VOL = FEATURE_NAMES.index("vol_20")
OUT, EQUAL, OVER = 0, 1, 2


@pytest.fixture(scope="module")
def norm(market: Any, train_rows: tuple[int, int]) -> Normaliser:
    return fit_normaliser(market, train_rows)


def make(
    market: Any,
    rows: tuple[int, int],
    norm: Normaliser,
    *,
    fills: FillModel = FREE,
    seed: int = 0,
    **settings: Any,
) -> PortfolioSim:
    base = {"n_portfolios": 3, "symbols": 5, "episode_days": 30}
    return PortfolioSim(market, rows, norm, SimSettings(**{**base, **settings}), fills, seed)


def returns(market: Any, rows: np.ndarray, sym: np.ndarray) -> np.ndarray:
    """Each symbol's close-to-close return into ``rows``: ``close[t] / close[t - 1] - 1``."""
    return market.close[rows[:, None], sym] / market.close[rows[:, None] - 1, sym] - 1.0


def expected_obs(market: Any, sim: PortfolioSim, norm: Normaliser, w: np.ndarray) -> np.ndarray:
    """What the runtime's contract serves for the sim's rows, symbols and book ``w``."""
    t, sym = sim.t, sim.sym
    raw = raw_observations(
        market.features_raw[t[:, None], sym],
        np.ones(sym.shape, dtype=bool),
        market.index_features[t],
        w,
        1.0 - w.sum(axis=1),
    )
    return norm.apply(raw).reshape(-1, OBS_DIM)


def test_observations_are_the_contracts_normalised_raw_observations(
    market: Any, train_rows: tuple[int, int], norm: Normaliser
) -> None:
    sim = make(market, train_rows, norm)
    rng = np.random.default_rng(0)
    for _ in range(40):  # an episode end (30) included
        obs = sim.observe()
        assert obs.shape == (15, OBS_DIM) == (15, 27)
        assert obs.dtype == np.float32
        np.testing.assert_array_equal(obs, expected_obs(market, sim, norm, sim.w))
        assert np.abs(obs).max() <= NORM_CLIP
        sim.step(rng.integers(0, 3, 15))
    venv = PortfolioVecEnv(sim)
    assert venv.num_envs == 15
    assert venv.observation_space.shape == (OBS_DIM,)
    assert venv.observation_space.contains(venv.reset()[0])


def test_summed_rewards_are_the_portfolios_return_over_equal_weight(
    market: Any, train_rows: tuple[int, int], norm: Normaliser
) -> None:
    """Zero costs, no risk term: sum_j reward_j / (scale * M) = sum_j (w_j - 1/M) * R_j."""
    sim = make(market, train_rows, norm, risk_aversion=0.0, budget=1.0, cap=1.0)
    rng = np.random.default_rng(1)
    for _ in range(45):
        a = rng.integers(0, 3, 15)
        t, sym = sim.t.copy(), sim.sym.copy()
        reward, _, _ = sim.step(a)
        w = level_weights(np.asarray(LEVELS)[a.reshape(3, 5)], 1.0, 1.0)
        r = returns(market, t + 2, sym)  # filled at t + 1, held to t + 2
        got = reward.reshape(3, 5).sum(axis=1) / (100.0 * 5)
        np.testing.assert_allclose(got, ((w - 0.2) * r).sum(axis=1), rtol=1e-9, atol=1e-15)


def test_the_reward_decomposes_into_excess_return_costs_and_risk(
    market: Any, train_rows: tuple[int, int], norm: Normaliser
) -> None:
    """Summed: reward / (scale * M) + costs + risk term = the book's return - the universe's."""
    scale, gamma = 7.0, 5.0
    sim = make(market, train_rows, norm, fills=COSTLY, reward_scale=scale, risk_aversion=gamma)
    cost = COSTLY.cost_fraction()
    rng = np.random.default_rng(2)
    for _ in range(45):
        a = rng.integers(0, 3, 15)
        t, sym, old = sim.t.copy(), sim.sym.copy(), sim.w.copy()
        reward, _, _ = sim.step(a)
        w = level_weights(np.asarray(LEVELS)[a.reshape(3, 5)], 0.95, 0.2)
        grown = old * (1 + returns(market, t + 1, sym))
        drifted = grown / (1 - old.sum(axis=1, keepdims=True) + grown.sum(axis=1, keepdims=True))
        var = market.features_raw[t[:, None], sym, VOL] ** 2
        r = returns(market, t + 2, sym)
        excess = (w * r).sum(axis=1) - r.mean(axis=1)  # cash earns 0
        total = (
            reward.reshape(3, 5).sum(axis=1) / (scale * 5)
            + cost * np.abs(w - drifted).sum(axis=1)
            + gamma / 2 * ((w**2 - 0.04) * var).sum(axis=1)
        )
        np.testing.assert_allclose(total, excess, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 5.0, 50.0])
def test_holding_the_equal_weight_book_earns_exactly_zero(
    market: Any, train_rows: tuple[int, int], norm: Normaliser, gamma: float
) -> None:
    sim = make(market, train_rows, norm, risk_aversion=gamma, budget=1.0, cap=0.25)
    rewards = np.concatenate([sim.step(np.full(15, EQUAL))[0] for _ in range(45)])
    assert np.abs(rewards).max() == 0.0


def test_all_cash_earns_minus_the_universes_mean_return(
    market: Any, train_rows: tuple[int, int], norm: Normaliser
) -> None:
    sim = make(market, train_rows, norm, risk_aversion=0.0)
    got, want = [], []
    for _ in range(45):
        t, sym = sim.t.copy(), sim.sym.copy()
        reward, _, _ = sim.step(np.full(15, OUT))
        got.append(reward.reshape(3, 5).sum(axis=1) / (100.0 * 5))
        want.append(-returns(market, t + 2, sym).mean(axis=1))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)
    assert np.abs(np.asarray(got)).max() > 0  # cash is no free win


def test_costs_are_charged_on_the_trade_from_the_drifted_book(
    market: Any, train_rows: tuple[int, int], norm: Normaliser
) -> None:
    free = make(market, train_rows, norm, risk_aversion=0.0, seed=4)
    costly = make(market, train_rows, norm, risk_aversion=0.0, seed=4, fills=COSTLY)
    cost = COSTLY.cost_fraction()
    rng = np.random.default_rng(4)
    differs = False
    for _ in range(45):
        a = rng.integers(0, 3, 15)
        t, sym, old = free.t.copy(), free.sym.copy(), free.w.copy()
        np.testing.assert_array_equal(old, costly.w)
        r0, _, _ = free.step(a)
        r1, _, _ = costly.step(a)
        w = level_weights(np.asarray(LEVELS)[a.reshape(3, 5)], 0.95, 0.2)
        grown = old * (1 + returns(market, t + 1, sym))
        drifted = grown / (1 - old.sum(axis=1, keepdims=True) + grown.sum(axis=1, keepdims=True))
        charged = (r0 - r1).reshape(3, 5) / (100.0 * 5)
        np.testing.assert_allclose(charged, cost * np.abs(w - drifted), rtol=1e-9, atol=1e-15)
        differs |= not np.allclose(np.abs(w - drifted), np.abs(w - old), atol=1e-9)
    assert differs  # the drift matters: |w - w_old| would charge otherwise


def test_the_same_action_sets_the_same_weights_whatever_the_book(
    market: Any, train_rows: tuple[int, int], norm: Normaliser
) -> None:
    a, b = (make(market, train_rows, norm, seed=5) for _ in range(2))
    a.w[:] = 0.0
    b.w[:] = level_weights(np.full((3, 5), 2.0), 0.95, 0.2)
    rng = np.random.default_rng(5)
    for _ in range(20):
        act = rng.integers(0, 3, 15)
        a.step(act)
        b.step(act)
        want = level_weights(np.asarray(LEVELS)[act.reshape(3, 5)], 0.95, 0.2)
        np.testing.assert_array_equal(a.w, want)
        np.testing.assert_array_equal(b.w, want)
        np.testing.assert_array_equal(a.observe(), b.observe())


def books(sim: PortfolioSim) -> tuple[int, int, int]:
    """Books that are all cash, equal weight, or anything else."""
    eq = level_weights(np.ones(sim.m), sim.s.budget, sim.s.cap)
    cash = int((sim.w == 0).all(axis=1).sum())
    equal = int(np.isclose(sim.w, eq).all(axis=1).sum())
    return cash, equal, sim.k - cash - equal


def test_episodes_start_from_varied_books(
    market: Any, train_rows: tuple[int, int], norm: Normaliser
) -> None:
    sim = make(market, train_rows, norm, n_portfolios=64, episode_days=10)
    cash, equal, other = books(sim)
    assert cash > 0
    assert equal > 0
    assert other > 20
    assert len(np.unique(sim.w.round(6), axis=0)) > 20
    for _ in range(10):  # every episode ends on this step; the books are drawn again
        sim.step(np.full(64 * 5, OVER))
    assert len(np.unique(sim.w.round(6), axis=0)) > 20
    fixed = make(market, train_rows, norm, n_portfolios=64, random_start=0.0)
    cash, equal, other = books(fixed)
    assert cash > 0
    assert equal > 0
    assert other == 0


def test_an_episode_is_truncated_with_the_sb3_infos_on_its_slots_only(
    market: Any, train_rows: tuple[int, int], norm: Normaliser
) -> None:
    sim = make(market, train_rows, norm)
    venv = PortfolioVecEnv(sim)
    venv.reset()
    rng = np.random.default_rng(6)
    total = np.zeros(15)
    for _ in range(29):
        _, rewards, dones, infos = venv.step(rng.integers(0, 3, 15))
        total += rewards
        assert not dones.any()
        assert infos == [{}] * 15
    act = rng.integers(0, 3, 15)
    w = level_weights(np.asarray(LEVELS)[act.reshape(3, 5)], 0.95, 0.2)
    sim_after = (sim.t + 1, sim.sym.copy())
    obs, rewards, dones, infos = venv.step(act)
    total += rewards
    assert dones.tolist() == [True] * 15
    t, sym = sim_after
    raw = raw_observations(
        market.features_raw[t[:, None], sym],
        np.ones((3, 5), bool),
        market.index_features[t],
        w,
        1 - w.sum(axis=1),
    )
    last = norm.apply(raw).reshape(15, OBS_DIM)
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is True
        np.testing.assert_array_equal(info["terminal_observation"], last[i])
        assert info["episode"]["l"] == 30
        assert info["episode"]["r"] == pytest.approx(total[i], rel=1e-5, abs=1e-4)
    np.testing.assert_array_equal(obs, sim.observe())  # the next episode's first observation
    assert not np.array_equal(obs, last)
    # Portfolio 1 alone ends three steps later: its five slots, and no other, say so.
    sim.end[1] = sim.t[1] + 3
    for step in range(3):
        _, _, dones, infos = venv.step(rng.integers(0, 3, 15))
        want = [False] * 15 if step < 2 else [False] * 5 + [True] * 5 + [False] * 5
        assert dones.tolist() == want
    assert [bool(i) for i in infos] == want
    assert all(infos[i]["episode"]["l"] == 3 for i in range(5, 10))


def test_episodes_stay_inside_their_rows(market: Any, norm: Normaliser) -> None:
    rows = market.rows(None, date(2002, 12, 31))
    sim = make(market, rows, norm, n_portfolios=8, episode_days=100)
    rng = np.random.default_rng(7)
    for _ in range(350):
        assert (sim.t >= rows[0]).all()
        assert (sim.t + 2 < rows[1]).all()  # the last step reads the return into t + 2
        for lag in (0, 1, 2):
            assert market.valid[(sim.t + lag)[:, None], sim.sym].all()
        assert all(len(set(s)) == 5 for s in sim.sym.tolist())  # five distinct symbols
        sim.step(rng.integers(0, 3, 40))


def test_a_window_too_short_for_an_episode_is_a_clear_error(market: Any, norm: Normaliser) -> None:
    with pytest.raises(ValueError, match="episode_days"):
        make(market, (0, 300), norm, episode_days=252)


def test_a_seed_reproduces_the_episodes(
    market: Any, train_rows: tuple[int, int], norm: Normaliser
) -> None:
    def run(seed: int) -> np.ndarray:
        sim = make(market, train_rows, norm, seed=seed)
        acts = np.random.default_rng(0).integers(0, 3, (40, 15))
        return np.stack([sim.step(a)[0] for a in acts])

    np.testing.assert_array_equal(run(8), run(8))
    assert not np.array_equal(run(8), run(9))


def test_fit_normaliser_reads_only_the_training_rows(market: Any) -> None:
    rows = market.rows(None, date(2010, 12, 31))
    hi = rows[1]

    def altered(lo: int, stop: int) -> Any:
        arrays = {}
        for name in ("features_raw", "index_features", "close"):
            a = getattr(market, name).copy()
            a[lo:stop] = a[lo:stop] * 3.0 + 1.0
            arrays[name] = a
        valid = market.valid.copy()
        valid[lo:stop] = ~valid[lo:stop]
        return replace(market, valid=valid, **arrays)

    base = fit_normaliser(market, rows)
    after = fit_normaliser(altered(hi, len(market.dates)), rows)
    np.testing.assert_array_equal(base.mean, after.mean)
    np.testing.assert_array_equal(base.std, after.std)
    inside = fit_normaliser(altered(hi - 500, hi), rows)  # the check can fail
    assert not np.array_equal(base.mean, inside.mean)


def test_a_step_calls_nothing_from_pandas(
    market: Any, train_rows: tuple[int, int], norm: Normaliser
) -> None:
    sim = make(market, train_rows, norm)
    acts = np.random.default_rng(9).integers(0, 3, (40, 15))
    modules: set[str] = set()

    def profile(frame: Any, event: str, arg: Any) -> None:
        modules.add(str(frame.f_globals.get("__name__", "")))
        if event == "c_call":
            modules.add(str(getattr(arg, "__module__", None) or ""))

    sys.setprofile(profile)
    try:
        for a in acts:
            sim.step(a)
            sim.observe()
    finally:
        sys.setprofile(None)
    assert not [m for m in modules if m.startswith("pandas")]
    assert "invest.trainer.env" in modules
