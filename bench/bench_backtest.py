"""Wall time of the full 1990-2022 trend_king backtest on the 20-stock sample.

Same code path as ``invest backtest --strategy trend_king``: load the bundled
data, build the Market, replay every session through the live cycle (strategy,
risk engine, paper broker), compute metrics. Imports are excluded; the first
data load (CSV parse) is reported separately because a process pays it once.

    python bench/bench_backtest.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from invest.runtime.backtest.runner import load_market, replay
    from invest.runtime.config import Settings, parse_config
    from invest.runtime.cycle import AccountRuntime
    from invest.runtime.data.sample import SampleData

    source = SampleData()
    t0 = time.perf_counter()
    universe = [s for s in source.symbols() if s != "SP500"]
    first_load = time.perf_counter() - t0
    settings: Settings = parse_config(
        {"accounts": {"trend-king": {"strategy": "trend_king", "universe": universe}}}
    )

    times, sessions, fills = [], 0, 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        acct = AccountRuntime.build("trend-king", settings)
        market = load_market(source, acct, None)
        result = replay(acct, market, None)
        times.append(time.perf_counter() - t0)
        sessions, fills = len(result.days), len(result.fills)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}"
    )
    print(f"sample CSV parse (once per process): {first_load:.3f} s")
    print(f"full backtest 1990-2022, {sessions} sessions, 20 stocks, {fills} fills")
    print(
        f"wall time: min {min(times):.3f} s, median {statistics.median(times):.3f} s over {args.repeat} runs"
    )


if __name__ == "__main__":
    main()
