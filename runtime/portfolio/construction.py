"""Portfolio construction: a shrunk covariance and long-only weights of a universe.

Pure numpy (the runtime carries no solver library):

* :func:`ledoit_wolf` — the Ledoit-Wolf (2004) shrinkage of the sample covariance
  towards the *scaled identity* ``mu * I`` (``mu`` = mean sample variance), the
  target and the formula of ``sklearn.covariance.LedoitWolf`` (checked in the tests).
* :func:`weights` — ``equal``, ``inverse_vol``, ``risk_parity`` (equal risk
  contributions by cyclical coordinate descent), ``min_variance`` and
  ``mean_variance`` (accelerated projected gradient), all long-only, each name at
  most ``cap``, the weights summing to the invested budget ``1 - cash_reserve``.
* :func:`risk_contributions`, :func:`portfolio_vol` and the point-in-time
  :func:`trailing_returns` (rows up to ``t`` only).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from invest.runtime.errors import ConfigError, DataError

FloatArray = npt.NDArray[np.float64]
Method = Literal["equal", "inverse_vol", "risk_parity", "min_variance", "mean_variance"]
METHODS: tuple[str, ...] = get_args(Method)

#: Risk parity stops when every share of the variance is within this of 1/n.
_RP_TOL = 1e-10
#: The projected gradient stops when a step moves no weight by more than this.
_PG_TOL = 1e-12
_MAX_ITER = 200_000


def ledoit_wolf(returns: FloatArray) -> tuple[FloatArray, float]:
    """The Ledoit-Wolf shrunk covariance of ``returns`` (rows = periods) and its shrinkage.

    ``(1 - s) * S + s * mu * I`` with ``S`` the sample covariance of the demeaned
    returns divided by ``n`` (not ``n - 1``), ``mu = trace(S) / p`` and
    ``s = min(b2, d2) / d2`` where ``d2 = ||S - mu I||_F^2 / p`` and
    ``b2 = sum_k ||x_k x_k' - S||_F^2 / (n^2 p)`` (Ledoit & Wolf 2004, lemma 3.4),
    the definition sklearn's ``LedoitWolf`` uses.
    """
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise DataError(f"ledoit_wolf needs a (periods x names) array of >= 2 rows, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise DataError("ledoit_wolf: the returns hold NaN or inf; drop or fill the gaps first")
    n, p = x.shape
    x = x - x.mean(axis=0)
    s = x.T @ x / n
    mu = float(np.trace(s)) / p
    d2 = float(np.sum((s - mu * np.eye(p)) ** 2)) / p
    # sum_k ||x_k x_k'||^2 = sum_k ||x_k||^4, and sum_k x_k x_k' = n S.
    b2 = (float(np.sum(np.sum(x * x, axis=1) ** 2)) / n - float(np.sum(s * s))) / (n * p)
    shrinkage = 0.0 if d2 == 0.0 else min(b2, d2) / d2
    return (1.0 - shrinkage) * s + shrinkage * mu * np.eye(p), shrinkage


def portfolio_vol(w: FloatArray, cov: FloatArray) -> float:
    """The volatility ``sqrt(w' cov w)`` (per period of ``cov``)."""
    return float(np.sqrt(max(float(w @ cov @ w), 0.0)))


def risk_contributions(w: FloatArray, cov: FloatArray) -> FloatArray:
    """Each name's contribution ``w_i (cov w)_i / vol`` to the volatility; they sum to it."""
    vol = portfolio_vol(w, cov)
    if vol == 0.0:
        return np.zeros_like(np.asarray(w, dtype=np.float64))
    return np.asarray(w * (cov @ w) / vol, dtype=np.float64)


def trailing_returns(closes: FloatArray, t: int, lookback: int) -> FloatArray:
    """Simple returns of the ``lookback`` sessions ending at row ``t``: rows ``<= t`` only."""
    c = np.asarray(closes, dtype=np.float64)
    if c.ndim != 2:
        raise DataError(f"trailing_returns needs a (sessions x names) array, got {c.shape}")
    if lookback < 2:
        raise ConfigError(f"the lookback must be at least 2 sessions, got {lookback}")
    if not 0 <= t < len(c):
        raise DataError(f"row {t} is outside the {len(c)} sessions of the closes")
    if t < lookback:
        raise DataError(
            f"{lookback} sessions of returns need {lookback + 1} closes up to row {t}; "
            f"there are {t + 1}: shorten the lookback or pick a later date"
        )
    window = c[t - lookback : t + 1]
    bad = np.flatnonzero(~np.all(np.isfinite(window) & (window > 0), axis=0))
    if bad.size:
        raise DataError(
            f"column(s) {bad.tolist()} miss a positive close in the {lookback}-session window"
        )
    return np.asarray(window[1:] / window[:-1] - 1.0, dtype=np.float64)


def weights(
    method: str,
    cov: FloatArray,
    *,
    scores: FloatArray | None = None,
    cap: float = 1.0,
    cash_reserve: float = 0.0,
    risk_aversion: float = 1.0,
) -> FloatArray:
    """Long-only weights of ``method`` summing to ``1 - cash_reserve``, each at most ``cap``.

    ``mean_variance`` maximises ``scores' w - risk_aversion / 2 * w' cov w`` (``scores``
    are expected returns in the units of ``cov``); ``min_variance`` minimises ``w' cov w``.
    ``inverse_vol`` and ``risk_parity`` are scaled to the budget, and a name over the cap
    is cut to it with the excess spread over the others in proportion (their risk
    contributions are then no longer equal).
    """
    sigma = _check_cov(cov)
    n = len(sigma)
    budget = 1.0 - cash_reserve
    if not 0.0 <= cash_reserve < 1.0:
        raise ConfigError(f"the cash reserve must be in [0, 1), got {cash_reserve:g}")
    if not 0.0 < cap <= 1.0:
        raise ConfigError(f"the cap must be in (0, 1], got {cap:g}")
    if cap * n < budget - 1e-12:
        raise ConfigError(
            f"cap {cap:g} x {n} names = {cap * n:g} < the invested budget {budget:g}: "
            f"raise the cap to at least {budget / n:.4g}, add names or keep more cash"
        )
    if method == "equal":
        return np.full(n, budget / n)
    if method == "inverse_vol":
        return _capped(1.0 / np.sqrt(np.diag(sigma)), cap, budget)
    if method == "risk_parity":
        return _capped(_equal_risk(sigma), cap, budget)
    if method == "min_variance":
        return _projected_gradient(sigma, np.zeros(n), cap, budget)
    if method == "mean_variance":
        if scores is None:
            raise ConfigError("mean_variance needs scores (an expected return per name)")
        mu = np.asarray(scores, dtype=np.float64)
        if mu.shape != (n,) or not np.all(np.isfinite(mu)):
            raise ConfigError(f"scores must be {n} finite numbers, one per name, got {mu.shape}")
        if not risk_aversion > 0.0:
            raise ConfigError(f"the risk aversion must be positive, got {risk_aversion:g}")
        return _projected_gradient(risk_aversion * sigma, mu, cap, budget)
    raise ConfigError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")


def _check_cov(cov: FloatArray) -> FloatArray:
    sigma = np.asarray(cov, dtype=np.float64)
    if sigma.ndim != 2 or sigma.shape[0] != sigma.shape[1] or sigma.shape[0] == 0:
        raise ConfigError(f"the covariance must be a square (n x n) matrix, got {sigma.shape}")
    if not np.all(np.isfinite(sigma)):
        raise ConfigError("the covariance holds NaN or inf")
    if not np.allclose(sigma, sigma.T, rtol=1e-10, atol=1e-14):
        raise ConfigError("the covariance is not symmetric")
    if np.any(np.diag(sigma) <= 0.0):
        raise ConfigError("every name needs a positive variance (a constant price has none)")
    return np.asarray((sigma + sigma.T) / 2.0, dtype=np.float64)


def _capped(raw: FloatArray, cap: float, budget: float) -> FloatArray:
    """``raw`` scaled to ``budget``; names over ``cap`` cut to it, the rest rescaled."""
    w = raw / raw.sum() * budget
    fixed = np.zeros(len(w), dtype=bool)
    while np.any(w[~fixed] > cap + 1e-15):
        fixed |= w > cap
        free = ~fixed
        w[fixed] = cap
        w[free] = raw[free] / raw[free].sum() * (budget - cap * fixed.sum())
    return np.asarray(w, dtype=np.float64)


def _equal_risk(sigma: FloatArray) -> FloatArray:
    """Equal risk contributions by cyclical coordinate descent, weights summing to 1.

    Griveau-Billion, Richard & Roncalli (2013): minimise ``y' S y / 2 - sum log(y_i) / n``
    one coordinate at a time (each step is the positive root of a quadratic), whose
    minimum has ``y_i (S y)_i = 1/n`` for all i; ``y / sum(y)`` then has equal shares.
    Chosen over Newton because each step is closed form and stays positive.
    """
    n = len(sigma)
    diag = np.diag(sigma)
    y = 1.0 / np.sqrt(diag) / n
    sy = sigma @ y
    for _ in range(_MAX_ITER // 10):
        for i in range(n):
            c = sy[i] - diag[i] * y[i]
            new = (-c + np.sqrt(c * c + 4.0 * diag[i] / n)) / (2.0 * diag[i])
            sy += sigma[:, i] * (new - y[i])
            y[i] = new
        shares = y * sy / float(y @ sy)
        if np.max(np.abs(shares - 1.0 / n)) < _RP_TOL:
            return np.asarray(y / y.sum(), dtype=np.float64)
    raise DataError("risk parity did not converge; the covariance may be near singular")


def _project(v: FloatArray, cap: float, budget: float) -> FloatArray:
    """The Euclidean projection of ``v`` on ``{0 <= w <= cap, sum w = budget}``.

    ``w = clip(v - tau, 0, cap)``; ``sum w`` is piecewise linear and non-increasing in
    ``tau`` with kinks at ``v_i`` and ``v_i - cap``, so ``tau`` is interpolated
    exactly between the two kinks around ``budget``.
    """
    kinks = np.sort(np.concatenate([v, v - cap]))
    sums = np.clip(v[None, :] - kinks[:, None], 0.0, cap).sum(axis=1)
    tau = float(np.interp(budget, sums[::-1], kinks[::-1]))
    return np.asarray(np.clip(v - tau, 0.0, cap), dtype=np.float64)


def _projected_gradient(q: FloatArray, mu: FloatArray, cap: float, budget: float) -> FloatArray:
    """Minimise ``w' q w / 2 - mu' w`` on the capped simplex (FISTA with restarts).

    Written by hand because the runtime carries no solver library; the feasible set's
    projection is exact (:func:`_project`), so every iterate meets the constraints.
    The step is ``1 / L`` with ``L`` the largest eigenvalue of ``q``.
    """
    n = len(q)
    lipschitz = float(np.linalg.eigvalsh(q)[-1])
    step = 1.0 / lipschitz
    w = _project(np.full(n, budget / n), cap, budget)
    z, t = w.copy(), 1.0
    scale = max(budget, 1e-300)
    for _ in range(_MAX_ITER):
        new = _project(z - step * (q @ z - mu), cap, budget)
        if np.max(np.abs(new - w)) < _PG_TOL * scale:
            return new
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        momentum = (new - w) * ((t - 1.0) / t_next)
        # Restart when the momentum points uphill (O'Donoghue & Candes 2015).
        if float((z - new) @ (new - w)) > 0.0:
            t_next, momentum = 1.0, np.zeros(n)
        z, w, t = new + momentum, new, t_next
    raise DataError("the weights solver did not converge; the covariance may be near singular")
