"""Deterministic market regime: the index against its long moving average, with hysteresis.

ATTACK when the index closes above ``sma * (1 + band)``, DEFENSE below
``sma * (1 - band)``; inside the band the previous regime holds. Before the
average exists (warm-up) the regime is DEFENSE: no data, no risk.

The series is a pure function of the data up to each day (a causal scan), so
a live cycle and a backtest that reach the same day agree on the regime.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from invest.runtime.domain import Regime
from invest.runtime.features import rolling_mean

ATTACK, DEFENSE = np.int8(1), np.int8(0)


def regime_series(
    index_close: npt.NDArray[np.float64], window: int = 200, band: float = 0.02
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:
    """Regime for every day of ``index_close``.

    Args:
        index_close: closes of the regime index, 1-D. NaN days keep the previous regime.
        window: moving-average length in sessions.
        band: hysteresis half-width as a fraction of the average.

    Returns:
        ``(regime, sma)``: int8 array of 1 (ATTACK) / 0 (DEFENSE), and the average.
    """
    sma = rolling_mean(index_close.reshape(-1, 1), window)[:, 0]
    upper, lower = sma * (1 + band), sma * (1 - band)
    out = np.zeros(len(index_close), dtype=np.int8)
    # A sequential scan is the honest form of hysteresis: each day depends on the last.
    state = DEFENSE
    with np.errstate(invalid="ignore"):
        above = index_close > upper
        below = index_close < lower
    for t in range(len(index_close)):
        if above[t]:
            state = ATTACK
        elif below[t]:
            state = DEFENSE
        out[t] = state
    return out, sma


def threshold_alarm(
    values: npt.NDArray[np.float64], enter: float, exit: float
) -> npt.NDArray[np.bool_]:
    """A causal alarm with hysteresis: on from the first value above ``enter``, off again
    from the first value below ``exit`` (``exit < enter``); in between it holds.

    A NaN day neither sets nor clears the alarm: the state carries over it (the caller
    decides what an unknown day means). Day ``t`` depends on ``values[: t + 1]`` only.
    """
    out = np.zeros(len(values), dtype=np.bool_)
    state = False
    with np.errstate(invalid="ignore"):
        above = (values > enter).tolist()
        below = (values < exit).tolist()
    for t in range(len(values)):  # sequential for the same reason as regime_series
        if above[t]:
            state = True
        elif below[t]:
            state = False
        out[t] = state
    return out


def label(code: int) -> Regime:
    """The :class:`Regime` for an int8 code."""
    return Regime.ATTACK if code == ATTACK else Regime.DEFENSE
