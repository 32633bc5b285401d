"""Fixtures of the trainer tests: the sample's market arrays and tiny recurrent policies.

The trainer needs the ``train`` extra; each test module skips itself without torch or
sb3-contrib, so the imports here stay inside the fixtures.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from .support import PARITY_PORTFOLIOS, PARITY_STEPS, make_model

TRAIN_END = date(2020, 12, 31)


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    """Two shared cores: torch's thread pool only slows the tiny LSTMs down."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def market() -> Any:
    """The bundled sample's 20 stocks (and the index), features computed once."""
    from invest.trainer.dataset import load_market_arrays

    return load_market_arrays(None)


@pytest.fixture(scope="session")
def train_rows(market: Any) -> tuple[int, int]:
    """Rows up to the end of 2020."""
    return market.rows(None, TRAIN_END)


@pytest.fixture(scope="session")
def tiny_config() -> Any:
    """A config small enough to train in well under a second: 2 portfolios x 5 symbols."""
    from invest.trainer.config import EnvSettings, Hyperparameters, TrainConfig

    return TrainConfig(
        name="test",
        start_year=2021,
        end_year=2021,
        n_policies=2,
        total_timesteps=320,
        hyperparameters=Hyperparameters(
            n_envs=2, n_steps=32, batch_size=64, n_epochs=1, lstm_hidden_size=16
        ),
        env=EnvSettings(episode_days=30, symbols=5),
        parity_steps=250,
        workers=1,
        progress=False,
    )


@pytest.fixture(scope="session")
def tiny_models(tiny_config: Any, market: Any, train_rows: tuple[int, int]) -> list[Any]:
    """Two briefly trained policies (seeds 0 and 1)."""
    return [make_model(tiny_config, market, train_rows, seed, steps=320) for seed in (0, 1)]


@pytest.fixture(scope="session")
def parity_sequence(tiny_config: Any, market: Any, train_rows: tuple[int, int]) -> tuple[Any, Any]:
    """``(obs, starts)`` of a portfolio sim under random actions, episode resets included."""
    from invest.trainer.env import rollout_sequence
    from invest.trainer.train import make_sim

    sim = make_sim(tiny_config, market, train_rows, PARITY_PORTFOLIOS, seed=3)
    return rollout_sequence(sim, PARITY_STEPS, seed=3)


@pytest.fixture(scope="session")
def exported(
    tiny_models: list[Any], parity_sequence: tuple[Any, Any], tmp_path_factory: Any
) -> list[tuple[Path, dict[str, Any]]]:
    """The tiny policies exported with parity: ``(onnx path, parity report)``."""
    from invest.trainer.export import export_policy

    out = tmp_path_factory.mktemp("onnx")
    obs, starts = parity_sequence
    result = []
    for k, model in enumerate(tiny_models):
        report = export_policy(model.policy, out / f"policy-{k}.onnx", obs, starts)
        result.append((out / f"policy-{k}.onnx", report.to_json()))
    return result
