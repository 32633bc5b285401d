"""Training one policy: it moves the policy, and says how far (``drift.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from invest.trainer.env import rollout_sequence
from invest.trainer.train import (
    PROBE_PORTFOLIOS,
    PROBE_STEPS,
    Job,
    action_probs,
    make_sim,
    policy_drift,
    train_policy,
)

from .support import make_model


def test_policy_drift_of_known_probabilities() -> None:
    uniform = np.full((2, 3, 3), 1 / 3)
    same = policy_drift(uniform, uniform)
    assert same["entropy_initial"] == same["entropy_final"] == 1.0
    assert same["kl_from_initial"] == 0.0
    peaked = np.broadcast_to(np.array([0.8, 0.1, 0.1]), (2, 3, 3))
    moved = policy_drift(uniform, peaked)
    want = float((peaked[0, 0] * np.log(peaked[0, 0] * 3)).sum())
    assert moved["kl_from_initial"] == pytest.approx(want, abs=1e-4)
    assert moved["entropy_final"] < 1.0
    assert moved["argmax_shares"] == [1.0, 0.0, 0.0]
    assert moved["mean_probs"] == [0.8, 0.1, 0.1]


def test_a_short_training_run_moves_the_action_probabilities(
    tiny_config: Any, market: Any, train_rows: tuple[int, int], tmp_path: Path
) -> None:
    config = tiny_config.with_overrides(
        hyperparameters={**tiny_config.hyperparameters.model_dump(), "learning_rate": 1e-2}
    )
    job = Job(2021, 0, train_rows, str(tmp_path), config, config.hyperparameters, 1280)
    model, _, drift = train_policy(job)  # its wall time belongs to bench/bench_rl.py
    assert model.num_timesteps >= 1280
    written = json.loads((tmp_path / "drift.json").read_text())
    assert written == drift
    assert drift["kl_from_initial"] > 0
    assert 0 < drift["entropy_final"] <= 1
    assert 0 < drift["entropy_initial"] <= 1
    assert sum(drift["mean_probs"]) == pytest.approx(1.0, abs=1e-3)
    # The same probe through the untrained policy of that seed gives the initial figures.
    probe = make_sim(config, market, train_rows, PROBE_PORTFOLIOS, seed=7919)
    obs, starts = rollout_sequence(probe, PROBE_STEPS, seed=0)
    fresh = make_model(config, market, train_rows, seed=0)
    p0, p1 = action_probs(fresh.policy, obs, starts), action_probs(model.policy, obs, starts)
    assert p0.shape == (PROBE_STEPS, PROBE_PORTFOLIOS * config.env.symbols, 3)
    assert np.abs(p1 - p0).max() > 1e-3
    assert policy_drift(p0, p1) == drift
