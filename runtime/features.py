"""Point-in-time, scale-free features shared by the rules strategy, RL inference and training.

One module, so the features a policy was trained on are the features it sees when it
trades. Everything is plain numpy, vectorised over a ``(T, N)`` array of closes (rows are
sessions, columns symbols, NaN is a missing bar); every public function also accepts a
1-D ``(T,)`` series and then returns one.

Guarantees:

* **Causal.** The value at row ``t`` depends only on rows ``<= t``. Recomputing on the
  first ``k`` rows gives bit-for-bit the first ``k`` rows of the full computation: rolling
  windows are evaluated in fixed blocks anchored at row 0 and recursions run forward,
  so nothing depends on how many rows follow.
* **Warm-up rows are NaN.** A rolling statistic needs a full window; a Wilder average
  needs ``period`` values; MACD needs ``slow`` closes (``slow + signal - 1`` for the
  signal line and histogram).
* **Missing bars.** A rolling window that contains a NaN gives NaN. Point-to-point
  ratios (returns over ``k`` days, momentum) are NaN only when one of their two end
  points is missing. Recursive averages (EMA, Wilder) skip a missing input: their state
  carries over unchanged and the output at that row is NaN.
* **Scale-free.** Returns, ratios and z-scores only; no feature is a raw price, so one
  policy can read any symbol at any price level.
* **Undefined ratios are NaN.** A ratio whose denominator is zero (risk-adjusted
  momentum or the volatility ratio over a window of unchanged closes) is NaN.
* **No warnings.** Non-finite or non-positive prices are treated as missing, and every
  division by a possibly zero denominator is guarded.

Rolling sums, maxima and moments use the van Herk / Gil-Werman block decomposition:
each window is the suffix of one block of ``window`` rows plus the prefix of the next,
so the cost is O(T * N) whatever the window, and nothing accumulates over the whole
history (no cumulative-sum drift). Moments are summed on values shifted by a row that
lies inside the window, so a price series far from zero keeps full precision in its
standard deviation, and a constant window has exactly zero spread. EMA and Wilder
recursions are solved in closed form over blocks of rows (a cumulative sum of
``x / a**k``), not by a Python loop over sessions.

The bundled sample data has closes only. :func:`natr` (and ``natr_14`` in
:func:`compute_features`) is the only feature that can use highs and lows; without
them it degrades to close-to-close true range ``|close[t] - close[t-1]|``. Because that
changes the feature's distribution, :class:`FeatureSet` records whether OHLC was used
and :func:`spec_hash` differs between the two, so a model pack trained on closes only
is never served OHLC features (or the other way round) unnoticed.

Feature spec version ``"1"`` (:data:`FEATURE_NAMES`, per symbol, in this order):

=================== ===========================================================
``ret_1``           log return over 1 session, ``log(c[t] / c[t-1])``
``ret_5``           log return over 5 sessions
``ret_21``          log return over 21 sessions (about a month)
``vol_20``          sample std (ddof=1) of daily log returns over 20 sessions,
                    not annualised
``vol_ratio_20_60`` ``vol_20 / vol_60``: above 1 when volatility is rising
``mom_126``         ``c[t] / c[t-126] - 1`` (six-month simple return)
``ram_126_20``      risk-adjusted momentum, ``mom_126 / (vol_20 * sqrt(126))``
``rsi_14``          Wilder RSI over 14 sessions rescaled to ``[-1, 1]`` as
                    ``(rsi - 50) / 50``
``macd_hist_norm``  MACD(12, 26, 9) histogram divided by the close
``bb_pos_20``       Bollinger %b, 20 sessions, 2 population std (0.5 = at the mean)
``dist_sma_50``     ``c / SMA50 - 1``
``dist_sma_200``    ``c / SMA200 - 1``
``drawdown_252``    ``c / max(c over 252 sessions) - 1``, in ``[-1, 0]``
``natr_14``         Wilder ATR(14) divided by the close (close-to-close without
                    highs and lows)
=================== ===========================================================

A z-score of the close against its 20-session mean is deliberately not a feature:
it is an affine function of ``bb_pos_20`` (``%b = 0.5 + z / (2 * num_std)``) and
would add nothing but a duplicated input. :func:`zscore` is still provided.

:func:`compute_features` clips every feature to ``[-CLIP, CLIP]`` (``CLIP = 10``) so an
RL observation is bounded; NaN stays NaN and callers decide what to do with it (the
first :data:`WARMUP_ROWS` rows of any symbol are always incomplete).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

#: Sessions per year, used only to annualise volatility on request.
TRADING_DAYS = 252

#: Version of the feature spec. Bump it whenever a name, order, parameter or formula changes.
FEATURE_SPEC_VERSION = "1"

#: Per-symbol observation features of :func:`compute_features`, in order.
FEATURE_NAMES: tuple[str, ...] = (
    "ret_1",
    "ret_5",
    "ret_21",
    "vol_20",
    "vol_ratio_20_60",
    "mom_126",
    "ram_126_20",
    "rsi_14",
    "macd_hist_norm",
    "bb_pos_20",
    "dist_sma_50",
    "dist_sma_200",
    "drawdown_252",
    "natr_14",
)

#: :func:`compute_features` clips every feature to ``[-CLIP, CLIP]``.
CLIP = 10.0

# Parameters of spec version 1. compute_features and spec_dict both read these.
RET_PERIODS = (1, 5, 21)
VOL_WINDOW = 20
VOL_LONG_WINDOW = 60
MOM_LOOKBACK = 126
RSI_PERIOD = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
BB_WINDOW, BB_NUM_STD, BB_DDOF = 20, 2.0, 0
SMA_WINDOWS = (50, 200)
DRAWDOWN_WINDOW = 252
NATR_PERIOD = 14

#: Rows at the start of a symbol's history where some feature is still warming up:
#: row ``WARMUP_ROWS`` is the first whose features can all be finite (no gaps assumed).
WARMUP_ROWS = max(
    max(RET_PERIODS),
    VOL_LONG_WINDOW,  # std of returns: returns start at row 1
    MOM_LOOKBACK,
    RSI_PERIOD,
    MACD_SLOW + MACD_SIGNAL - 2,
    BB_WINDOW - 1,
    max(SMA_WINDOWS) - 1,
    DRAWDOWN_WINDOW - 1,
    NATR_PERIOD,
)

# Recursions are evaluated in blocks short enough that a ** -block stays below e ** 200.
_MAX_LOG_GROWTH = 200.0
# Block accumulations loop over the window axis up to this length (see _accumulate).
_LOOP_ACCUMULATE_MAX = 512


# --------------------------------------------------------------------------- helpers


def _as_2d(x: FloatArray) -> tuple[FloatArray, bool]:
    """``x`` as a float64 ``(T, N)`` array, and whether it was 1-D."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        return arr[:, None], True
    if arr.ndim == 2:
        return arr, False
    raise ValueError(f"expected a 1-D (T,) or 2-D (T, N) array, got shape {arr.shape}")


