"""Volatility readings of a chain: ATM IV, the 25-delta skew and the IV percentile.

They feed the spread strategies' first pass (is volatility rich? are puts bid?). A
quote's own IV and delta are used when the source gives them; otherwise the IV is
implied from its mid and the delta follows from that IV by Black-Scholes-Merton.
Quotes whose mid no volatility fits (below intrinsic, a stale bid) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from invest.runtime.errors import DataError, ImpliedVolError
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.contracts import Right
from invest.runtime.options.pricing import greeks, implied_vol, year_fraction

__all__ = ["atm_iv", "iv_percentile", "quote_delta", "quote_iv", "skew"]


def _years(chain: OptionChain, q: OptionQuote) -> float:
    return float(year_fraction(q.contract.dte(chain.as_of)))


def quote_iv(chain: OptionChain, q: OptionQuote, rate: float = 0.0) -> float | None:
    """The quote's IV, or the one implied from its mid; None when no volatility fits."""
    if q.iv is not None:
        return q.iv
    t = _years(chain, q)
    if t <= 0 or q.mid <= 0:
        return None
    try:
        return implied_vol(q.contract.right, q.mid, chain.spot, float(q.contract.strike), t, rate)
    except ImpliedVolError:
        return None


def quote_delta(chain: OptionChain, q: OptionQuote, rate: float = 0.0) -> float | None:
    """The quote's delta, or the BSM delta at its IV; None without an IV."""
    if q.delta is not None:
        return q.delta
    iv = quote_iv(chain, q, rate)
    t = _years(chain, q)
    if iv is None or t <= 0:
        return None
    strike = float(q.contract.strike)
    return float(greeks(q.contract.right, chain.spot, strike, t, iv, rate).delta)


def atm_iv(chain: OptionChain, expiry: date, rate: float = 0.0) -> float:
    """IV at the money: per strike the mean of the call and put IVs, interpolated at spot.

    Interpolated at spot, not at the forward: the chain carries no rate, and over the
    DTEs traded here the two differ by less than a strike step.

    Raises:
        DataError: the expiry has no quote with an IV, or its strikes do not bracket spot.
    """
    by_strike: dict[float, list[float]] = {}
    for q in chain.quotes:
        if q.contract.expiry != expiry:
            continue
        iv = quote_iv(chain, q, rate)
        if iv is not None:
            by_strike.setdefault(float(q.contract.strike), []).append(iv)
    if not by_strike:
        raise DataError(f"{chain.underlying} {expiry}: no quote with an implied volatility")
    strikes = np.array(sorted(by_strike))
    ivs = np.array([float(np.mean(by_strike[k])) for k in strikes])
    if not strikes[0] <= chain.spot <= strikes[-1]:
        raise DataError(
            f"{chain.underlying} {expiry}: strikes {strikes[0]}..{strikes[-1]} do not bracket "
            f"spot {chain.spot}, so there is no ATM IV"
        )
    return float(np.interp(chain.spot, strikes, ivs))


def _iv_at_delta(
    chain: OptionChain, expiry: date, right: Right, target: float, rate: float
) -> float:
    pts: list[tuple[float, float]] = []
    for q in chain.side(expiry, right):
        iv, d = quote_iv(chain, q, rate), quote_delta(chain, q, rate)
        if iv is not None and d is not None:
            pts.append((abs(d), iv))
    pts.sort()
    if len(pts) < 2 or not pts[0][0] <= target <= pts[-1][0]:
        raise DataError(
            f"{chain.underlying} {expiry}: the {right} quotes' deltas do not bracket "
            f"{target:.2f}, so there is no {round(target * 100)}-delta {right} IV"
        )
    deltas, ivs = zip(*pts, strict=True)
    return float(np.interp(target, np.array(deltas), np.array(ivs)))


def skew(chain: OptionChain, expiry: date, rate: float = 0.0, delta: float = 0.25) -> float:
    """The 25-delta risk reversal as a skew: IV of the -0.25 put minus IV of the +0.25 call.

    Each IV is interpolated linearly in |delta| along its side. Positive (the usual
    equity shape) when downside puts are richer than upside calls; in volatility
    units (0.04 is four vol points).

    Raises:
        DataError: either side's deltas do not bracket ``delta``.
    """
    put = _iv_at_delta(chain, expiry, Right.PUT, delta, rate)
    call = _iv_at_delta(chain, expiry, Right.CALL, delta, rate)
    return put - call


def iv_percentile(history: Sequence[float] | np.ndarray, today_value: float, window: int) -> float:
    """The share (0..1) of the last ``window`` values of ``history`` below ``today_value``.

    ``history`` holds the earlier days' values, oldest first, none later than today:
    the caller slices it point-in-time. Missing values (NaN) are left out.

    Raises:
        DataError: ``window`` is below 1, or the window holds no value.
    """
    if window < 1:
        raise DataError(f"iv_percentile window must be at least 1 day, got {window}")
    values = np.asarray(history, dtype=np.float64)[-window:]
    values = values[np.isfinite(values)]
    if len(values) == 0:
        raise DataError(f"iv_percentile: no IV value in the last {window} days of history")
    return float(np.count_nonzero(values < today_value)) / len(values)
