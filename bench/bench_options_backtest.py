"""Wall time of the 2005-2022 options backtests (wheel-weekly, spreads-weekly) on the sample.

Same code path as ``invest backtest --config runtime/examples/config.toml --account
NAME``: load the bundled data, model the chains point-in-time, run every session
through the options cycle (paper option fills, book, settlement, monitors, the
strategy, the risk rules, explanation records), compute the metrics and counts.
Imports and the first data load are excluded (a process pays them once).

The reference, timed in the same run over the same sessions, is the trend_king stock
backtest of the same underlyings (the stock cycle, its risk engine and paper broker):
the ratio says what an options session costs against a stock session. The three are
timed interleaved and the best of ``--repeat`` kept.

    python bench/bench_options_backtest.py [--start 2005-01-03] [--end 2022-12-30] [--repeat 2]
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import date
from pathlib import Path

import invest.runtime
from invest.runtime.backtest.options_runner import modelled_account, options_market, replay_options
from invest.runtime.backtest.runner import replay
from invest.runtime.config import load_config, parse_config
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.sample import SampleData
from invest.runtime.market import Market

EXAMPLE = Path(invest.runtime.__file__).parent / "examples" / "config.toml"
ACCOUNTS = ("wheel-weekly", "spreads-weekly")


def time_options(name: str, start: date, end: date) -> tuple[float, int, dict[str, object]]:
    """(seconds, sessions, counts) of one options backtest; the data load not timed."""
    settings = load_config(EXAMPLE)
    market = options_market(SampleData(), settings, name, end)
    acct = modelled_account(name, settings, market)
    t0 = time.perf_counter()
    r = replay_options(acct, market, start)
    return time.perf_counter() - t0, len(r.days), r.counts or {}


def time_reference(universe: list[str], start: date, end: date) -> tuple[float, int]:
    """(seconds, sessions) of the trend_king stock backtest of ``universe``, weekly."""
    settings = parse_config(
        {"accounts": {"tk": {"universe": universe, "schedule": "30 16 * * mon", "cash": 50_000}}}
    )
    acct = AccountRuntime.build("tk", settings, paper=True)
    market = Market(SampleData().load(acct.symbols(), None, end))
    t0 = time.perf_counter()
    r = replay(acct, market, start)
    return time.perf_counter() - t0, len(r.days)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", default="2005-01-03")
    ap.add_argument("--end", default="2022-12-30")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    print(f"python {platform.python_version()} on {platform.machine()}, {start} .. {end}")
    best: dict[str, float] = {}
    info: dict[str, tuple[int, dict[str, object]]] = {}
    ref_best = float("inf")
    ref_sessions = 0
    for _ in range(args.repeat):
        for name in ACCOUNTS:
            s, n, counts = time_options(name, start, end)
            best[name] = min(best.get(name, float("inf")), s)
            info[name] = (n, counts)
        s, ref_sessions = time_reference(["KO", "PG", "PFE"], start, end)
        ref_best = min(ref_best, s)
    print(
        f"  reference: trend_king stock backtest of KO, PG, PFE (weekly): {ref_best:.2f} s, "
        f"{ref_sessions} sessions ({ref_best / ref_sessions * 1e3:.2f} ms per session)"
    )
    for name in ACCOUNTS:
        n, counts = info[name]
        print(
            f"  {name}: {best[name]:.2f} s, {n} sessions ({best[name] / n * 1e3:.2f} ms per "
            f"session), {best[name] / ref_best:.1f}x the reference"
        )
        print(f"    counts: {counts}")


if __name__ == "__main__":
    main()
