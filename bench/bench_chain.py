"""Wall time of building modelled option chains, against a per-strike Python loop.

Builds the modelled chain (default parameters, with the bundled VIX) of SP500 and
five stocks on every session of ``--start``..``--end`` (2005-2022 by default), two
ways: ``chain(symbol, day)`` once per session, as a cycle asks for it, and
``chains(symbol, days)`` one calendar year at a time (the same chains, priced in one
numpy call per right). The reference, timed in the same run, builds the same
chains with the pricing written the plainest way: one Python ``math``
Black-Scholes call (price and greeks) per strike and right, on the source's own
layout (ATM IV, expiries, strikes, IVs) and quote objects, for the sessions of one
year (``--ref-year``); the ratio is per chain, the three timed interleaved and the
best of ``--repeat`` kept.

    python bench/bench_chain.py [--start 2005-01-03] [--end 2022-12-30] [--ref-year 2016] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from datetime import date

from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData, vix
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.contracts import Right
from invest.runtime.options.modelled import ModelledChainSource

SYMBOLS = ("SP500", "AAPL", "MSFT", "JPM", "XOM", "KO")


def _n(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _bsm(
    call: bool, s: float, k: float, t: float, v: float, r: float
) -> tuple[float, float, float, float, float]:
    """Price, delta, gamma, theta (per year), vega with ``math`` (no dividend, as the sample)."""
    sq = v * math.sqrt(t)
    d1 = (math.log(s / k) + (r + v * v / 2) * t) / sq
    d2 = d1 - sq
    pdf = math.exp(-d1 * d1 / 2) / math.sqrt(2 * math.pi)
    disc = k * math.exp(-r * t)
    gamma = pdf / (s * sq)
    vega = s * pdf * math.sqrt(t)
    decay = -s * pdf * v / (2 * math.sqrt(t))
    if call:
        return s * _n(d1) - disc * _n(d2), _n(d1), gamma, decay - r * disc * _n(d2), vega
    return disc * _n(-d2) - s * _n(-d1), _n(d1) - 1, gamma, decay + r * disc * _n(-d2), vega


def _reference_chain(src: ModelledChainSource, sym: str, day: date) -> OptionChain:
    """The same chain with its pricing written as a per-strike loop: the reference.

    The layout (ATM IV, expiries, strikes, IVs), the contracts and the chain are the
    source's own; only the pricing and quoting go one strike at a time with ``math``.
    """
    cfg = src.config
    lay = src._layout(sym, day)  # the bench swaps only the pricing
    quotes = []
    for right in (Right.CALL, Right.PUT):
        call = right is Right.CALL
        contracts = src._contracts_for(sym, right, lay.expiries, lay.strikes)
        for contract, k, t, iv in zip(
            contracts, lay.strikes.tolist(), lay.t.tolist(), lay.iv.tolist(), strict=True
        ):
            mid, delta, gamma, theta, vega = _bsm(call, lay.spot, k, t, iv, cfg.rate)
            half = max(cfg.spread_fraction * mid, cfg.min_spread) / 2
            bid = max(math.floor((mid - half) / cfg.tick) * cfg.tick, 0.0)
            ask = math.ceil((mid + half) / cfg.tick) * cfg.tick
            quotes.append(
                OptionQuote(contract, bid, ask, None, iv, delta, gamma, theta / 365, vega / 100)
            )
    return src._assemble(sym, lay, tuple(quotes))


def _full_run(
    bars: BarFrame, days: list[date]
) -> tuple[ModelledChainSource, float, float, int, int]:
    """Every chain of every session, by chain() per session and by chains() per year."""
    src = ModelledChainSource(bars, vix=vix())
    src.chain("SP500", days[0])  # the calendar, imports and caches, outside the timing
    chains = quotes = 0
    t0 = time.perf_counter()
    for day in days:
        for sym in SYMBOLS:
            chain = src.chain(sym, day)
            chains += 1
            quotes += len(chain)
    one_by_one = time.perf_counter() - t0
    batched = ModelledChainSource(bars, vix=vix())
    batched.chain("SP500", days[0])
    t0 = time.perf_counter()
    for year in sorted({d.year for d in days}):
        in_year = [d for d in days if d.year == year]
        for sym in SYMBOLS:
            batched.chains(sym, in_year)
    together = time.perf_counter() - t0
    return src, one_by_one, together, chains, quotes


def _compare(src: ModelledChainSource, ref_days: list[date], repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` seconds of the reference, chain() and chains(), interleaved."""

    def reference() -> None:
        for day in ref_days:
            for sym in SYMBOLS:
                _reference_chain(src, sym, day)

    def one_by_one() -> None:
        for day in ref_days:
            for sym in SYMBOLS:
                src.chain(sym, day)

    def together() -> None:
        for sym in SYMBOLS:
            src.chains(sym, ref_days)

    best = {"loop": math.inf, "chain": math.inf, "chains": math.inf}
    for _ in range(repeat):  # interleaved: the machine may be shared
        for name, fn in (("loop", reference), ("chain", one_by_one), ("chains", together)):
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", type=date.fromisoformat, default=date(2005, 1, 3))
    ap.add_argument("--end", type=date.fromisoformat, default=date(2022, 12, 30))
    ap.add_argument("--ref-year", type=int, default=2016)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    bars = SampleData().load(list(SYMBOLS))
    days = [bars.day(i) for i in range(bars.row_from(args.start), bars.row_for(args.end) + 1)]
    src, total, total_batched, chains, quotes = _full_run(bars, days)
    ref_days = [d for d in days if d.year == args.ref_year]
    best = _compare(src, ref_days, args.repeat)

    per = 1e3 / chains
    print(f"python {platform.python_version()} on {platform.machine()}")
    print(
        f"modelled chains {args.start}..{args.end}: {len(days)} sessions x {len(SYMBOLS)} "
        f"underlyings = {chains} chains, {quotes} quotes"
    )
    print(f"  chain() per session: {total:.2f} s ({total * per:.2f} ms per chain)")
    print(f"  chains() per year:   {total_batched:.2f} s ({total_batched * per:.2f} ms per chain)")
    ref = 1e3 / (len(ref_days) * len(SYMBOLS))
    loop = best["loop"]
    print(
        f"{args.ref_year}, best of {args.repeat}: per-strike math loop {loop * ref:.2f} ms per chain; "
        f"chain() {best['chain'] * ref:.2f} ms (ratio {best['chain'] / loop:.2f}); "
        f"chains() {best['chains'] * ref:.2f} ms (ratio {best['chains'] / loop:.2f})"
    )


if __name__ == "__main__":
    main()
