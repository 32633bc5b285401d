"""trend_king with the HMM regime against the SMA200 regime, out of sample, on the sample data.

The README's walk-forward protocol: each test year Y (2005-2022) is replayed through
the runtime's own cycle (risk engine, paper broker, default costs) from fresh cash on
its first session, with all earlier history as warm-up; the HMM rows of Y are filtered
with the bundled entry fitted on data through Y-1 only. Prints, as Markdown, the total
return per year and the chained figures (daily returns of the yearly restarts chained:
CAGR, Sharpe, max drawdown) overall and for the README's validation and test splits.

    .venv/bin/python scripts/hmm_vs_sma.py [--years 2005-2022] [--params FILE]
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from typing import Any

import numpy as np

from invest.runtime.backtest.metrics import curve_metrics
from invest.runtime.backtest.runner import replay
from invest.runtime.backtest.walkforward import YearReplay
from invest.runtime.config import parse_config
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.sample import SampleData
from invest.runtime.market import Market
from invest.runtime.regime_hmm import hmm_regime

SERIES = ("sma", "hmm", "index")
SPLITS = (("all", 0, 9999), ("validation", 0, 2014), ("test", 2015, 9999))


def _account(model: str, universe: list[str], params: str | None) -> AccountRuntime:
    tk: dict[str, Any] = {"regime_model": model}
    if model == "hmm" and params:
        tk["hmm_params"] = params
    settings = parse_config(
        {
            "accounts": {
                "wf": {
                    "universe": universe,
                    "benchmark": "SP500",
                    "schedule": "30 16 * * mon-fri",
                    "trend_king": tk,
                }
            }
        }
    )
    return AccountRuntime.build("wf", settings, paper=True)


def replay_year(
    year: int, source: SampleData, params: str | None
) -> tuple[YearReplay, dict[str, int]]:
    """Year ``year`` with each regime from fresh cash; also each regime's flips that year."""
    universe = [s for s in source.symbols() if s != "SP500"]
    accounts = {model: _account(model, universe, params) for model in ("sma", "hmm")}
    # One Market for both: the same bars, and its memoised momentum and volatility.
    market = Market(source.load(accounts["sma"].symbols(), None, date(year, 12, 31)))
    start = date(year, 1, 1)
    lo = market.frame.row_from(start)
    codes = {
        "sma": market.regime("SP500", 200, 0.02)[0],
        "hmm": hmm_regime(market, "SP500", params)[0],
    }
    equity, flips, days = {}, {}, ()
    for model, acct in accounts.items():
        r = replay(acct, market, start, explain=False)
        equity[model], equity["index"], days = r.equity, r.benchmark, tuple(r.days)
        flips[model] = int(np.abs(np.diff(codes[model][lo:].astype(int))).sum())
    return YearReplay(year, days, equity), flips


def chained(reps: list[YearReplay], name: str) -> tuple[float, float, float]:
    """CAGR, Sharpe and max drawdown of ``name``'s daily returns chained over ``reps``."""
    rets = np.concatenate([r.returns(name) for r in reps])  # type: ignore[misc]
    m = curve_metrics(np.concatenate([[1.0], np.cumprod(1.0 + rets)]))
    return m.cagr, m.sharpe, m.max_drawdown


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", default="2005-2022", help="FIRST-LAST test years")
    ap.add_argument("--params", help="HMM parameters file (default: the bundled one)")
    args = ap.parse_args()
    first, _, last = args.years.partition("-")
    source = SampleData()
    t0 = time.perf_counter()
    reps, flips = [], {}
    for y in range(int(first), int(last or first) + 1):
        rep, f = replay_year(y, source, args.params)
        reps.append(rep)
        flips[y] = f
    print("| Year | trend_king SMA200 | trend_king HMM | Index B&H | regime flips SMA / HMM |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in reps:
        cells = " | ".join(f"{r.total_return(s):+.1%}" for s in SERIES)
        print(f"| {r.year} | {cells} | {flips[r.year]['sma']} / {flips[r.year]['hmm']} |")
    print()
    print("| Years | Regime | CAGR | Sharpe | Max drawdown |")
    print("| --- | --- | ---: | ---: | ---: |")
    for split, lo, hi in SPLITS:
        part = [r for r in reps if lo <= r.year <= hi]
        if not part:
            continue
        span = f"{split} {part[0].year}-{part[-1].year}"
        for name, label in (("sma", "SMA200"), ("hmm", "HMM"), ("index", "index B&H")):
            cagr, sharpe, mdd = chained(part, name)
            print(f"| {span} | {label} | {cagr:+.1%} | {sharpe:.2f} | {mdd:.1%} |")
    print(f"\n{len(reps)} years x 2 replays in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
