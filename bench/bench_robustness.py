"""Wall time of the robustness Monte Carlo: N noisy replays through the real cycle.

Same code path as ``invest robustness --strategy trend_king`` on the bundled
sample: every path builds a fresh account and replays the window through the
live cycle (strategy, risk engine, paper broker) on a noisy copy of the bars,
in a process pool. Prints:

* the measured wall time of ``--paths`` paths (default 1,000) on the default
  window (the last 5 years of the data) or ``--start``/``--end``;
* the warm-up check (see ``robustness.warmed``) and the serial time per path
  (20 paths on one process), for the scaling;
* the full 1990-2022 window: a measured ``--full-paths``-path run (default 20),
  and the figure for ``--paths`` paths EXTRAPOLATED linearly from it;
* the block bootstrap's time for the same number of resamples;
* the load average before and after, because the machine may be shared.

    python bench/bench_robustness.py [--paths 1000] [--workers N] [--start D] [--end D]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import date


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None, help="default: the usable CPUs")
    parser.add_argument("--start", help="window start (default: 5 years before --end)")
    parser.add_argument("--end", help="window end (default: the last session of the data)")
    parser.add_argument("--full-paths", type=int, default=20, help="paths measured on 1990-2022")
    parser.add_argument("--serial-paths", type=int, default=20, help="paths measured on 1 process")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--strategy",
        default="trend_king",
        choices=("trend_king", "hybrid", "rl_ensemble"),
        help="the strategy replayed (hybrid and rl_ensemble use the bundled pack)",
    )
    args = parser.parse_args()

    from invest.runtime.backtest.metrics import daily_returns
    from invest.runtime.backtest.robustness import (
        Job,
        block_bootstrap,
        default_window,
        default_workers,
        monte_carlo,
        run_path_curve,
        warmed,
    )
    from invest.runtime.config import parse_config
    from invest.runtime.data.sample import SampleData

    workers = args.workers or default_workers()
    source = SampleData()
    universe = [s for s in source.symbols() if s != "SP500"]
    settings = parse_config(
        {"accounts": {"trend-king": {"universe": universe, "strategy": args.strategy}}}
    )
    history = source.load((*universe, "SP500"))
    start, end = default_window(
        history,
        date.fromisoformat(args.start) if args.start else None,
        date.fromisoformat(args.end) if args.end else None,
    )
    frame = history.between(None, end)
    job = Job("trend-king", settings, start)
    print(
        f"machine: {platform.machine()} python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {workers} workers; strategy {args.strategy}; {_load()}"
    )

    base = job.replay(frame)
    print(f"window {base.days[0]} .. {base.days[-1]}: {len(base.days)} sessions")
    t0 = time.perf_counter()
    cut, warmup = warmed(job, frame)
    print(
        f"warm-up check (two noise-free replays): {time.perf_counter() - t0:.2f} s; paths warm up "
        f"on {f'{warmup} sessions' if warmup else 'the whole history'} ({len(cut)} rows)"
    )
    t0 = time.perf_counter()
    for p in range(args.serial_paths):
        run_path_curve(job, cut, p, args.seed)  # what each Monte Carlo path runs
    per_path = (time.perf_counter() - t0) / args.serial_paths
    print(f"serial: {per_path:.3f} s per path ({args.serial_paths} paths on 1 process)")

    mc = monte_carlo(job, frame, args.paths, args.seed, workers=workers)
    ideal = per_path * args.paths / workers
    print(
        f"MEASURED Monte Carlo: {mc.paths} paths on {mc.workers} workers in {mc.seconds:.1f} s "
        f"= {mc.paths_per_second:.1f} paths/s (ideal {ideal:.1f} s from the serial time; "
        f"goal 40 s on 2 cores); {_load()}"
    )
    s = mc.summary
    print(
        f"  losing share {s.losing_share:.1%}, total return p5/median/p95 "
        f"{s.total_return.p5:+.1%} / {s.total_return.median:+.1%} / {s.total_return.p95:+.1%}"
    )
    bs = block_bootstrap(daily_returns(base.equity), args.paths, 21, args.seed)
    print(f"block bootstrap: {args.paths} resamples in {bs.seconds:.3f} s")

    full = Job("trend-king", settings, history.day(0))
    fb = full.replay(history)
    few = monte_carlo(full, history, args.full_paths, args.seed, workers=workers)
    print(
        f"full window {fb.days[0]} .. {fb.days[-1]} ({len(fb.days)} sessions): MEASURED "
        f"{few.paths} paths in {few.seconds:.1f} s ({few.paths_per_second:.2f} paths/s)"
    )
    print(
        f"full window, {args.paths} paths: EXTRAPOLATED {few.seconds / few.paths * args.paths:.0f} s "
        f"(linear from the {few.paths}-path run, not measured)"
    )
    fbs = block_bootstrap(daily_returns(fb.equity), args.paths, 21, args.seed)
    print(f"full window block bootstrap: {args.paths} resamples in {fbs.seconds:.3f} s")
    print(_load())


if __name__ == "__main__":
    main()
