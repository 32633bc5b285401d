"""RecurrentPPO training throughput on the portfolio env (CPU, one torch thread).

    python bench/bench_rl.py [--portfolios 4] [--symbols 10] [--timesteps 20480]

Builds the model exactly as ``invest train`` does (:func:`invest.trainer.train.build_model`,
default hyperparameters but ``n_envs``), times ``learn`` (rollouts and updates) and,
in the same run, the env alone under random actions at the same size: the ratio is the
share of the env's own speed that training keeps (the rest is the LSTM and PPO).
Agent-steps: one per symbol slot per step, what SB3 counts as timesteps.
"""

from __future__ import annotations

import argparse
import platform
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--portfolios", type=int, default=4, help="n_envs")
    p.add_argument("--symbols", type=int, default=10, help="env.symbols")
    p.add_argument("--timesteps", type=int, default=20_480)
    p.add_argument("--batch-size", type=int, default=512)
    a = p.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(1)
    from invest.trainer.config import EnvSettings, Hyperparameters, TrainConfig
    from invest.trainer.dataset import load_market_arrays
    from invest.trainer.env import PortfolioVecEnv
    from invest.trainer.train import build_model, make_sim

    hp = Hyperparameters(n_envs=a.portfolios, batch_size=a.batch_size)
    config = TrainConfig(hyperparameters=hp, env=EnvSettings(symbols=a.symbols), device="cpu")
    data = load_market_arrays(None)
    rows = data.rows(None, None)
    model = build_model(config, hp, data, rows, seed=0, device="cpu")
    t0 = time.perf_counter()
    model.learn(total_timesteps=a.timesteps)
    train_s = time.perf_counter() - t0
    rl = model.num_timesteps / train_s

    venv = PortfolioVecEnv(make_sim(config, data, rows, a.portfolios, seed=1))
    n = venv.num_envs
    steps = max(model.num_timesteps // n, 1)
    actions = np.random.default_rng(0).integers(0, 3, (steps, n))
    venv.reset()
    t0 = time.perf_counter()
    for act in actions:
        venv.step(act)
    env = steps * n / (time.perf_counter() - t0)

    print(f"python {platform.python_version()}, torch {torch.__version__}, cpu, 1 thread")
    print(
        f"RecurrentPPO MlpLstm (LSTM {hp.lstm_hidden_size}, n_steps {hp.n_steps}, batch "
        f"{hp.batch_size}, epochs {hp.n_epochs}) on {a.portfolios} portfolios x {a.symbols} "
        f"symbols = {n} slots"
    )
    print(
        f"  learn:      {rl:>10,.0f} agent-steps/s ({model.num_timesteps} steps, {train_s:.1f} s)"
    )
    print(f"  env alone:  {env:>10,.0f} agent-steps/s (random actions, same size)")
    print(f"  learn/env:  {rl / env:>10.4f}")


if __name__ == "__main__":
    main()
