"""The floor the backtester is measured against: a plain numpy loop of the same kind of strategy.

Monthly top-5 momentum: on the first session of each month, rank the symbols by
their 6-month (126-session) return and hold the best five at equal weights, with
5 bps slippage on every trade; every other session only marks the book. One
Python iteration per session, numpy inside it: what a hand-written research
loop costs, without a risk engine, a broker, an outbox or explanation records.
It is a yardstick, not a model of trend_king: it does not reproduce its trades.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def ffill(a: FloatArray) -> FloatArray:
    """The last finite value at or before each row, per column (NaN before the first)."""
    idx = np.where(np.isfinite(a), np.arange(len(a))[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out: FloatArray = a[idx, np.arange(a.shape[1])]
    return out


def momentum_loop(
    close: FloatArray,
    months: npt.NDArray[np.int64],
    lo: int,
    *,
    top: int = 5,
    lookback: int = 126,
    cash: float = 10_000.0,
    slippage: float = 0.0005,
) -> FloatArray:
    """Daily equity of the monthly top-``top`` momentum book from row ``lo`` on."""
    mark = ffill(close)
    prices = np.nan_to_num(mark)  # a symbol before its first bar is worth nothing
    n, k = close.shape
    shares = np.zeros(k)
    equity = np.empty(n - lo)
    month = -1
    for i, t in enumerate(range(lo, n)):
        px = prices[t]
        value = cash + float(shares @ px)
        if months[t] != month and t >= lookback:
            month = int(months[t])
            with np.errstate(divide="ignore", invalid="ignore"):
                mom = close[t] / mark[t - lookback] - 1
            mom = np.where(np.isfinite(mom), mom, -np.inf)
            picks = np.argsort(-mom, kind="stable")[:top]
            picks = picks[np.isfinite(mom[picks])]
            target = np.zeros(k)
            if len(picks):
                target[picks] = value / len(picks) / px[picks] * (1 - slippage)
            cost = float(np.abs(target - shares) @ px) * slippage
            cash = value - float(target @ px) - cost
            shares = target
            value = cash + float(shares @ px)
        equity[i] = value
    return equity


def months_of(dates: npt.NDArray[np.datetime64]) -> npt.NDArray[np.int64]:
    """Month number (year * 12 + month) of each session date."""
    out: npt.NDArray[np.int64] = dates.astype("datetime64[M]").astype(np.int64)
    return out


def time_reference(
    close: FloatArray, dates: npt.NDArray[np.datetime64], lo: int, repeat: int = 5
) -> float:
    """Best wall time of :func:`momentum_loop` over ``repeat`` runs, in seconds."""
    months = months_of(dates)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        momentum_loop(close, months, lo)
        best = min(best, time.perf_counter() - t0)
    return best
