"""ONNX export: the contract's inputs and outputs, and parity over portfolio rollouts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

import torch

from invest.runtime.policy.contract import OBS_DIM
from invest.trainer import export as export_module
from invest.trainer.env import rollout_sequence
from invest.trainer.export import (
    INPUT_NAMES,
    OUTPUT_NAMES,
    OnnxActor,
    ParityError,
    check_parity,
    export_onnx,
    export_policy,
)

from .support import PARITY_PORTFOLIOS, PARITY_STEPS, random_obs


def sequence(
    config: Any, market: Any, rows: tuple[int, int], steps: int, portfolios: int, seed: int
) -> Any:
    """Observations and episode starts of a portfolio sim under random actions."""
    from invest.trainer.train import make_sim

    return rollout_sequence(make_sim(config, market, rows, portfolios, seed=seed), steps, seed=seed)


def test_the_parity_sequence_is_a_portfolio_rollout_with_episode_resets(
    parity_sequence: tuple[np.ndarray, np.ndarray], tiny_config: Any
) -> None:
    obs, starts = parity_sequence
    slots = PARITY_PORTFOLIOS * tiny_config.env.symbols
    assert obs.shape == (PARITY_STEPS, slots, OBS_DIM)
    assert obs.dtype == np.float32
    assert starts.shape == (PARITY_STEPS, slots)
    assert starts[0].tolist() == [1.0] * slots
    # Every portfolio restarts each episode_days steps, all its symbol slots together.
    ep = tiny_config.env.episode_days
    want = np.zeros(PARITY_STEPS)
    want[0::ep] = 1.0
    np.testing.assert_array_equal(starts, np.repeat(want[:, None], slots, axis=1))
    # The book changes with the random actions: weight_rel is not constant.
    assert len(np.unique(obs[:, :, -2])) > 2


def session(path: Path) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_onnx_reproduces_torch_and_sb3_over_sequences_with_resets(
    exported: list[tuple[Path, dict[str, Any]]],
) -> None:
    for _, report in exported:
        assert report["passed"]
        total = PARITY_STEPS * PARITY_PORTFOLIOS * 5
        assert report["steps"] == PARITY_STEPS
        assert report["batch"] == PARITY_PORTFOLIOS * 5
        assert report["resets"] == 8  # steps 30, 60, ..., 240 of episode_days 30
        assert report["max_abs_logit_diff"] <= 1e-4
        assert report["action_agreement"] + report["ties"] / total >= 1.0
        assert report["sb3_action_agreement"] + report["ties"] / total >= 1.0


def test_the_onnx_names_shapes_and_batch_axis_follow_the_contract(
    exported: list[tuple[Path, dict[str, Any]]], tiny_config: Any
) -> None:
    sess = session(exported[0][0])
    assert tuple(i.name for i in sess.get_inputs()) == INPUT_NAMES
    assert tuple(o.name for o in sess.get_outputs()) == OUTPUT_NAMES
    hidden = tiny_config.hyperparameters.lstm_hidden_size
    for b in (1, 5, 32):
        logits, h, c = sess.run(
            None,
            {
                "obs": random_obs(b, OBS_DIM),
                "h_in": np.zeros((1, b, hidden), np.float32),
                "c_in": np.zeros((1, b, hidden), np.float32),
                "episode_start": np.ones(b, np.float32),
            },
        )
        assert logits.shape == (b, 3)
        assert h.shape == c.shape == (1, b, hidden)
        assert logits.dtype == np.float32


def test_episode_start_discards_the_incoming_state(
    exported: list[tuple[Path, dict[str, Any]]], tiny_config: Any
) -> None:
    sess = session(exported[0][0])
    hidden = tiny_config.hyperparameters.lstm_hidden_size
    obs = random_obs(3, OBS_DIM, seed=1)
    noise = np.random.default_rng(0).normal(size=(1, 3, hidden)).astype(np.float32)
    zeros = np.zeros_like(noise)
    start = np.array([1.0, 0.0, 1.0], np.float32)
    got = sess.run(None, {"obs": obs, "h_in": noise, "c_in": noise, "episode_start": start})
    fresh = sess.run(None, {"obs": obs, "h_in": zeros, "c_in": zeros, "episode_start": start})
    np.testing.assert_allclose(got[0][[0, 2]], fresh[0][[0, 2]], atol=1e-6)
    assert not np.allclose(got[0][1], fresh[0][1], atol=1e-6)


def test_the_wrapper_matches_sb3_predict_step_by_step(
    tiny_models: list[Any], tiny_config: Any, market: Any, train_rows: tuple[int, int]
) -> None:
    policy = tiny_models[0].policy
    actor = OnnxActor(policy).eval()
    obs_seq, starts = sequence(tiny_config, market, train_rows, 70, 1, seed=9)
    h = c = torch.zeros(1, 5, actor.hidden)
    state = None
    for t in range(len(obs_seq)):
        with torch.no_grad():
            logits, h, c = actor(torch.from_numpy(obs_seq[t]), h, c, torch.from_numpy(starts[t]))
        action, state = policy.predict(
            obs_seq[t], state=state, episode_start=starts[t].astype(bool), deterministic=True
        )
        np.testing.assert_array_equal(logits.argmax(1).numpy(), action)
        np.testing.assert_allclose(state[0], h.numpy(), atol=1e-6)


def test_parity_fails_against_another_policy(
    tiny_models: list[Any],
    exported: list[tuple[Path, dict[str, Any]]],
    tiny_config: Any,
    market: Any,
) -> None:
    obs, starts = sequence(tiny_config, market, market.rows(None, None), 250, 1, seed=1)
    report = check_parity(tiny_models[1].policy, exported[0][0], obs, starts)
    assert not report.passed
    assert report.max_abs_logit_diff > 1e-4


def test_a_failed_parity_refuses_the_export_and_leaves_no_file(
    tiny_models: list[Any],
    exported: list[tuple[Path, dict[str, Any]]],
    tiny_config: Any,
    market: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def export_the_other_policy(policy: Any, path: Path) -> Path:
        return export_onnx(tiny_models[1].policy, path)

    monkeypatch.setattr(export_module, "export_onnx", export_the_other_policy)
    obs, starts = sequence(tiny_config, market, market.rows(None, None), 250, 1, seed=2)
    target = tmp_path / "policy.onnx"
    with pytest.raises(ParityError, match="parity failed"):
        export_policy(tiny_models[0].policy, target, obs, starts)
    assert not target.exists()


def test_the_exported_policy_is_small(exported: list[tuple[Path, dict[str, Any]]]) -> None:
    assert all(path.stat().st_size < 100_000 for path, _ in exported)
