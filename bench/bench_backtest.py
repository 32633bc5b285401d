"""Wall time of the full 1990-2022 trend_king backtest on the 20-stock sample, against the floor.

Same code path as ``invest backtest --strategy trend_king``: load the bundled
data, build the Market, replay every session through the live cycle (strategy,
risk engine, paper broker, explanation records), compute metrics. Imports are
excluded; the first data load (CSV parse) is reported separately because a
process pays it once.

In the same process and run it times the numpy reference loop (``_reference.py``:
monthly top-5 momentum over the same 20 stocks and the same sessions) and prints
the ratio. Then it times ``invest backtest`` end to end in a subprocess (imports,
data, replay, the four output files) and the share of that which is imports
(``-X importtime``, which itself inflates import time somewhat).

    python bench/bench_backtest.py [--repeat 5] [--cli-repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _reference import time_reference

CLI_ARGS = (
    "backtest", "--strategy", "trend_king", "--start", "1990-01-02", "--end", "2022-12-30", "--no-html"
)  # fmt: skip  # the four files; report.html is timed by bench_report.py


def _invest() -> list[str]:
    return [
        sys.executable,
        "-c",
        "import sys; from invest.runtime.cli import main; sys.exit(main())",
    ]


def cli_seconds(repeat: int) -> list[float]:
    """Wall times of ``invest backtest ... --out DIR`` in a fresh process each."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            t0 = time.perf_counter()
            subprocess.run(
                [*_invest(), *CLI_ARGS, "--out", str(Path(tmp) / str(i))],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            times.append(time.perf_counter() - t0)
    return times


def import_seconds() -> tuple[float, float]:
    """(imports, wall) of one ``invest backtest`` run under ``-X importtime``."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *_invest()[1:], *CLI_ARGS, "--out", tmp],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wall = time.perf_counter() - t0
    # Top-level lines (the module name not indented) carry the cumulative time of
    # everything they imported; their sum is the process's import time.
    top = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\S.*)$")
    total = sum(int(m.group(1)) for line in done.stderr.splitlines() if (m := top.match(line)))
    return total / 1e6, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cli-repeat", type=int, default=3, help="0 skips the CLI timings")
    args = parser.parse_args()

    from invest.runtime.backtest.runner import replay
    from invest.runtime.config import Settings, parse_config
    from invest.runtime.cycle import AccountRuntime
    from invest.runtime.data.sample import SampleData
    from invest.runtime.market import load_market

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
    cols = [market.col[s] for s in universe]
    lo = market.frame.row_from(None)
    ref = time_reference(market.close[:, cols], market.dates, lo, args.repeat)
    one, five, _ = os.getloadavg()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {one:.2f} / {five:.2f}"
    )
    print(f"sample CSV parse (once per process): {first_load:.3f} s")
    print(f"full backtest 1990-2022, {sessions} sessions, 20 stocks, {fills} fills")
    print(
        f"wall time: min {min(times):.3f} s, median {statistics.median(times):.3f} s "
        f"over {args.repeat} runs"
    )
    print(
        f"numpy reference loop (monthly top-5 momentum, same stocks and sessions): "
        f"min {ref:.4f} s; backtest / reference = {min(times) / ref:.1f}x (goal <= 8x)"
    )
    if args.cli_repeat <= 0:
        return
    cli = cli_seconds(args.cli_repeat)
    imports, wall = import_seconds()
    print(
        f"`invest {' '.join(CLI_ARGS)} --out DIR` end to end: min {min(cli):.2f} s, median "
        f"{statistics.median(cli):.2f} s wall over {args.cli_repeat} runs (goal <= 1.0 s)"
    )
    print(
        f"  imports under -X importtime: {imports:.2f} s of a {wall:.2f} s run "
        f"({imports / wall:.0%}; importtime inflates them)"
    )


if __name__ == "__main__":
    main()
