"""Trainer throughput: env steps/s, RecurrentPPO training steps/s, one ensemble step.

All on one CPU thread (``torch.set_num_threads(1)``), the way ``invest train`` runs on a
CPU. Needs the ``train`` extra.

    python bench/bench_trainer.py [--env-steps 200000] [--train-steps 4096]

1. ``PortfolioVecEnv.step`` (8 portfolios x 10 symbols) with random actions over the
   20-stock sample (resets included), in agent-steps/s.
2. ``RecurrentPPO.learn`` with the default hyperparameters (8 envs x 128 steps, batch
   512, LSTM 32) and with one env, steps per second of wall time (rollouts and updates).
3. One step of an ensemble of 5 policies x 32 symbols (batch 32 per policy): the torch
   wrapper that is exported, p50 over many repeats; onnxruntime of the same graph for
   comparison.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path


def bench_env(n_steps: int) -> float:
    """Agent-steps/s of the portfolio env, 8 portfolios x 10 symbols (see bench_env.py)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_env import _setup
    from bench_env import bench_env as run

    _, venv = _setup(8, 10, 252)
    return run(venv, max(n_steps // 80, 1))


def bench_train(steps: int, n_envs: int) -> float:
    from invest.trainer.config import Hyperparameters, TrainConfig
    from invest.trainer.dataset import load_market_arrays
    from invest.trainer.train import build_model

    config = TrainConfig()
    base = Hyperparameters()
    hp = Hyperparameters(n_envs=n_envs, batch_size=min(base.batch_size, base.n_steps * n_envs))
    data = load_market_arrays(None)
    model = build_model(config, hp, data, data.rows(None, None), seed=0, device="cpu")
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps)
    return model.num_timesteps / (time.perf_counter() - t0)


def bench_inference(n_policies: int, batch: int, repeat: int) -> tuple[float, float]:
    import numpy as np
    import onnxruntime as ort
    import torch

    from invest.runtime.policy.contract import OBS_DIM
    from invest.trainer.config import TrainConfig
    from invest.trainer.dataset import load_market_arrays
    from invest.trainer.export import OnnxActor, export_onnx
    from invest.trainer.train import build_model

    config = TrainConfig()
    data = load_market_arrays(None)
    rows = data.rows(None, None)
    models = [build_model(config, config.hyperparameters, data, rows, s) for s in range(n_policies)]
    actors = [OnnxActor(m.policy).eval() for m in models]
    hidden = config.hyperparameters.lstm_hidden_size
    obs = torch.from_numpy(np.random.default_rng(0).normal(0, 0.5, (batch, OBS_DIM)).astype("f4"))
    h = torch.zeros(1, batch, hidden)
    start = torch.zeros(batch)
    torch_times = []
    with torch.inference_mode():
        for _ in range(repeat):
            t0 = time.perf_counter()
            for actor in actors:
                actor(obs, h, h, start)
            torch_times.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [export_onnx(m.policy, Path(tmp) / f"p{k}.onnx") for k, m in enumerate(models)]
        sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in paths]
    feeds = {
        "obs": obs.numpy(),
        "h_in": h.numpy(),
        "c_in": h.numpy(),
        "episode_start": start.numpy(),
    }
    ort_times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for s in sessions:
            s.run(None, feeds)
        ort_times.append(time.perf_counter() - t0)
    return statistics.median(torch_times), statistics.median(ort_times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--env-steps", type=int, default=200_000)
    parser.add_argument("--train-steps", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} "
        f"python {platform.python_version()} torch {torch.__version__} (1 thread)"
    )
    print(f"env: {bench_env(args.env_steps):,.0f} steps/s (PortfolioVecEnv, 80 slots, 1 core)")
    for n_envs in (8, 1):
        sps = bench_train(args.train_steps, n_envs)
        print(f"RecurrentPPO train: {sps:,.0f} steps/s ({n_envs} env(s), LSTM 32, CPU 1 thread)")
    t_torch, t_ort = bench_inference(5, 32, args.repeat)
    print(f"inference 5 policies x 32 symbols, one step, p50: torch {t_torch * 1e3:.3f} ms")
    print(f"inference 5 policies x 32 symbols, one step, p50: onnxruntime {t_ort * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