def _restore(x: FloatArray, squeeze: bool) -> FloatArray:
    return x[:, 0] if squeeze else x


def _finite(x: FloatArray) -> FloatArray:
    """``x`` with inf and -inf turned into NaN (missing)."""
    return np.where(np.isfinite(x), x, np.nan)


def _clean_prices(x: FloatArray) -> FloatArray:
    """Prices with non-finite or non-positive values turned into NaN (missing)."""
    return np.where(np.isfinite(x) & (x > 0), x, np.nan)


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")


def _safe_div(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den``, NaN where ``den`` is zero (and where either side is NaN)."""
    out = np.full(np.broadcast_shapes(num.shape, den.shape), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _lag_diff(x: FloatArray, periods: int) -> FloatArray:
    """``x[t] - x[t - periods]``; the first ``periods`` rows are NaN."""
    out = np.full(x.shape, np.nan)
    if periods < len(x):
        out[periods:] = x[periods:] - x[:-periods]
    return out


def _lag(x: FloatArray, periods: int) -> FloatArray:
    """``x[t - periods]``; the first ``periods`` rows are NaN."""
    out = np.full(x.shape, np.nan)
    if periods < len(x):
        out[periods:] = x[:-periods]
    return out


def _blocks(x: FloatArray, window: int) -> FloatArray:
    """``x`` padded with NaN rows to a multiple of ``window`` and cut into blocks.

    Returns shape ``(n_blocks, window, N)``. Blocks start at row 0, so a block holds the
    same rows whatever the total length: this is what keeps rolling values causal.
    """
    t, n = x.shape
    n_blocks = -(-t // window)
    pad = n_blocks * window - t
    if pad:
        x = np.concatenate([x, np.full((pad, n), np.nan)])
    return x.reshape(n_blocks, window, n)


def _accumulate(op: np.ufunc, a: FloatArray) -> FloatArray:
    """In-place running ``op`` (add, maximum) along axis 1 of a block array.

    The same sequential order as ``op.accumulate(a, axis=1)``, so the same bits; for
    short axes a loop of whole-slice ufunc calls is several times faster than numpy's
    strided per-element accumulate.
    """
    if a.shape[1] > _LOOP_ACCUMULATE_MAX:
        op.accumulate(a, axis=1, out=a)
        return a
    for i in range(1, a.shape[1]):
        op(a[:, i - 1], a[:, i], out=a[:, i])
    return a


def _rolling_reduce(x: FloatArray, window: int, op: np.ufunc) -> FloatArray:
    """Rolling ``op``-reduction (add, maximum, minimum) over ``window`` rows, O(T * N).

    The window ending at row ``b * window + j`` is the suffix of block ``b - 1`` from
    position ``j + 1`` combined with the prefix of block ``b`` up to ``j``. NaN
    propagates through all three ufuncs, so a NaN anywhere in a window gives NaN.
    """
    t, n = x.shape
    if t < window:
        return np.full((t, n), np.nan)
    xb = _blocks(x, window)
    acc = _accumulate(op, xb.copy())  # prefix of each block; becomes the window value
    if len(xb) > 1:
        # Suffixes of blocks 0..nb-2 from position j + 1, for j = 0..window-2.
        suffix = _accumulate(op, xb[:-1, :0:-1].copy())[:, ::-1]
        op(acc[1:, :-1], suffix, out=acc[1:, :-1])
    out: FloatArray = acc.reshape(-1, n)[:t]
    out[: window - 1] = np.nan
    return out


def _rolling_moments(x: FloatArray, window: int) -> tuple[FloatArray, FloatArray]:
    """Rolling mean and sum of squared deviations (M2) over ``window`` rows.

    Same block split as :func:`_rolling_reduce`. Every window ending in block ``b``
    contains that block's first row, so both of its parts are summed shifted by that
    value: shifted values are of the order of the window's own spread and the one-pass
    ``M2 = S2 - S1**2 / n`` keeps full precision even for prices far from zero. A
    constant window gives exactly M2 = 0 and mean = that constant.
    """
    t, n = x.shape
    if t < window:
        return np.full((t, n), np.nan), np.full((t, n), np.nan)
    xb = _blocks(x, window)
    ref = xb[:, :1]
    s1 = xb - ref
    s2 = np.square(s1)
    _accumulate(np.add, s1)
    _accumulate(np.add, s2)
    if len(xb) > 1:
        # Suffix of block b - 1 from position j + 1, shifted by block b's first row.
        d1 = xb[:-1, :0:-1] - ref[1:]
        d2 = np.square(d1)
        _accumulate(np.add, d1)
        _accumulate(np.add, d2)
        s1[1:, :-1] += d1[:, ::-1]
        s2[1:, :-1] += d2[:, ::-1]
    mean_b = s1 / window
    s1 *= mean_b
    s2 -= s1
    np.maximum(s2, 0.0, out=s2)  # rounding can leave a tiny negative; NaN stays NaN
    mean_b += ref
    mean: FloatArray = mean_b.reshape(-1, n)[:t]
    m2: FloatArray = s2.reshape(-1, n)[:t]
    mean[: window - 1] = np.nan
    m2[: window - 1] = np.nan
    return mean, m2


def _hold_filter(x: FloatArray, a: float, seed: FloatArray, active: BoolArray) -> FloatArray:
    """First-order recursion ``y[t] = a * y[t-1] + (1 - a) * x[t]`` on ``active`` rows.

    On inactive rows the state is held: ``y[t] = y[t-1]``. ``y[-1] = seed`` (one per
    column). Vectorised in closed form inside blocks anchored at row 0 (so it stays
    causal): with ``k[t]`` the number of active rows of the block up to ``t``,
    ``y[t] = a**k[t] * (y_start + sum_{i<=t} (1 - a) * x[i] / a**k[i])``.
    The block length keeps ``a**-k`` below ``e**200``; only a few blocks are needed.
    """
    t = len(x)
    if a == 0.0:
        return np.where(active, x, np.nan)  # callers only read active rows and the seed row
    block = max(1, int(_MAX_LOG_GROWTH / -math.log(a)))
    powers = np.power(a, np.arange(block + 1))
    y = np.multiply(x, 1.0 - a)
    np.copyto(y, 0.0, where=~active)
    carry = np.array(seed, dtype=np.float64)
    for start in range(0, t, block):
        stop = min(start + block, t)
        act = active[start:stop]
        if act.all():  # the usual case; the same values as the general branch
            decay = powers[1 : stop - start + 1, None]
        else:
            decay = powers[np.cumsum(act, axis=0, dtype=np.int32)]
        part = y[start:stop]
        part /= decay
        np.cumsum(part, axis=0, out=part)
        part += carry
        part *= decay
        carry = part[-1]
    return y


def _ema(x: FloatArray, span: int) -> FloatArray:
    valid = np.isfinite(x)
    t, n = x.shape
    first = np.argmax(valid, axis=0)
    seed = x[first, np.arange(n)]  # NaN for a column with no value at all
    active = valid & (np.arange(t)[:, None] > first)
    y = _hold_filter(x, 1.0 - 2.0 / (span + 1.0), seed, active)
    y[first, np.arange(n)] = seed  # the seed row is inactive; set it exactly
    y[~valid] = np.nan
    return y


def _wilder(x: FloatArray, period: int) -> FloatArray:
    valid = np.isfinite(x)
    n = x.shape[1]
    ready = np.cumsum(valid, axis=0, dtype=np.int32) >= period
    seed_row = np.argmax(ready, axis=0)  # row of the period-th valid value (0 if none)
    head = slice(0, int(seed_row.max()) + 1)
    total = np.cumsum(np.where(valid[head], x[head], 0.0), axis=0)  # sequential: causal
    seed = np.where(ready.any(axis=0), total[seed_row, np.arange(n)] / period, np.nan)
    active = valid & (np.arange(len(x))[:, None] > seed_row)
    y = _hold_filter(x, (period - 1.0) / period, seed, active)
    y[seed_row, np.arange(n)] = seed
    np.copyto(y, np.nan, where=~(valid & ready))
    return y


def _rolling_std(x: FloatArray, window: int, ddof: int) -> tuple[FloatArray, FloatArray]:
    """Rolling mean and std (``ddof`` degrees of freedom) of a cleaned 2-D array."""
    mean, m2 = _rolling_moments(x, window)
    m2 /= window - ddof
    return mean, np.sqrt(m2, out=m2)


def _gain_loss(c: FloatArray, period: int) -> tuple[FloatArray, FloatArray]:
    """Wilder averages of the positive and negative parts of ``close[t] - close[t-1]``."""
    delta = _lag_diff(c, 1)
    n = delta.shape[1]
    both = np.concatenate([np.maximum(delta, 0.0), np.maximum(-delta, 0.0)], axis=1)
    smooth = _wilder(both, period)  # one pass for gains and losses: columns are independent
    return smooth[:, :n], smooth[:, n:]


def _gain_share(avg_gain: FloatArray, avg_loss: FloatArray) -> FloatArray:
    """``avg_gain / (avg_gain + avg_loss)``, 0.5 when both are 0 (RSI / 100)."""
    total = avg_gain + avg_loss
    out = np.full(total.shape, np.nan)
    np.divide(avg_gain, total, out=out, where=total > 0)
    out[total == 0] = 0.5
    return out


def _macd_raw(
    c: FloatArray, fast: int, slow: int, signal: int
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int32]]:
    """Raw MACD line and signal line, and the count of valid closes so far."""
    line = _ema(c, fast)
    line -= _ema(c, slow)
    return line, _ema(line, signal), np.cumsum(np.isfinite(c), axis=0, dtype=np.int32)


def _normalised(x: FloatArray, c: FloatArray, ok: BoolArray) -> FloatArray:
    """``x / c`` (in place), NaN where not ``ok``."""
    x /= c
    x[~ok] = np.nan
    return x


def _macd_hist(c: FloatArray, fast: int, slow: int, signal: int) -> FloatArray:
    line, sig, count = _macd_raw(c, fast, slow, signal)
    line -= sig
    return _normalised(line, c, count >= slow + signal - 1)


def _bollinger(c: FloatArray, window: int, num_std: float, ddof: int) -> FloatArray:
    mean, std = _rolling_std(c, window, ddof)
    pos = c - mean
    std *= 2.0 * num_std
    np.divide(pos, std, out=pos, where=std != 0)
    pos[std == 0] = 0.0  # zero-width band: the close is the mean
    pos += 0.5
    return pos


def _sma_distance(c: FloatArray, window: int) -> FloatArray:
    sma = _rolling_reduce(c, window, np.add)
    sma /= window
    out = c / sma
    out -= 1.0
    return out


def _drawdown(c: FloatArray, window: int) -> FloatArray:
    out = c / _rolling_reduce(c, window, np.maximum)
    out -= 1.0
    return out


def _natr(
    c: FloatArray,
    high: FloatArray | None,
    low: FloatArray | None,
    period: int,
    gain_loss: tuple[FloatArray, FloatArray] | None = None,
) -> FloatArray:
    """Wilder ATR / close; ``gain_loss`` reuses :func:`_gain_loss` when closes only."""
    if high is None and low is None:
        # |delta| = gain + loss and Wilder smoothing is linear: reuse the RSI averages.
        avg_gain, avg_loss = _gain_loss(c, period) if gain_loss is None else gain_loss
        return (avg_gain + avg_loss) / c
    if high is None or low is None:
        raise ValueError("pass both high and low, or neither")
    h = _clean_prices(np.asarray(high, dtype=np.float64))
    lo = _clean_prices(np.asarray(low, dtype=np.float64))
    if h.shape != c.shape or lo.shape != c.shape:
        raise ValueError(f"high {h.shape} and low {lo.shape} must match close {c.shape}")
    prev = _lag(c, 1)
    tr = np.maximum(h - lo, np.maximum(np.abs(h - prev), np.abs(lo - prev)))
    return _wilder(tr, period) / c


# --------------------------------------------------------------------------- public functions


def log_returns(close: FloatArray, periods: int = 1) -> FloatArray:
    """Log returns over ``periods`` sessions, ``log(close[t] / close[t - periods])``.

    Args:
        close: closes, shape ``(T, N)`` or ``(T,)``; NaN (or a non-positive value) is a
            missing bar.
        periods: sessions between the two closes.

    Returns:
        Same shape as ``close``; the first ``periods`` rows are NaN, and a row is NaN
        when either of its two closes is missing.

    Raises:
        ValueError: ``periods < 1`` or ``close`` is not 1-D or 2-D.
    """
    _check_positive("periods", periods)
    c, squeeze = _as_2d(close)
    return _restore(_lag_diff(np.log(_clean_prices(c)), periods), squeeze)


def rolling_mean(x: FloatArray, window: int) -> FloatArray:
    """Mean of the last ``window`` rows (trailing, inclusive of row ``t``).

    Args:
        x: values, shape ``(T, N)`` or ``(T,)``.
        window: rows per window.

    Returns:
        Same shape as ``x``; the first ``window - 1`` rows are NaN, and so is any
        window containing a NaN (or inf).

    Raises:
        ValueError: ``window < 1``.
    """
    _check_positive("window", window)
    a, squeeze = _as_2d(x)
    return _restore(_rolling_reduce(_finite(a), window, np.add) / window, squeeze)


def rolling_max(x: FloatArray, window: int) -> FloatArray:
    """Maximum of the last ``window`` rows; NaN during warm-up or if the window has a NaN.

    Args:
        x: values, shape ``(T, N)`` or ``(T,)``.
        window: rows per window.

    Returns:
        Same shape as ``x``.

    Raises:
        ValueError: ``window < 1``.
    """
    _check_positive("window", window)
    a, squeeze = _as_2d(x)
    return _restore(_rolling_reduce(_finite(a), window, np.maximum), squeeze)


def rolling_std(x: FloatArray, window: int, ddof: int = 1) -> FloatArray:
    """Standard deviation of the last ``window`` rows (sample std by default).

    Numerically stable (shifted two-part moments), so a series far from zero, such as
    prices, keeps full precision; a constant window gives exactly 0.

    Args:
        x: values, shape ``(T, N)`` or ``(T,)``.
        window: rows per window.
        ddof: delta degrees of freedom: 1 for the sample std, 0 for the population std.

    Returns:
        Same shape as ``x``; the first ``window - 1`` rows are NaN, and so is any
        window containing a NaN (or inf).

    Raises:
        ValueError: ``window <= ddof`` or ``ddof < 0``.
    """
    if ddof < 0 or window <= ddof:
        raise ValueError(f"window ({window}) must exceed ddof ({ddof}) and ddof must be >= 0")
    a, squeeze = _as_2d(x)
    return _restore(_rolling_std(_finite(a), window, ddof)[1], squeeze)


def zscore(x: FloatArray, window: int, ddof: int = 1) -> FloatArray:
    """``(x - rolling_mean) / rolling_std`` over the last ``window`` rows (row ``t`` included).

    Args:
        x: values, shape ``(T, N)`` or ``(T,)``.
        window: rows per window.
        ddof: delta degrees of freedom of the std.

    Returns:
        Same shape as ``x``; 0 where the window is constant (the value is the mean);
        NaN during warm-up and for windows containing a NaN.

    Raises:
        ValueError: ``window <= ddof`` or ``ddof < 0``.
    """
    if ddof < 0 or window <= ddof:
        raise ValueError(f"window ({window}) must exceed ddof ({ddof}) and ddof must be >= 0")
    a, squeeze = _as_2d(x)
    a = _finite(a)
    mean, std = _rolling_std(a, window, ddof)
    z = np.where(std == 0, 0.0, _safe_div(a - mean, std))
    return _restore(z, squeeze)


def volatility(
    close: FloatArray, window: int = VOL_WINDOW, *, annualised: bool = False
) -> FloatArray:
    """Rolling sample std (ddof=1) of daily log returns.

    Close-to-close by construction (it reads closes only).

    Args:
        close: closes, shape ``(T, N)`` or ``(T,)``.
        window: number of daily returns per window.
        annualised: multiply by ``sqrt(TRADING_DAYS)`` (252). Off by default: the
            features use the daily figure.

    Returns:
        Same shape as ``close``; the first ``window`` rows are NaN (returns start at
        row 1), and so is any window touching a missing bar.

    Raises:
        ValueError: ``window < 2``.
    """
    if window < 2:
        raise ValueError(f"window must be at least 2, got {window}")
    c, squeeze = _as_2d(close)
    vol = _rolling_std(_lag_diff(np.log(_clean_prices(c)), 1), window, 1)[1]
    if annualised:
        vol = vol * math.sqrt(TRADING_DAYS)
    return _restore(vol, squeeze)


def volatility_ratio(
    close: FloatArray, short: int = VOL_WINDOW, long: int = VOL_LONG_WINDOW
) -> FloatArray:
    """Short-window over long-window volatility: above 1 when volatility is rising.

    Args:
        close: closes, shape ``(T, N)`` or ``(T,)``.
        short: daily returns in the numerator's window.
        long: daily returns in the denominator's window.

    Returns:
        ``volatility(close, short) / volatility(close, long)``, same shape as ``close``;
        NaN for the first ``max(short, long)`` rows and where the long volatility is 0.

    Raises:
        ValueError: a window below 2.
    """
    return _safe_div(volatility(close, short), volatility(close, long))


def momentum(close: FloatArray, lookback: int = MOM_LOOKBACK) -> FloatArray:
    """Simple return over ``lookback`` sessions, ``close[t] / close[t - lookback] - 1``.

    Args:
        close: closes, shape ``(T, N)`` or ``(T,)``.
        lookback: sessions back.

    Returns:
        Same shape as ``close``; the first ``lookback`` rows are NaN, and a row is NaN
        when either close is missing.

    Raises:
        ValueError: ``lookback < 1``.
    """
    _check_positive("lookback", lookback)
    c, squeeze = _as_2d(close)
    c = _clean_prices(c)
    return _restore(c / _lag(c, lookback) - 1.0, squeeze)


def risk_adjusted_momentum(
    close: FloatArray, lookback: int = MOM_LOOKBACK, vol_window: int = VOL_WINDOW
) -> FloatArray:
    """Momentum per unit of risk over the same horizon.

    ``momentum(close, lookback) / (volatility(close, vol_window) * sqrt(lookback))``:
    the ``lookback``-session return divided by the daily volatility scaled to that
    horizon, a dimensionless t-statistic-like number (about -3..3 in practice).

    Ranking symbols by it gives exactly the same order as the strategy's "6-month
    return over 20-day volatility" (``momentum / volatility``), because ``sqrt(lookback)``
    is the same constant for every symbol; the scaling only keeps the value well inside
    the RL observation range.

    Args:
        close: closes, shape ``(T, N)`` or ``(T,)``.
        lookback: momentum horizon in sessions (126 = six months).
        vol_window: daily returns per volatility window.

    Returns:
        Same shape as ``close``; NaN during warm-up (``max(lookback, vol_window)`` rows)
        and where volatility is zero (a flat window: no measurable risk).

    Raises:
        ValueError: ``lookback < 1`` or ``vol_window < 2``.
    """
    mom = momentum(close, lookback)
    vol = volatility(close, vol_window)
    return _safe_div(mom, vol * math.sqrt(lookback))


def ema(x: FloatArray, span: int) -> FloatArray:
    """Exponential moving average with ``alpha = 2 / (span + 1)``.

    Seeded with the first valid value of each column (``y[first] = x[first]``), then
    ``y[t] = alpha * x[t] + (1 - alpha) * y[t-1]``: the same as pandas
    ``ewm(span=span, adjust=False)``. A missing input is skipped (state held, output
    NaN). No warm-up rows are blanked here: callers that need them (MACD) do it.

    Args:
        x: values, shape ``(T, N)`` or ``(T,)``.
        span: EMA span in rows.

    Returns:
        Same shape as ``x``; NaN before the first valid value and at missing rows.

    Raises:
        ValueError: ``span < 1``.
    """
    _check_positive("span", span)
    a, squeeze = _as_2d(x)
    return _restore(_ema(_finite(a), span), squeeze)


def wilder_smooth(x: FloatArray, period: int) -> FloatArray:
    """Wilder's moving average (as in RSI and ATR).

    The first value, at the row of the ``period``-th valid input, is the simple mean of
    the first ``period`` valid inputs; after that ``y[t] = (y[t-1] * (period - 1) + x[t])
    / period``. A missing input is skipped (state held, output NaN).

    Args:
        x: values, shape ``(T, N)`` or ``(T,)``.
        period: smoothing period.

    Returns:
        Same shape as ``x``; NaN until ``period`` valid inputs have been seen.

    Raises:
        ValueError: ``period < 1``.
    """
    _check_positive("period", period)
    a, squeeze = _as_2d(x)
    return _restore(_wilder(_finite(a), period), squeeze)


def rsi(close: FloatArray, period: int = RSI_PERIOD) -> FloatArray:
    """Wilder's Relative Strength Index, 0..100.

    Gains and losses are the positive and negative parts of ``close[t] - close[t-1]``,
    each smoothed with :func:`wilder_smooth`; ``RSI = 100 * avg_gain / (avg_gain +
    avg_loss)`` (the same as ``100 - 100 / (1 + RS)``). 100 with no losses, 0 with no
    gains, 50 when the price has not moved at all.

    Args:
        close: closes, shape ``(T, N)`` or ``(T,)``.
        period: Wilder period.

    Returns:
        Same shape as ``close``; the first ``period`` rows are NaN (the first value is at
        row ``period``, after ``period`` price changes). A change touching a missing bar
        is skipped: NaN at that row, averages carried over.

    Raises:
        ValueError: ``period < 1``.
    """
    _check_positive("period", period)
    c, squeeze = _as_2d(close)
    return _restore(100.0 * _gain_share(*_gain_loss(_clean_prices(c), period)), squeeze)


def macd(
    close: FloatArray, fast: int = MACD_FAST, slow: int = MACD_SLOW, signal: int = MACD_SIGNAL
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line, signal line and histogram, each divided by the close (scale-free).

    ``line = EMA(close, fast) - EMA(close, slow)``, ``signal = EMA(line, signal)``,
    ``hist = line - signal``; all three are then divided by ``close[t]``. The EMAs are
    those of :func:`ema`: seeded with the first valid close (the signal EMA with the
    first line value, which is 0), like pandas ``ewm(adjust=False)``.

    Args:
        close: closes, shape ``(T, N)`` or ``(T,)``.
        fast: span of the fast EMA.
        slow: span of the slow EMA.
        signal: span of the signal EMA.

    Returns:
        ``(macd, signal, hist)``, each the shape of ``close``. Warm-up: ``macd`` is NaN
        until ``slow`` valid closes have been seen, ``signal`` and ``hist`` until
        ``slow + signal - 1``. NaN at missing bars.

    Raises:
        ValueError: a span below 1, or ``fast >= slow``.
    """
    for name, value in (("fast", fast), ("slow", slow), ("signal", signal)):
        _check_positive(name, value)
    if fast >= slow:
        raise ValueError(f"fast ({fast}) must be shorter than slow ({slow})")
    c, squeeze = _as_2d(close)
    c = _clean_prices(c)
    line, sig, count = _macd_raw(c, fast, slow, signal)
    hist = _normalised(line - sig, c, count >= slow + signal - 1)
    sig = _normalised(sig, c, count >= slow + signal - 1)
    line = _normalised(line, c, count >= slow)
    return _restore(line, squeeze), _restore(sig, squeeze), _restore(hist, squeeze)


def bollinger_position(
    close: FloatArray, window: int = BB_WINDOW, num_std: float = BB_NUM_STD, ddof: int = BB_DDOF
) -> FloatArray:
    """Bollinger %b: ``(close - lower) / (upper - lower)``.

    Bands are ``SMA(window) +/- num_std * std(window)``, with the population std
    (``ddof=0``) as Bollinger defines them. 0.5 means the close is at its mean, 1 at the
    upper band, 0 at the lower; a zero-width band (a constant window) gives 0.5.

    Args:
        close: closes, shape ``(T, N)`` or ``(T,)``.
        window: rows per window (the close at ``t`` is inside its own window).
        num_std: band half-width in standard deviations.
        ddof: delta degrees of freedom of the std.

    Returns:
        Same shape as ``close``; NaN during the first ``window - 1`` rows and for
        windows touching a missing bar.

    Raises:
        ValueError: ``num_std <= 0`` or ``window <= ddof``.
    """
    if num_std <= 0:
        raise ValueError(f"num_std must be positive, got {num_std}")
    if ddof < 0 or window <= ddof:
        raise ValueError(f"window ({window}) must exceed ddof ({ddof}) and ddof must be >= 0")
    c, squeeze = _as_2d(close)
    return _restore(_bollinger(_clean_prices(c), window, num_std, ddof), squeeze)


def sma_distance(close: FloatArray, window: int) -> FloatArray:
    """Distance of the close from its simple moving average, ``close / SMA(window) - 1``.

    Args:
        close: closes, shape ``(T, N)`` or ``(T,)``.
        window: SMA length (the close at ``t`` is included).

    Returns:
        Same shape as ``close``; NaN for the first ``window - 1`` rows and for windows
        touching a missing bar.

    Raises:
        ValueError: ``window < 1``.
    """
    _check_positive("window", window)
    c, squeeze = _as_2d(close)
    return _restore(_sma_distance(_clean_prices(c), window), squeeze)


def drawdown(close: FloatArray, window: int = DRAWDOWN_WINDOW) -> FloatArray:
    """Distance below the highest close of the last ``window`` sessions, in ``[-1, 0]``.

    Args:
        close: closes, shape ``(T, N)`` or ``(T,)``.
        window: look-back in sessions (row ``t`` included).

    Returns:
        ``close / rolling_max(close, window) - 1``; NaN for the first ``window - 1`` rows
        and for windows touching a missing bar.

    Raises:
        ValueError: ``window < 1``.
    """
    _check_positive("window", window)
    c, squeeze = _as_2d(close)
    return _restore(_drawdown(_clean_prices(c), window), squeeze)


def natr(
    close: FloatArray,
    high: FloatArray | None = None,
    low: FloatArray | None = None,
    period: int = NATR_PERIOD,
) -> FloatArray:
    """Normalised average true range: Wilder ATR divided by the close.

    True range is ``max(high - low, |high - close[t-1]|, |low - close[t-1]|)``. With
    closes only (``high`` and ``low`` both None, as in the bundled sample data) it
    degrades to the close-to-close range ``|close[t] - close[t-1]|``, which is smaller:
    do not mix the two between training and serving.

    Args:
        close: closes, shape ``(T, N)`` or ``(T,)``.
        high: highs of the same shape, or None.
        low: lows of the same shape, or None.
        period: Wilder period.

    Returns:
        Same shape as ``close``; the first ``period`` rows are NaN (the true range needs
        the previous close).

    Raises:
        ValueError: only one of ``high``/``low`` given, shapes differ, or ``period < 1``.
    """
    _check_positive("period", period)
    c, squeeze = _as_2d(close)
    h = None if high is None else _as_2d(high)[0]
    lo = None if low is None else _as_2d(low)[0]
    return _restore(_natr(_clean_prices(c), h, lo, period), squeeze)


# --------------------------------------------------------------------------- feature set


def spec_dict(*, ohlc: bool = False) -> dict[str, Any]:
    """The feature spec as plain JSON-able data, for a model pack manifest.

    Args:
        ohlc: describe the variant computed with highs and lows (only ``natr_14``
            differs). Training on the closes-only sample gives ``ohlc=False``.

    Returns:
        ``version``, ``names``, each feature's function and parameters, the clip range,
        dtype, warm-up rows and the inputs used.
    """
    params: dict[str, dict[str, Any]] = {
        "ret_1": {"fn": "log_returns", "periods": RET_PERIODS[0]},
        "ret_5": {"fn": "log_returns", "periods": RET_PERIODS[1]},
        "ret_21": {"fn": "log_returns", "periods": RET_PERIODS[2]},
        "vol_20": {"fn": "volatility", "window": VOL_WINDOW, "ddof": 1, "annualised": False},
        "vol_ratio_20_60": {
            "fn": "volatility_ratio",
            "short": VOL_WINDOW,
            "long": VOL_LONG_WINDOW,
        },
        "mom_126": {"fn": "momentum", "lookback": MOM_LOOKBACK},
        "ram_126_20": {
            "fn": "risk_adjusted_momentum",
            "lookback": MOM_LOOKBACK,
            "vol_window": VOL_WINDOW,
            "scale": "momentum / (vol * sqrt(lookback))",
        },
        "rsi_14": {"fn": "rsi", "period": RSI_PERIOD, "scale": "(rsi - 50) / 50"},
        "macd_hist_norm": {
            "fn": "macd",
            "fast": MACD_FAST,
            "slow": MACD_SLOW,
            "signal": MACD_SIGNAL,
            "output": "hist / close",
        },
        "bb_pos_20": {
            "fn": "bollinger_position",
            "window": BB_WINDOW,
            "num_std": BB_NUM_STD,
            "ddof": BB_DDOF,
        },
        "dist_sma_50": {"fn": "sma_distance", "window": SMA_WINDOWS[0]},
        "dist_sma_200": {"fn": "sma_distance", "window": SMA_WINDOWS[1]},
        "drawdown_252": {"fn": "drawdown", "window": DRAWDOWN_WINDOW},
        "natr_14": {"fn": "natr", "period": NATR_PERIOD, "true_range": "ohlc" if ohlc else "close"},
    }
    return {
        "version": FEATURE_SPEC_VERSION,
        "names": list(FEATURE_NAMES),
        "features": [{"name": name, **params[name]} for name in FEATURE_NAMES],
        "clip": CLIP,
        "dtype": "float32",
        "layout": "sessions x symbols x features",
        "warmup_rows": WARMUP_ROWS,
        "inputs": ["close", "high", "low"] if ohlc else ["close"],
    }


def spec_hash(*, ohlc: bool = False) -> str:
    """SHA-256 (hex) of the canonical JSON of :func:`spec_dict`.

    A model pack stores it; the runtime refuses a pack whose hash differs from the
    features it computes.

    Args:
        ohlc: hash of the variant computed with highs and lows.
    """
    canonical = json.dumps(spec_dict(ohlc=ohlc), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class FeatureSet:
    """Features of many symbols over many sessions, as one float32 tensor.

    Attributes:
        values: shape ``(T, N, F)``, float32, read-only; ``values[t, j]`` is the
            observation of symbol ``j`` at session ``t`` (known after that close).
        names: feature names, ``F`` of them, in the order of the last axis.
        version: feature spec version.
        ohlc: True when highs and lows were used (see :func:`natr`).
    """

    values: Float32Array
    names: tuple[str, ...] = FEATURE_NAMES
    version: str = FEATURE_SPEC_VERSION
    ohlc: bool = False

    def __post_init__(self) -> None:
        if self.values.ndim != 3 or self.values.shape[2] != len(self.names):
            raise ValueError(
                f"values must have shape (T, N, {len(self.names)}), got {self.values.shape}"
            )
        if self.values.dtype != np.float32:
            raise ValueError(f"values must be float32, got {self.values.dtype}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(sessions, symbols, features)``."""
        t, n, f = self.values.shape
        return int(t), int(n), int(f)

    @property
    def spec_hash(self) -> str:
        """:func:`spec_hash` of the spec these values follow."""
        return spec_hash(ohlc=self.ohlc)

    def index(self, name: str) -> int:
        """Position of feature ``name`` on the last axis.

        Raises:
            KeyError: no such feature.
        """
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown feature {name!r}; known: {', '.join(self.names)}") from None

    def feature(self, name: str) -> Float32Array:
        """One feature for every session and symbol, shape ``(T, N)``."""
        return self.values[:, :, self.index(name)]

    def observation(self, t: int) -> Float32Array:
        """All features of all symbols at session ``t``, shape ``(N, F)``."""
        row: Float32Array = self.values[t]
        return row

    def valid(self) -> BoolArray:
        """``(T, N)`` mask: True where every feature of that symbol and session is finite."""
        return np.asarray(np.isfinite(self.values).all(axis=2), dtype=np.bool_)


def compute_features(
    close: FloatArray,
    high: FloatArray | None = None,
    low: FloatArray | None = None,
    volume: FloatArray | None = None,
) -> FeatureSet:
    """All :data:`FEATURE_NAMES` for every session and symbol.

    Args:
        close: closes, shape ``(T, N)``; NaN is a missing bar.
        high: highs of the same shape, or None. Used only by ``natr_14``, and only
            together with ``low``; without them ``natr_14`` is close-to-close.
        low: lows of the same shape, or None.
        volume: accepted for a stable signature and checked for shape; no feature of
            spec version 1 uses it.

    Returns:
        A :class:`FeatureSet` with float32 values of shape ``(T, N, F)``, each clipped to
        ``[-CLIP, CLIP]``. NaN marks warm-up and missing data; it is never filled in.

    Raises:
        ValueError: ``close`` is not 2-D, another array's shape differs from it, or only
            one of ``high``/``low`` is given.
    """
    raw = np.asarray(close, dtype=np.float64)
    if raw.ndim != 2:
        raise ValueError(f"close must have shape (T, N), got {raw.shape}")
    for name, arr in (("high", high), ("low", low), ("volume", volume)):
        if arr is not None and np.shape(arr) != raw.shape:
            raise ValueError(f"{name} has shape {np.shape(arr)}, close has {raw.shape}")
    c = _clean_prices(raw)
    log_c = np.log(c)
    ret_1 = _lag_diff(log_c, 1)
    vol = _rolling_std(ret_1, VOL_WINDOW, 1)[1]
    vol_long = _rolling_std(ret_1, VOL_LONG_WINDOW, 1)[1]
    mom = c / _lag(c, MOM_LOOKBACK) - 1.0
    gain_loss = _gain_loss(c, RSI_PERIOD)
    columns = (
        ret_1,
        _lag_diff(log_c, RET_PERIODS[1]),
        _lag_diff(log_c, RET_PERIODS[2]),
        vol,
        _safe_div(vol, vol_long),
        mom,
        _safe_div(mom, vol * math.sqrt(MOM_LOOKBACK)),
        2.0 * _gain_share(*gain_loss) - 1.0,  # (rsi - 50) / 50
        _macd_hist(c, MACD_FAST, MACD_SLOW, MACD_SIGNAL),
        _bollinger(c, BB_WINDOW, BB_NUM_STD, BB_DDOF),
        *(_sma_distance(c, w) for w in SMA_WINDOWS),
        _drawdown(c, DRAWDOWN_WINDOW),
        _natr(c, high, low, NATR_PERIOD, gain_loss if NATR_PERIOD == RSI_PERIOD else None),
    )
    out = np.empty((*c.shape, len(FEATURE_NAMES)), dtype=np.float32)
    with np.errstate(over="ignore"):  # beyond float32 range becomes inf, then CLIP
        for i, column in enumerate(columns):
            out[:, :, i] = column
    np.clip(out, -CLIP, CLIP, out=out)  # NaN stays NaN
    out.setflags(write=False)
    return FeatureSet(values=out, ohlc=high is not None and low is not None)
