"""Black-Scholes-Merton prices, greeks and implied volatility of European options.

The model has a continuous dividend yield ``div`` (Merton 1973), so one formula
prices equity and index options. Conventions, for every function here:

- ``t`` is in years, ACT/365 (:func:`year_fraction` turns calendar days into it);
- ``vol``, ``rate`` and ``div`` are decimals per year (0.2 is 20%), rates continuous;
- ``right`` is a :class:`~invest.runtime.options.contracts.Right` or ``"call"``/``"put"``;
- :func:`price` and :func:`greeks` broadcast their numeric arguments like numpy
  (a whole chain in one call) and return a ``float`` when every argument is a scalar;
- greeks are per unit of their variable: vega per 1.00 of vol, rho per 1.00 of
  rate, theta per year of calendar time (:class:`Greeks` gives the per-point and
  per-day figures too).

US equity options are American. For calls on a stock without dividends before
expiry the American price equals this one; for puts and dividend payers it is a
lower bound, which is what the strategies need to rank strikes and the modelled
chain needs to quote them (the issue settles for European pricing).

At ``t == 0`` or ``vol == 0`` the price is the discounted forward intrinsic value
and the greeks are its derivatives (delta 0 or the discount factor, gamma 0).

The normal distribution is written with :func:`math.erfc` rather than scipy:
numpy has no erf, and scipy (about 60 MB and a slow import) is not a runtime
dependency of the appliance. ``erfc`` keeps full relative precision in the far
tails, which deep out-of-the-money prices and their implied volatilities need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, overload

import numpy as np
import numpy.typing as npt

from invest.runtime.errors import ConfigError, ImpliedVolError
from invest.runtime.options.contracts import Right

FloatArray = npt.NDArray[np.float64]
#: What the broadcasting functions return: a float for scalar inputs, else an array.
FloatOrArray = float | FloatArray

#: Calendar days per year of the ACT/365 convention.
DAYS_PER_YEAR: Final = 365.0
#: The implied-volatility search gives up above this (100,000% a year).
MAX_IMPLIED_VOL: Final = 1000.0

_SQRT2: Final = math.sqrt(2.0)
_INV_SQRT_2PI: Final = 1.0 / math.sqrt(2.0 * math.pi)
_erfc_ufunc = np.frompyfunc(math.erfc, 1, 1)


@dataclass(frozen=True, slots=True, eq=False)
class Greeks:
    """A price and its sensitivities; each a float, or an array when the inputs were.

    Attributes:
        price: the option's value per share.
        delta: d price / d spot.
        gamma: d delta / d spot.
        vega: d price / d vol, per 1.00 of vol (divide by 100 for one vol point).
        theta: d price / d calendar time, per year (negative: the option loses value).
        rho: d price / d rate, per 1.00 of rate.
    """

    price: FloatOrArray
    delta: FloatOrArray
    gamma: FloatOrArray
    vega: FloatOrArray
    theta: FloatOrArray
    rho: FloatOrArray

    @property
    def vega_per_point(self) -> FloatOrArray:
        """Vega per vol point (0.01 of vol): the price change when vol goes 20% -> 21%."""
        return self.vega / 100.0

    @property
    def theta_per_day(self) -> FloatOrArray:
        """Theta per calendar day (ACT/365)."""
        return self.theta / DAYS_PER_YEAR


def year_fraction(days: int | float | npt.ArrayLike) -> FloatOrArray:
    """Calendar days as years, ACT/365: ``days / 365``."""
    years = np.asarray(days, dtype=np.float64) / DAYS_PER_YEAR
    return float(years) if years.ndim == 0 else years


def is_call(right: Right | str) -> bool:
    """True for a call; ``right`` is a :class:`Right` or ``"call"``/``"put"`` (any case)."""
    if isinstance(right, Right):
        return right is Right.CALL
    text = str(right).strip().lower()
    if text == "call":
        return True
    if text == "put":
        return False
    raise ConfigError(f"option right must be 'call' or 'put', got {right!r}")


@overload
def price(
    right: Right | str,
    spot: float,
    strike: float,
    t: float,
    vol: float,
    rate: float = 0.0,
    div: float = 0.0,
) -> float: ...
@overload
def price(
    right: Right | str,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
) -> FloatOrArray: ...
def price(
    right: Right | str,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
) -> FloatOrArray:
    """The BSM value per share of a European option (broadcasts; see the module docstring).

    Raises:
        ConfigError: a non-positive spot or strike, a negative t or vol, a value
            that is not finite, or shapes that do not broadcast.
    """
    call = is_call(right)
    s, k, tt, v, r, q, scalar = _inputs(spot, strike, t, vol, rate, div)
    d1, d2, _sd, dq, dr = _terms(s, k, tt, v, r, q)
    n1, n2 = _sided_cdfs(call, d1, d2)
    value = _value(call, s, k, n1, n2, dq, dr)
    return _out(value, scalar)


def greeks(
    right: Right | str,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
) -> Greeks:
    """The BSM price and its five greeks (broadcasts; floats for scalar inputs).

    Raises:
        ConfigError: as :func:`price`.
    """
    call = is_call(right)
    s, k, tt, v, r, q, scalar = _inputs(spot, strike, t, vol, rate, div)
    d1, d2, sd, dq, dr = _terms(s, k, tt, v, r, q)
    live = sd > 0
    safe_sd = np.where(live, sd, 1.0)
    sqrt_t = np.sqrt(tt)
    density = _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)  # 0 where d1 is infinite
    gamma = np.where(live, dq * density / (s * safe_sd), 0.0)
    vega = s * dq * density * sqrt_t
    safe_sqrt_t = np.where(live, sqrt_t, 1.0)
    decay = np.where(live, -s * dq * density * v / (2.0 * safe_sqrt_t), 0.0)
    n1, n2 = _sided_cdfs(call, d1, d2)
    if call:
        delta = dq * n1
        theta = decay - r * k * dr * n2 + q * s * dq * n1
        rho = k * tt * dr * n2
    else:
        delta = -dq * n1
        theta = decay + r * k * dr * n2 - q * s * dq * n1
        rho = -k * tt * dr * n2
    value = _value(call, s, k, n1, n2, dq, dr)
    return Greeks(
        price=_out(value, scalar),
        delta=_out(delta, scalar),
        gamma=_out(gamma, scalar),
        vega=_out(vega, scalar),
        theta=_out(theta, scalar),
        rho=_out(rho, scalar),
    )


def implied_vol(
    right: Right | str,
    price: float,
    spot: float,
    strike: float,
    t: float,
    rate: float = 0.0,
    div: float = 0.0,
) -> float:
    """The volatility at which the BSM price equals ``price`` (per share), as a decimal.

    The root is bracketed between 0 (where the price is the discounted intrinsic
    value) and a volatility whose price is above ``price``, then found by Newton
    steps in vol space on the log of the out-of-the-money price (see the body),
    each step that leaves the bracket or meets a vanishing vega (deep in or out of
    the money, a few hours left) replaced by a bisection: it always converges,
    and the price at the answer matches ``price`` to about 1e-12 relative. Where
    the time value is below float precision of the price (deep in the money) many
    volatilities give the same price; one of them is returned.
    Hand-written because the runtime has no scipy (``brentq`` would do the same).

    Raises:
        ImpliedVolError: no volatility fits: ``t <= 0``, the price is at or below
            the discounted intrinsic value, or at or above the no-arbitrage bound
            (``spot * e^(-div t)`` for a call, ``strike * e^(-rate t)`` for a put).
        ConfigError: a non-positive spot or strike, or a value that is not finite.
    """
    call = is_call(right)
    floor = _iv_floor(call, price, spot, strike, t, rate, div)
    # Put-call parity turns an in-the-money price into the out-of-the-money option's
    # (its time value), whose price is computed without cancellation and whose log
    # is concave in vol: Newton from either side then lands left of the root and climbs.
    args = (call if floor == 0.0 else not call, spot, strike, t, rate, div)
    target = price - floor
    low, high = 0.0, 1.0
    while _scalar_price_vega(high, *args)[0] < target:
        low, high = high, high * 2.0
        if high > MAX_IMPLIED_VOL:
            raise ImpliedVolError(
                f"the {_right_name(call)} price {price:.6g} needs a volatility above "
                f"{MAX_IMPLIED_VOL:g} ({MAX_IMPLIED_VOL:.0%}): it is too close to the "
                "no-arbitrage bound"
            )
    return _solve(args, target, low, high)


def _right_name(call: bool) -> str:
    """``"call"`` or ``"put"``."""
    return "call" if call else "put"


def _iv_floor(
    call: bool, price: float, spot: float, strike: float, t: float, rate: float, div: float
) -> float:
    """The discounted intrinsic value, after checking that a volatility can fit ``price``."""
    name = _right_name(call)
    for label, value in (("spot", spot), ("strike", strike), ("rate", rate), ("div", div)):
        if not math.isfinite(value):
            raise ConfigError(f"{label} must be a finite number, got {value!r}")
    if spot <= 0 or strike <= 0:
        raise ConfigError(f"spot and strike must be positive, got spot={spot:g} strike={strike:g}")
    if not math.isfinite(price):
        raise ImpliedVolError(f"the {name} price must be a finite number, got {price!r}")
    if not math.isfinite(t) or t <= 0:
        raise ImpliedVolError(
            f"no volatility fits a {name} price with t <= 0 (got t={t:g} years): "
            "at expiry an option is worth its intrinsic value whatever the volatility"
        )
    forward_spot, forward_strike = spot * math.exp(-div * t), strike * math.exp(-rate * t)
    if call:
        floor, ceiling, ceiling_name = max(forward_spot - forward_strike, 0.0), forward_spot, "spot"
    else:
        floor, ceiling = max(forward_strike - forward_spot, 0.0), forward_strike
        ceiling_name = "strike"
    if price <= floor:
        raise ImpliedVolError(
            f"the {name} price {price:.6g} is at or below its discounted intrinsic value "
            f"{floor:.6g}: no volatility fits (a price must carry some time value)"
        )
    if price >= ceiling:
        raise ImpliedVolError(
            f"the {name} price {price:.6g} is at or above the no-arbitrage bound {ceiling:.6g} "
            f"(the discounted {ceiling_name}): no volatility fits"
        )
    return floor


def _solve(
    args: tuple[bool, float, float, float, float, float], target: float, low: float, high: float
) -> float:
    """Safeguarded Newton on log price inside ``[low, high]``, where the root is bracketed."""
    log_target = math.log(target)
    t, spot = args[3], args[1]
    # Brenner-Subrahmanyam's at-the-money guess, kept inside the bracket.
    guess = math.sqrt(2.0 * math.pi / t) * target / spot
    vol = guess if low < guess < high else 0.5 * (low + high)
    for _ in range(200):
        model, vega = _scalar_price_vega(vol, *args)
        if model == target:
            return vol
        if model > target:
            high = vol
        else:
            low = vol
        candidate = math.nan
        if model > 0.0 and vega > 0.0:
            candidate = vol - (math.log(model) - log_target) * model / vega
        if not low < candidate < high:
            candidate = 0.5 * (low + high)
        if abs(candidate - vol) <= 1e-14 * vol or high - low <= 1e-15 * high:
            return candidate
        vol = candidate
    return 0.5 * (low + high)


def _inputs(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike,
    div: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, bool]:
    """The arguments as broadcast float arrays, checked; and whether all were scalars."""
    named = {"spot": spot, "strike": strike, "t": t, "vol": vol, "rate": rate, "div": div}
    arrays: dict[str, FloatArray] = {}
    for label, raw in named.items():
        try:
            arrays[label] = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{label} must be a number or an array of numbers, got {raw!r}"
            ) from None
        bad = ~np.isfinite(arrays[label])
        if bad.any():
            raise ConfigError(f"{label} must be finite, got {arrays[label][bad].flat[0]!r}")
    for label, floor_ok, rule in (
        ("spot", False, "positive"),
        ("strike", False, "positive"),
        ("t", True, ">= 0 (years to expiry)"),
        ("vol", True, ">= 0 (a decimal: 0.2 is 20%)"),
    ):
        values = arrays[label]
        bad = values < 0 if floor_ok else values <= 0
        if bad.any():
            raise ConfigError(f"{label} must be {rule}, got {values[bad].flat[0]:g}")
    scalar = all(a.ndim == 0 for a in arrays.values())
    try:
        s, k, tt, v, r, q = np.broadcast_arrays(*arrays.values())
    except ValueError:
        shapes = ", ".join(f"{label} {a.shape}" for label, a in arrays.items())
        raise ConfigError(f"the option inputs' shapes do not broadcast: {shapes}") from None
    return s, k, tt, v, r, q, scalar


def _terms(
    s: FloatArray, k: FloatArray, t: FloatArray, v: FloatArray, r: FloatArray, q: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """d1, d2, vol*sqrt(t) and the two discount factors; d = +-inf (0 at the forward) when vol*sqrt(t) = 0."""
    sd = v * np.sqrt(t)
    moneyness = np.log(s / k) + (r - q) * t
    live = sd > 0
    safe_sd = np.where(live, sd, 1.0)
    limit = np.where(moneyness > 0, np.inf, np.where(moneyness < 0, -np.inf, 0.0))
    d1 = np.where(live, (moneyness + 0.5 * sd * sd) / safe_sd, limit)
    d2 = d1 - sd
    return d1, d2, sd, np.exp(-q * t), np.exp(-r * t)


def _sided_cdfs(call: bool, d1: FloatArray, d2: FloatArray) -> tuple[FloatArray, FloatArray]:
    """N(d1), N(d2) for a call; N(-d1), N(-d2) for a put: each once, in its accurate tail."""
    if call:
        return _norm_cdf(d1), _norm_cdf(d2)
    return _norm_cdf(-d1), _norm_cdf(-d2)


def _value(
    call: bool,
    s: FloatArray,
    k: FloatArray,
    n1: FloatArray,
    n2: FloatArray,
    dq: FloatArray,
    dr: FloatArray,
) -> FloatArray:
    """The price from the sided CDFs of :func:`_sided_cdfs`."""
    value = s * dq * n1 - k * dr * n2 if call else k * dr * n2 - s * dq * n1
    # The difference of two nearly equal terms can round a hair below zero.
    return np.maximum(value, 0.0)


def _norm_cdf(x: FloatArray) -> FloatArray:
    """The standard normal CDF through erfc (exact in the lower tail, unlike 1 + erf)."""
    return 0.5 * np.asarray(_erfc_ufunc(-x / _SQRT2), dtype=np.float64)


def _out(values: FloatArray, scalar: bool) -> FloatOrArray:
    return float(values) if scalar else values


def _scalar_price_vega(
    vol: float, call: bool, spot: float, strike: float, t: float, rate: float, div: float
) -> tuple[float, float]:
    """Price and vega of one option in plain floats: the implied-vol solver's inner loop.

    The same formula as :func:`price` without numpy's per-call overhead (a test
    holds the two equal).
    """
    sd = vol * math.sqrt(t)
    moneyness = math.log(spot / strike) + (rate - div) * t
    if sd > 0.0:
        d1 = (moneyness + 0.5 * sd * sd) / sd
    else:
        d1 = math.inf if moneyness > 0 else -math.inf if moneyness < 0 else 0.0
    d2 = d1 - sd
    dq, dr = math.exp(-div * t), math.exp(-rate * t)
    if call:
        value = spot * dq * 0.5 * math.erfc(-d1 / _SQRT2) - strike * dr * 0.5 * math.erfc(
            -d2 / _SQRT2
        )
    else:
        value = strike * dr * 0.5 * math.erfc(d2 / _SQRT2) - spot * dq * 0.5 * math.erfc(
            d1 / _SQRT2
        )
    vega = spot * dq * _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1) * math.sqrt(t)
    return max(value, 0.0), vega
