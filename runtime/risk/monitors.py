"""Risk monitors as pure functions: VaR, CVaR, concentration, drawdown, and the VaR limit.

Conventions (every function here):

* ``returns`` are 1-day simple returns of the book (a fraction of equity; a P&L series
  divided by equity works the same). VaR and CVaR are reported as **positive numbers
  for a loss**: ``0.031`` means "a 3.1% loss of equity". If even the tail is a gain they
  come out negative; nothing is clipped at zero.
* ``level`` is the confidence, ``0.95`` or ``0.99``; the tail holds ``1 - level``.
* Historical VaR is the empirical quantile by the **inverse of the empirical CDF**
  (Hyndman & Fan type 1, numpy's ``method="inverted_cdf"``): with the returns sorted
  ascending, r(1) <= ... <= r(n), and k = ceil(n (1 - level)), VaR = -r(k). That is a
  lower order statistic: an observed return, never an interpolation between two.
  Historical CVaR is the mean loss of those k worst returns (r(1) .. r(k), the VaR one
  included), so CVaR >= VaR always. This is the plain discrete tail mean, not the
  Rockafellar-Uryasev form that weights r(k) fractionally when n (1 - level) is not whole.
* Parametric VaR/CVaR assume a normal 1-day return with the sample mean and the sample
  standard deviation (ddof=1): VaR = -mu + sigma z, CVaR = -mu + sigma phi(z) / (1 - level),
  with z the standard normal quantile at ``level``.
* Drawdowns are fractions <= 0 (``equity / peak - 1``), as in ``rules.drawdown_brake``.

Nothing here reads a clock, a file or the network; numpy and the standard library only
(the runtime carries no scipy: the normal quantile is hand-written below).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from invest.runtime.domain import Clamp

FloatArray = npt.NDArray[np.float64]

# Acklam's rational approximation of the inverse normal CDF.
# P. J. Acklam, "An algorithm for computing the inverse normal cumulative distribution
# function" (2003; archived at web.archive.org/web/2007*/home.online.no/~pjacklam/notes/invnorm).
# Relative error below 1.15e-9 on its own; one Halley step on math.erfc (below) takes it
# to double precision. Hand-written because scipy is not in the runtime and this is the
# only special function the monitors need.
_A = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_B = (
    -5.447609879822406e01,
    1.615858368580409e02,
    -1.556989798598866e02,
    6.680131188771972e01,
    -1.328068155288572e01,
)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_D = (
    7.784695709041462e-03,
    3.224671290700398e-01,
    2.445134137142996e00,
    3.754408661907416e00,
)
_P_LOW = 0.02425
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
# Bisection stops when the bracket on the buy's weight is narrower than this (0.01%).
_WEIGHT_TOL = 1e-4


def norm_ppf(p: float) -> float:
    """The standard normal quantile Phi^-1(p), for 0 < p < 1 (Acklam + one Halley step)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"normal quantile needs 0 < p < 1, got {p!r}")
    if p > 0.5:
        # By symmetry. 1 - p is exact in floats for p in [0.5, 1] (Sterbenz), and the
        # refinement below then works on a small p, where Phi(x) - p keeps its digits.
        return -norm_ppf(1.0 - p)
    if p < _P_LOW:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    else:
        q = p - 0.5
        r = q * q
        x = (
            (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
            * q
            / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
        )
    # Halley refinement (Acklam's note): e = Phi(x) - p, with Phi from the libm erfc.
    e = 0.5 * math.erfc(-x / _SQRT2) - p
    u = e * _SQRT2PI * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


def norm_pdf(x: float) -> float:
    """The standard normal density phi(x)."""
    return math.exp(-x * x / 2.0) / _SQRT2PI


def _series(returns: Sequence[float] | FloatArray, what: str = "returns") -> FloatArray:
    arr = np.asarray(returns, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D series, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contain NaN or inf: drop or fill those days first")
    return arr


def _check_level(level: float) -> None:
    if not 0.5 <= level < 1.0:
        raise ValueError(f"VaR level must be in [0.5, 1), e.g. 0.95 or 0.99; got {level!r}")


def _tail_count(n: int, level: float) -> int:
    # The small tolerance keeps float noise from adding an observation:
    # 100 * (1 - 0.95) is 5.000000000000004, whose ceil would be 6, not 5.
    return max(1, math.ceil(n * (1.0 - level) - 1e-9))


def _tail(returns: FloatArray, level: float) -> FloatArray:
    """The k worst returns, ascending (k = ceil(n (1 - level)))."""
    k = _tail_count(returns.size, level)
    return np.sort(np.partition(returns, k - 1)[:k])


def historical_var(returns: Sequence[float] | FloatArray, level: float) -> float:
    """1-day historical VaR (a positive loss) by the inverse empirical CDF: -r(k)."""
    _check_level(level)
    return float(-_tail(_series(returns), level)[-1])


def historical_cvar(returns: Sequence[float] | FloatArray, level: float) -> float:
    """1-day historical CVaR (expected shortfall): the mean loss of the k worst returns."""
    _check_level(level)
    return float(-_tail(_series(returns), level).mean())


def _mu_sigma(returns: Sequence[float] | FloatArray) -> tuple[float, float]:
    arr = _series(returns)
    if arr.size < 2:
        raise ValueError("parametric VaR needs at least 2 returns for a standard deviation")
    return float(arr.mean()), float(arr.std(ddof=1))


def parametric_var(returns: Sequence[float] | FloatArray, level: float) -> float:
    """1-day normal VaR: -mu + sigma * Phi^-1(level), from the sample mean and std."""
    _check_level(level)
    mu, sigma = _mu_sigma(returns)
    return -mu + sigma * norm_ppf(level)


def parametric_cvar(returns: Sequence[float] | FloatArray, level: float) -> float:
    """1-day normal CVaR: -mu + sigma * phi(Phi^-1(level)) / (1 - level)."""
    _check_level(level)
    mu, sigma = _mu_sigma(returns)
    return -mu + sigma * norm_pdf(norm_ppf(level)) / (1.0 - level)


def portfolio_returns(
    weights: Sequence[float] | FloatArray, asset_returns: Sequence[Sequence[float]] | FloatArray
) -> FloatArray:
    """The book's daily returns: ``asset_returns`` (days x assets) times ``weights``.

    Weights are fractions of equity; what they leave out is cash at a zero return.
    """
    w = np.asarray(weights, dtype=np.float64)
    r = np.asarray(asset_returns, dtype=np.float64)
    if w.ndim != 1 or r.ndim != 2 or r.shape[1] != w.size:
        raise ValueError(
            f"asset_returns must be days x assets matching {w.size} weights, got {r.shape}"
        )
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(r))):
        raise ValueError("weights or asset returns contain NaN or inf: fill those days first")
    out: FloatArray = r @ w
    return out


