"""Portfolio env throughput: agent-steps per second (one agent-step = one symbol slot).

The target is at least 100k agent-steps/s on one CPU thread; it is measured here, not
asserted in tests (timings on shared CI cores are noise). Needs the ``train`` extra.

    python bench/bench_env.py [--portfolios 64] [--symbols 10] [--steps 2000]

It times ``PortfolioVecEnv.step`` (observation, reward, resets, SB3 infos) with random
actions over the 20-stock sample, and in the same run a reference: a plain numpy loop
of the same size (gather the slots' features, a few elementwise operations of the
reward's shape, write a float32 observation batch), the least a vectorised step can
cost. The ratio says how close the env is to that floor.
"""

from __future__ import annotations

import argparse
import platform
import time


def _setup(portfolios: int, symbols: int, episode_days: int) -> tuple[object, object]:
    from invest.trainer.dataset import load_market_arrays
    from invest.trainer.env import PortfolioSim, PortfolioVecEnv, SimSettings, fit_normaliser

    data = load_market_arrays(None)
    rows = data.rows(None, None)
    settings = SimSettings(n_portfolios=portfolios, symbols=symbols, episode_days=episode_days)
    sim = PortfolioSim(data, rows, fit_normaliser(data, rows), settings, seed=0)
    return data, PortfolioVecEnv(sim)


def bench_env(venv: object, steps: int) -> float:
    """Agent-steps/s of ``venv`` under random actions (resets included)."""
    import numpy as np

    n = venv.num_envs  # type: ignore[attr-defined]
    actions = np.random.default_rng(0).integers(0, 3, (steps, n))
    venv.reset()  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    for a in actions:
        venv.step(a)  # type: ignore[attr-defined]
    return steps * n / (time.perf_counter() - t0)


def bench_reference(data: object, portfolios: int, symbols: int, steps: int) -> float:
    """Agent-steps/s of a plain numpy loop that touches what one step must touch."""
    import numpy as np

    from invest.runtime.policy.contract import OBS_DIM

    feats = data.features_raw  # type: ignore[attr-defined]
    close = data.close  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    t_max, n_sym, f = feats.shape
    t = rng.integers(300, t_max - steps - 3, portfolios)
    sym = rng.integers(0, n_sym, (portfolios, symbols))
    w = np.full((portfolios, symbols), 1.0 / symbols)
    levels = np.array([0.0, 1.0, 2.0])
    actions = rng.integers(0, 3, (steps, portfolios, symbols))
    out = np.empty((portfolios * symbols, OBS_DIM), np.float32)
    t0 = time.perf_counter()
    for a in actions:
        target = levels[a] / symbols
        r = close[(t + 2)[:, None], sym] / close[(t + 1)[:, None], sym] - 1.0
        reward = (target - 1.0 / symbols) * r - 5e-4 * np.abs(target - w)
        w = target
        t = t + 1
        x = feats[t[:, None], sym]
        out[:, :f] = x.reshape(-1, f)
        out[:, f:] = reward.reshape(-1, 1)
    return steps * portfolios * symbols / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--portfolios", type=int, default=64)
    p.add_argument("--symbols", type=int, default=10)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--episode-days", type=int, default=252)
    a = p.parse_args()
    data, venv = _setup(a.portfolios, a.symbols, a.episode_days)
    bench_env(venv, 50)  # warm-up
    env = bench_env(venv, a.steps)
    ref = bench_reference(data, a.portfolios, a.symbols, a.steps)
    slots = a.portfolios * a.symbols
    print(f"python {platform.python_version()} on {platform.machine()}, one thread")
    print(f"PortfolioVecEnv ({a.portfolios} portfolios x {a.symbols} symbols = {slots} slots)")
    print(f"  env:        {env:>12,.0f} agent-steps/s  ({env / slots:,.0f} vec steps/s)")
    print(f"  reference:  {ref:>12,.0f} agent-steps/s  (plain numpy loop, same size)")
    print(f"  env / ref:  {env / ref:>12.2f}")
    print(f"  target 100k agent-steps/s: {'met' if env >= 100_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
