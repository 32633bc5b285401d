"""Latency of one RL ensemble cycle: N policies x B symbols, one step, with onnxruntime.

Two figures, each as p50/p90 over ``--runs`` cycles after a warm-up:

* inference: every policy's session run once on the batch, then the mean probabilities;
* signal cycle: what ``rl_ensemble`` does per cycle: observation batch from the
  precomputed features, LSTM states loaded from and saved to the in-memory store,
  inference and the combination.

Session creation (once per process) is reported apart. Without ``--pack`` the bench
builds a pack of 5 LSTM policies (hidden 32, observation spec 2) with the test builder, which
needs the ``onnx`` package.

    python bench/bench_inference.py [--pack PATH] [--symbols 32] [--runs 1000]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _percentiles(fn: Callable[[], object], runs: int, warmup: int) -> tuple[float, float, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    q = statistics.quantiles(times, n=10)
    return statistics.median(times) * 1e3, q[8] * 1e3, max(times) * 1e3


def _default_pack(tmp: Path, policies: int, hidden: int) -> Path:
    sys.path.insert(0, str(ROOT))  # the builder lives with the tests
    from tests.runtime.policy.builder import build_pack

    return build_pack(tmp / "bench", name="bench", policies=policies, hidden=hidden)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", help="pack directory or zip (default: build 5 x LSTM(32))")
    parser.add_argument("--policies", type=int, default=5, help="policies of the built pack")
    parser.add_argument("--hidden", type=int, default=32, help="hidden size of the built pack")
    parser.add_argument("--symbols", type=int, default=32, help="batch size B")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()

    import onnxruntime as ort

    from invest.runtime.data.frame import BarFrame
    from invest.runtime.domain import AccountState
    from invest.runtime.market import Market
    from invest.runtime.policy import (
        MemoryStateStore,
        OnnxEnsemble,
        PolicySignal,
        combine,
        load_pack,
        zero_state,
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = (
            Path(args.pack) if args.pack else _default_pack(Path(tmp), args.policies, args.hidden)
        )
        pack = load_pack(path)
    ens = OnnxEnsemble(pack)
    t0 = time.perf_counter()
    ens.load()
    load_ms = (time.perf_counter() - t0) * 1e3

    n = args.symbols
    rng = np.random.default_rng(0)
    obs = rng.normal(0, 1, (n, pack.obs_dim)).astype(np.float32)
    h, c = zero_state(ens, n)
    start = np.zeros(n, np.float32)

    def inference() -> None:
        combine(ens.step(obs, h, c, start).logits)

    days = 400
    closes = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, (days, n)), axis=0))
    symbols = tuple(f"S{i:02d}" for i in range(n))
    dates = np.busday_offset(np.datetime64("2022-01-03"), np.arange(days), roll="forward")
    index = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, days)))
    market = Market(
        BarFrame(
            dates=dates,
            symbols=(*symbols, "IDX"),
            close=np.column_stack([closes, index]),
            source="bench",
        )
    )
    signal = PolicySignal(ens, symbols, MemoryStateStore(), "IDX")
    t0 = time.perf_counter()
    signal.prepare(market)
    features_ms = (time.perf_counter() - t0) * 1e3
    state = AccountState("bench", Decimal(10_000))
    day = iter(range(10**9))

    def cycle() -> None:
        signal.decide(300 + next(day) % 99, state)  # a new session (mostly): load, step, save

    inf = _percentiles(inference, args.runs, args.warmup)
    cyc = _percentiles(cycle, args.runs, args.warmup)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python "
        f"{platform.python_version()} onnxruntime {ort.__version__}"
    )
    print(
        f"pack {pack.name}: {pack.n_policies} policies, LSTM {pack.layers}x{pack.hidden}, "
        f"obs_dim {pack.obs_dim}; batch {n} symbols; 1 thread per session"
    )
    print(f"session creation (once per process): {load_ms:.1f} ms")
    print(f"features for {days} sessions x {n} symbols (once per Market): {features_ms:.1f} ms")
    print(f"inference + mean:  p50 {inf[0]:.3f} ms  p90 {inf[1]:.3f} ms  max {inf[2]:.3f} ms")
    print(f"full signal cycle: p50 {cyc[0]:.3f} ms  p90 {cyc[1]:.3f} ms  max {cyc[2]:.3f} ms")
    print(f"({args.runs} runs after {args.warmup} warm-up runs)")


if __name__ == "__main__":
    main()
