"""The construction x sizing table: trend_king on the sample, 2005-01-01 .. 2022-12-28.

    .venv/bin/python scripts/portfolio_table.py [--jobs 2]

Backtests trend_king (the ad-hoc account of ``invest backtest --strategy trend_king``:
the 20 sample stocks, SP500 as the benchmark and the regime index, the balanced risk
profile, 5 bp slippage, fills at the next close, a daily schedule) under each of the 5
constructions and each of the 4 sizings (20 runs), through the live cycle
(``backtest.runner.replay``, the one backtester), and prints a markdown table with
the index and the equal-weight buy-and-hold of the same 20 names.

Protocol, fixed before any of these backtests was run; nothing was tuned on 2005-2022:

* Every parameter is ``PortfolioConfig``'s default, taken from the literature:
  covariance on 126 sessions (the strategy's own 6-month momentum window), Ledoit-Wolf
  shrinkage; mean-variance risk aversion 2.5 (He & Litterman 1999's market-implied
  value); vol target 10% a year (a common target in the volatility-targeting
  literature, e.g. Harvey et al. 2018) on 63 sessions (3 months); half Kelly (MacLean,
  Thorp & Ziemba 2010) with no name above 100%; fixed fraction 10% of equity per name.
* The window starts in 2005 so that every run has its 126-session warm-up inside the
  sample and the table covers 2008, 2020 and 2022; it ends on the sample's last day.
* CAGR, Sharpe (rf = 0) and max drawdown are ``backtest.metrics.curve_metrics`` of the
  daily equity. Turnover is the annual traded notional over the mean equity,
  ``sum(|qty| x price of every fill) / mean(equity) / years``, computed here from the
  fills: it counts both sides, so it is twice ``Metrics.turnover`` (one-way).

A script rather than a bench: it measures strategies, not speed (bench/ holds timings).
It runs the 20 backtests in ``--jobs`` processes (2 by default, the build machine's
cores) and prints its wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from invest.runtime.backtest.metrics import YEAR, Metrics
from invest.runtime.backtest.runner import BacktestResult, replay
from invest.runtime.config import parse_config
from invest.runtime.config.portfolio import CONSTRUCTIONS, SIZINGS
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.sample import SURVIVORSHIP_NOTE, SampleData
from invest.runtime.market import Market, load_market

START, END = date(2005, 1, 1), date(2022, 12, 28)
BENCHMARK = "SP500"

_MARKET: Market | None = None  # one per worker process, shared by its runs


def run(construction: str, sizing: str) -> dict[str, Any]:
    """One backtest; its figures as plain numbers (they cross a process boundary)."""
    global _MARKET
    source = SampleData()
    universe = [s for s in source.symbols() if s != BENCHMARK]
    account = {
        "strategy": "trend_king",
        "universe": universe,
        "benchmark": BENCHMARK,
        "portfolio": {"construction": construction, "sizing": sizing},
    }
    settings = parse_config({"accounts": {"tk": account}}, "portfolio_table")
    acct = AccountRuntime.build("tk", settings, paper=True)
    if _MARKET is None:
        _MARKET = load_market(source, acct, END)
    r = replay(acct, _MARKET, START, settings.engine.timezone, explain=False)
    return {
        "construction": construction,
        "sizing": sizing,
        "metrics": r.metrics,
        "turnover": turnover(r),
        "fills": len(r.fills),
        "index": r.benchmark_metrics,
        "equal_weight": r.equal_weight_metrics,
        "sessions": len(r.days),
        "first": r.days[0],
        "last": r.days[-1],
        "notes": r.notes,
        "seconds": r.seconds,
    }


def turnover(r: BacktestResult) -> float:
    """Annual traded notional (buys and sells) over the mean equity."""
    traded = sum(abs(float(f.quantity)) * float(f.price) for f in r.fills)
    years = len(r.equity) / YEAR
    return traded / float(np.mean(r.equity)) / years


def _row(label: str, m: Metrics, turn: float | None) -> str:
    t = "-" if turn is None else f"{turn:.2f}"
    return f"| {label} | {m.cagr:+.1%} | {m.sharpe:.2f} | {m.max_drawdown:.1%} | {t} |"


def main(argv: list[str] | None = None) -> int:
    """Run the grid and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (2)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")
    grid = [(c, s) for c in CONSTRUCTIONS for s in SIZINGS]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run, *zip(*grid, strict=True)))
    wall = time.perf_counter() - t0
    first = results[0]
    print(
        f"trend_king on the sample, {first['first']} .. {first['last']} "
        f"({first['sessions']:,} sessions), balanced profile, 5 bp slippage, daily schedule."
    )
    print()
    print("| Construction / sizing | CAGR | Sharpe | Max drawdown | Turnover / year |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in results:
        print(_row(f"{r['construction']} / {r['sizing']}", r["metrics"], r["turnover"]))
    print(_row("Index buy-and-hold (SP500)", first["index"], None))
    print(_row("Equal-weight buy-and-hold (20 names)", first["equal_weight"], None))
    print()
    for note in first["notes"]:
        if note == SURVIVORSHIP_NOTE:
            print(f"Note: {note}")
    print(
        f"Measured {datetime.now(UTC).date()} (UTC) on {platform.machine()} with {os.cpu_count()} CPUs "
        f"(Python {platform.python_version()}): {len(grid)} backtests in {wall:.1f} s wall "
        f"with {args.jobs} job(s); the slowest {max(r['seconds'] for r in results):.1f} s, "
        f"fills {min(r['fills'] for r in results):,} .. {max(r['fills'] for r in results):,}."
    )
    _check_benchmarks(results)
    return 0


def _check_benchmarks(results: list[dict[str, Any]]) -> None:
    """Every run saw the same window: its benchmarks are the same curves."""

    def key(r: dict[str, Any]) -> tuple[Any, ...]:  # as_dict: NaN (not applicable) is None
        return r["index"].as_dict(), r["equal_weight"].as_dict(), r["sessions"]

    for r in results[1:]:
        if key(r) != key(results[0]):
            raise SystemExit(f"{r['construction']}/{r['sizing']} replayed another window")


if __name__ == "__main__":
    sys.exit(main())
