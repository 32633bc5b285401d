"""Helpers shared by the trainer tests."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Portfolios of the parity sequence of the ``exported`` fixture (x ``env.symbols`` slots).
PARITY_PORTFOLIOS = 2
PARITY_STEPS = 260


def make_model(config: Any, market: Any, rows: tuple[int, int], seed: int, steps: int = 0) -> Any:
    """A RecurrentPPO model on the portfolio env, trained for ``steps`` (0: as initialised)."""
    import torch

    from invest.trainer.train import build_model

    torch.set_num_threads(1)
    model = build_model(config, config.hyperparameters, market, rows, seed, "cpu")
    if steps:
        model.learn(total_timesteps=steps)
    return model


def random_obs(b: int, dim: int, seed: int = 0) -> np.ndarray:
    """Plausible normalised observations: small standardised fields, valid book fields.

    The last two fields are ``weight_rel`` in ``[0, 4]`` and ``cash`` in ``[0, 1]``.
    """
    rng = np.random.default_rng(seed)
    obs = rng.normal(0, 0.5, (b, dim)).astype(np.float32)
    obs[:, -2] = rng.choice([0.0, 1.0, 2.0], b)
    obs[:, -1] = rng.uniform(0, 1, b)
    return obs