def concentration(weights: Sequence[float] | FloatArray) -> tuple[float, float, float]:
    """(largest, top3, herfindahl) of a long book.

    ``largest`` and ``top3`` are fractions of equity, as given. The Herfindahl index is
    taken on the shares of the invested total (sum of squared shares), so cash does not
    pass for diversification: n equal names give 1/n whatever the cash. An empty book
    gives (0, 0, 0).
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"weights must be a 1-D list, got shape {w.shape}")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("concentration is for long weights: each must be finite and >= 0")
    total = float(w.sum())
    if total <= 0.0:
        return 0.0, 0.0, 0.0
    desc = np.sort(w)[::-1]
    shares = w / total
    return float(desc[0]), float(desc[:3].sum()), float(np.sum(shares * shares))


def book_risk(
    weights: Sequence[float] | FloatArray, asset_returns: Sequence[Sequence[float]] | FloatArray
) -> dict[str, float]:
    """The monitors of one book: historical 1-day VaR and CVaR at 95% and 99%, concentration.

    ``weights`` (fractions of equity) and ``asset_returns`` (days x assets) as in
    :func:`portfolio_returns`. One sort of the book's returns serves all four tail
    figures, which equal :func:`historical_var` and :func:`historical_cvar`. Keys:
    var95, var99, cvar95, cvar99, largest, top3, hhi.
    """
    rets = np.sort(portfolio_returns(weights, asset_returns))
    if rets.size == 0:
        raise ValueError("book_risk needs at least one day of returns")
    out: dict[str, float] = {}
    for level, tag in ((0.95, "95"), (0.99, "99")):
        k = _tail_count(rets.size, level)
        out["var" + tag] = float(-rets[k - 1])
        out["cvar" + tag] = float(-rets[:k].mean())
    out["largest"], out["top3"], out["hhi"] = concentration(weights)
    return out


def drawdown(equity: Sequence[float] | FloatArray) -> tuple[float, float]:
    """(current, max) drawdown of an equity curve, as fractions <= 0 from the running peak.

    ``max`` is the deepest one (the most negative).
    """
    eq = _series(equity, "equity")
    if np.any(eq <= 0):
        raise ValueError("equity must be > 0 on every day to measure a drawdown")
    dd = eq / np.maximum.accumulate(eq) - 1.0
    return float(dd[-1]), float(dd.min())


def var_limit_clamp(
    weights: Mapping[str, float],
    symbol: str,
    buy_weight: float,
    asset_returns: Mapping[str, Sequence[float] | FloatArray],
    limit: float,
    level: float = 0.99,
) -> tuple[float, Clamp | None]:
    """The largest part of a buy that keeps the book's historical VaR within ``limit``.

    ``weights`` are the book's current weights (fractions of equity), ``buy_weight`` the
    weight the buy adds to ``symbol``, ``asset_returns`` each symbol's trailing daily
    returns (equal lengths, same days), ``limit`` the VaR cap as a fraction of equity.
    Returns (the allowed buy weight, a Clamp with the reason or None if untouched).

    Bisection on the buy's weight keeps the invariant "the low end is within the limit".
    Historical VaR is continuous in the weight but not always monotone, so the answer is
    a feasible weight at the edge of the limit, the largest one on the bisected bracket.
    """
    return _limit_clamp(
        historical_var, "", weights, symbol, buy_weight, asset_returns, limit, level
    )


def parametric_var_limit_clamp(
    weights: Mapping[str, float],
    symbol: str,
    buy_weight: float,
    asset_returns: Mapping[str, Sequence[float] | FloatArray],
    limit: float,
    level: float = 0.99,
) -> tuple[float, Clamp | None]:
    """:func:`var_limit_clamp` with the normal (parametric) VaR of the book.

    Here the VaR, -mu(x) + z sigma(x), is convex in the buy's weight x (mu is linear,
    sigma a norm of a linear map), so the weights within the limit form an interval
    holding 0 and the bisection finds its right end: the largest allowed buy.
    """
    return _limit_clamp(
        parametric_var, "normal ", weights, symbol, buy_weight, asset_returns, limit, level
    )


def _limit_clamp(
    var: Callable[[FloatArray, float], float],
    kind: str,
    weights: Mapping[str, float],
    symbol: str,
    buy_weight: float,
    asset_returns: Mapping[str, Sequence[float] | FloatArray],
    limit: float,
    level: float,
) -> tuple[float, Clamp | None]:
    _check_level(level)
    if buy_weight <= 0.0:
        raise ValueError(f"buy_weight must be > 0, got {buy_weight!r}")
    if limit <= 0.0:
        raise ValueError(f"VaR limit must be a positive fraction of equity, got {limit!r}")
    names = sorted(set(weights) | {symbol})
    missing = [s for s in names if s not in asset_returns]
    if missing:
        raise ValueError(f"no trailing returns for {', '.join(missing)}: load them first")
    matrix = np.column_stack([_series(asset_returns[s], f"returns of {s}") for s in names])
    base = np.array([weights.get(s, 0.0) for s in names], dtype=np.float64)
    col = names.index(symbol)
    pct = round(level * 100)

    def var_at(x: float) -> float:
        w = base.copy()
        w[col] += x
        return var(portfolio_returns(w, matrix), level)

    full = var_at(buy_weight)
    if full <= limit:
        return buy_weight, None
    head = f"{kind}VaR {pct}% 1-day would be {full:.2%} > {limit:.2%}"
    now = var_at(0.0)
    if now > limit:
        reason = f"{head}: buy of {buy_weight:.1%} blocked (VaR already {now:.2%} without it)"
        return 0.0, Clamp("var_limit", symbol, reason)
    lo, hi = 0.0, buy_weight
    while hi - lo > _WEIGHT_TOL:
        mid = (lo + hi) / 2.0
        if var_at(mid) <= limit:
            lo = mid
        else:
            hi = mid
    reason = f"{head}: buy shrunk from {buy_weight:.1%} to {lo:.1%} (VaR {var_at(lo):.2%})"
    return lo, Clamp("var_limit", symbol, reason)
