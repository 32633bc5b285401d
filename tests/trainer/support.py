"""Helpers shared by the trainer tests."""

from __future__ import annotations

from typing import Any

import numpy as np


def make_model(config: Any, market: Any, rows: tuple[int, int], seed: int, steps: int = 0) -> Any:
    """A RecurrentPPO model, trained for ``steps`` (0: as initialised)."""
    import torch

    from invest.trainer.train import build_model

    torch.set_num_threads(1)
    model = build_model(config, config.hyperparameters, market, rows, seed, "cpu")
    if steps:
        model.learn(total_timesteps=steps)
    return model


def random_obs(b: int, dim: int, seed: int = 0) -> np.ndarray:
    """Plausible observations: small features, valid position fields."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(0, 0.5, (b, dim)).astype(np.float32)
    obs[:, -3] = rng.integers(0, 2, b)
    obs[:, -2] = np.clip(obs[:, -2], -1, 1) * obs[:, -3]
    obs[:, -1] = rng.uniform(0, 1, b) * obs[:, -3]
    return obs
