"""Time of BSM pricing a whole option chain and of implied vols, against plain-Python floors.

1. A 10,000-contract chain (half calls, half puts; strikes 50-150 around a spot of
   100; 1-365 days; vols 10-80%; one rate and dividend yield): price and the five
   greeks by :func:`invest.runtime.options.pricing.greeks`, vectorised, against
   the same formulas in a plain-Python loop over ``math.erfc`` timed in the same
   run (the results are compared too).
2. 1,000 implied vols by :func:`implied_vol` (one call each) against a plain
   bisection on the price to the same precision, in the same run; with scipy
   installed, ``scipy.optimize.brentq`` on the same price function is timed too.

Each figure is the median of ``--repeat`` runs.

    python bench/bench_options.py [--repeat 5] [--contracts 10000] [--vols 1000]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from invest.runtime.options.pricing import Greeks, greeks, implied_vol

RATE, DIV, SPOT = 0.04, 0.01, 100.0
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _chain(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    strikes = np.round(rng.uniform(50.0, 150.0, n), 1)
    t = rng.integers(1, 366, n) / 365.0
    vols = rng.uniform(0.10, 0.80, n)
    return strikes, t, vols


def _loop_greeks(call: bool, k: float, t: float, v: float) -> tuple[float, ...]:
    """The reference: one contract's price and greeks in plain floats."""
    sd = v * math.sqrt(t)
    d1 = (math.log(SPOT / k) + (RATE - DIV) * t + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    dq, dr = math.exp(-DIV * t), math.exp(-RATE * t)
    sign = 1.0 if call else -1.0
    n1 = 0.5 * math.erfc(-sign * d1 / _SQRT2)
    n2 = 0.5 * math.erfc(-sign * d2 / _SQRT2)
    pdf = _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1)
    value = sign * (SPOT * dq * n1 - k * dr * n2)
    delta = sign * dq * n1
    gamma = dq * pdf / (SPOT * sd)
    vega = SPOT * dq * pdf * math.sqrt(t)
    theta = (
        -SPOT * dq * pdf * v / (2 * math.sqrt(t))
        - sign * RATE * k * dr * n2
        + sign * DIV * SPOT * dq * n1
    )
    rho = sign * k * t * dr * n2
    return value, delta, gamma, vega, theta, rho


def _loop_price(call: bool, k: float, t: float, v: float) -> float:
    return _loop_greeks(call, k, t, v)[0]


def _bisect(call: bool, target: float, k: float, t: float) -> float:
    """The reference solver: bisection on [1e-6, 10] to 1e-12 of vol."""
    lo, hi = 1e-6, 10.0
    while hi - lo > 1e-12:
        mid = 0.5 * (lo + hi)
        if _loop_price(call, k, t, mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--contracts", type=int, default=10_000)
    ap.add_argument("--vols", type=int, default=1_000)
    args = ap.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")

    strikes, t, vols = _chain(args.contracts)
    half = args.contracts // 2
    sides = ((True, slice(0, half)), (False, slice(half, None)))

    def vectorised() -> list[Greeks]:
        return [
            greeks("call" if call else "put", SPOT, strikes[s], t[s], vols[s], RATE, DIV)
            for call, s in sides
        ]

    def loop() -> list[tuple[float, ...]]:
        return [
            _loop_greeks(call, float(k), float(tt), float(v))
            for call, s in sides
            for k, tt, v in zip(strikes[s], t[s], vols[s], strict=True)
        ]

    fast, slow = vectorised(), loop()
    ours = np.concatenate([np.asarray(g.price) for g in fast])
    gap = float(np.max(np.abs(ours - np.array([row[0] for row in slow]))))
    chain_s = _median(vectorised, args.repeat)
    loop_s = _median(loop, args.repeat)
    print(
        f"chain of {args.contracts:,} contracts, price + 5 greeks: {chain_s * 1e3:.2f} ms vectorised, "
        f"{loop_s * 1e3:.2f} ms plain-Python loop over math.erfc: {loop_s / chain_s:.1f}x faster "
        f"({chain_s / args.contracts * 1e6:.2f} us per contract; largest price gap {gap:.1e})"
    )

    # Every n-th contract, skipping deep in-the-money ones whose time value is below the
    # price's float precision (implied_vol refuses those: no volatility is readable).
    step = max(args.contracts // (2 * args.vols), 1)
    picks: list[tuple[bool, float, float, float]] = []
    for i in range(0, args.contracts, step):
        call, k, tt = i < half, float(strikes[i]), float(t[i])
        floor = max(
            (SPOT * math.exp(-DIV * tt) - k * math.exp(-RATE * tt)) * (1 if call else -1), 0.0
        )
        if _loop_price(call, k, tt, float(vols[i])) - floor > 1e-9 * SPOT:
            picks.append((call, k, tt, float(vols[i])))
    picks = picks[: args.vols]
    n = len(picks)
    targets = [_loop_price(call, k, tt, v) for call, k, tt, v in picks]

    def ours_iv() -> list[float]:
        return [
            implied_vol("call" if call else "put", p, SPOT, k, tt, RATE, DIV)
            for (call, k, tt, _v), p in zip(picks, targets, strict=True)
        ]

    def bisect_iv() -> list[float]:
        return [
            _bisect(call, p, k, tt) for (call, k, tt, _v), p in zip(picks, targets, strict=True)
        ]

    worst = max(abs(a - v) for a, (_c, _k, _t, v) in zip(ours_iv(), picks, strict=True))
    iv_s = _median(ours_iv, args.repeat)
    bisect_s = _median(bisect_iv, args.repeat)
    print(
        f"{n:,} implied vols: {iv_s * 1e3:.1f} ms ({iv_s / n * 1e6:.1f} us each), plain bisection "
        f"{bisect_s * 1e3:.1f} ms: {bisect_s / iv_s:.1f}x faster (largest vol error {worst:.1e})"
    )
    if importlib.util.find_spec("scipy") is not None:
        from scipy.optimize import brentq

        def brent_iv() -> list[float]:
            return [
                float(
                    brentq(
                        lambda s, c=call, k=k, tt=tt, p=p: _loop_price(c, k, tt, s) - p,
                        1e-6,
                        10.0,
                        xtol=1e-12,
                    )
                )
                for (call, k, tt, _v), p in zip(picks, targets, strict=True)
            ]

        brent_s = _median(brent_iv, args.repeat)
        print(
            f"scipy brentq on the same prices: {brent_s * 1e3:.1f} ms ({brent_s / iv_s:.1f}x ours)"
        )
    else:
        print("scipy is not installed: no brentq comparison")


if __name__ == "__main__":
    main()
