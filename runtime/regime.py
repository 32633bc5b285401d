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
    with np.errstate(invalid="ignore"):
        on = latch(index_close > upper, index_close < lower)
    return on.astype(np.int8), sma  # ATTACK is 1, DEFENSE 0


def latch(turn_on: npt.NDArray[np.bool_], turn_off: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Hysteresis as a causal scan: on from a day ``turn_on`` holds, off from a day
    ``turn_off`` holds (``turn_on`` wins a tie), and in between the previous state.

    Starts off. Day ``t`` depends on days ``<= t`` only. The SMA regime, the VIX
    filter and the HMM regime all latch this way.
    """
    out = np.zeros(len(turn_on), dtype=np.bool_)
    state = False
    on: list[bool] = turn_on.tolist()  # plain lists: a numpy scalar per day is slower
    off: list[bool] = turn_off.tolist()
    # A sequential scan is the honest form of hysteresis: each day depends on the last.
    for t in range(len(on)):
        if on[t]:
            state = True
        elif off[t]:
            state = False
        out[t] = state
    return out


def threshold_alarm(
    values: npt.NDArray[np.float64], enter: float, exit: float
) -> npt.NDArray[np.bool_]:
    """A causal alarm with hysteresis: on from the first value above ``enter``, off again
    from the first value below ``exit`` (``exit < enter``); in between it holds.

    A NaN day neither sets nor clears the alarm: the state carries over it (the caller
    decides what an unknown day means). Day ``t`` depends on ``values[: t + 1]`` only.
    """
    with np.errstate(invalid="ignore"):
        return latch(values > enter, values < exit)


def label(code: int) -> Regime:
    """The :class:`Regime` for an int8 code."""
    return Regime.ATTACK if code == ATTACK else Regime.DEFENSE
