"""Sizing: how much of the book is invested, the risk engine's step 4 (pure functions).

Each rule takes target weights (of equity, after the brake, the caps and the mandate)
and returns the new weights and the :class:`Clamp` s that say what changed and by
how much (rule names ``vol_target``, ``kelly``, ``fixed_fraction``). None of them
adds a name or lends: a weight only moves within ``[0, cap]`` and the book within
the invested budget ``1 - min_cash``.

* :func:`vol_target` scales the whole book so that its expected annual volatility,
  from the Ledoit-Wolf covariance (``construction.ledoit_wolf``) of the trailing
  daily returns of the held and target names, meets the target: down when the book
  is riskier, up (to the budget and the per-name cap) when it is calmer.
* :func:`kelly` cuts each name to its fractional Kelly weight.
* :func:`fixed_fraction` cuts each name to a fixed share of equity.

:func:`size` reads the returns point in time (rows ``t - lookback .. t`` of the
closes, never a later row) and applies the configured rule. Returns are simple
daily returns; annual figures use 252 sessions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from invest.runtime.config.portfolio import PortfolioConfig
from invest.runtime.domain import Clamp
from invest.runtime.errors import DataError
from invest.runtime.portfolio.construction import (
    FloatArray,
    ledoit_wolf,
    portfolio_vol,
    trailing_returns,
)

YEAR = 252
#: A scale this close to 1 changes no weight worth a clamp.
_TOL = 1e-9


def window_returns(close: FloatArray, cols: Sequence[int], t: int, lookback: int) -> FloatArray:
    """Daily returns of columns ``cols`` over the ``lookback`` sessions ending at row ``t``.

    Only rows ``t - lookback .. t`` are read (point in time). Raises :class:`DataError`
    when there are fewer rows or a close in the window is missing or not positive.
    """
    if t < lookback:
        raise DataError(
            f"{lookback} sessions of returns need {lookback + 1} rows, there are {t + 1}"
        )
    return trailing_returns(close[t - lookback : t + 1, list(cols)], lookback, lookback)


def vol_target(
    targets: Mapping[str, float],
    names: Sequence[str],
    returns: FloatArray,
    *,
    target_vol: float,
    budget: float,
    cap: float,
    allow_up: bool = True,
) -> tuple[dict[str, float], list[Clamp]]:
    """The book scaled to ``target_vol`` (annual), never above ``budget`` nor a name above ``cap``.

    ``names`` label the columns of ``returns`` (the held and target names; a held name
    without a target weighs 0). The scale is ``target_vol / vol`` with ``vol`` the
    book's annual volatility ``sqrt(252 w' S w)``, ``S`` the Ledoit-Wolf covariance;
    it is at most ``budget / exposure`` (no leverage) and ``cap / largest weight``, and
    at most 1 when ``allow_up`` is False (the drawdown brake is engaged: never undo it).
    """
    out = dict(targets)
    w = np.array([targets.get(s, 0.0) for s in names], dtype=np.float64)
    total = float(w.sum())
    if total <= 0.0:
        return out, []
    cov = ledoit_wolf(returns)[0] * YEAR
    vol = portfolio_vol(w, cov)
    if vol <= 0.0:
        return out, []
    ceiling = min(budget / total, cap / float(w.max()))
    if not allow_up:
        ceiling = min(ceiling, 1.0)
    scale = min(target_vol / vol, ceiling)
    if abs(scale - 1.0) < _TOL:
        return out, []
    limit = ""
    if scale == ceiling and target_vol / vol > ceiling:
        limit = " (no further: " + (
            "the drawdown brake is engaged)"
            if not allow_up and ceiling == 1.0
            else f"the budget {budget:.0%} and the {cap:.0%} cap per name)"
        )
    reason = (
        f"book vol {vol:.1%} vs target {target_vol:.1%} ({len(returns)} sessions, "
        f"Ledoit-Wolf): exposure {total:.1%} x{scale:.3f} = {total * scale:.1%}{limit}"
    )
    return {s: x * scale for s, x in out.items()}, [Clamp("vol_target", "*", reason)]


def kelly(
    targets: Mapping[str, float],
    names: Sequence[str],
    returns: FloatArray,
    *,
    fraction: float,
    cap: float,
) -> tuple[dict[str, float], list[Clamp]]:
    """Each name cut to its fractional Kelly weight ``clip(fraction * mu / sigma^2, 0, cap)``.

    ``mu`` is the sample mean and ``sigma^2`` the sample variance (ddof 1) of the name's
    daily returns in ``returns`` (column ``i`` is ``names[i]``), the growth-optimal
    fraction of a single asset with log-normal returns and no risk-free rate (Kelly
    1956; Thorp 2006); the ratio is the same in daily or annual units. Per name rather
    than the whole book: one name's negative trailing mean would otherwise empty it.

    Fragility: the Kelly weight is linear in ``mu``, whose standard error over ``n``
    sessions is ``sigma / sqrt(n)``: on 126 sessions of a 30%-vol stock that is about
    38% a year, larger than most means, so the full Kelly weight swings from 0 to far
    above 1 on noise. The fraction (half Kelly by default, MacLean, Thorp & Ziemba
    2010) and the cap damp that; it remains the noisiest of the three rules.
    """
    out = dict(targets)
    clamps: list[Clamp] = []
    mu = returns.mean(axis=0)
    var = returns.var(axis=0, ddof=1)
    n = len(returns)
    for i, s in enumerate(names):
        w = out.get(s, 0.0)
        if w <= 0.0 or not var[i] > 0.0:
            continue
        f = min(max(fraction * float(mu[i]) / float(var[i]), 0.0), cap)
        if w > f + _TOL:
            clamps.append(
                Clamp(
                    "kelly",
                    s,
                    f"weight {w:.1%} cut to {f:.1%}: {fraction:g} x Kelly mu/sigma^2 = "
                    f"{fraction:g} x {float(mu[i]) * YEAR:.1%} / {float(var[i]) * YEAR:.4f} "
                    f"(annual, {n} sessions), at most {cap:.0%}",
                )
            )
            out[s] = f
    return out, clamps


def fixed_fraction(
    targets: Mapping[str, float], *, fraction: float
) -> tuple[dict[str, float], list[Clamp]]:
    """Each name cut to at most ``fraction`` of equity; the rest stays in cash."""
    out = dict(targets)
    clamps: list[Clamp] = []
    for s, w in targets.items():
        if w > fraction + _TOL:
            clamps.append(
                Clamp(
                    "fixed_fraction",
                    s,
                    f"weight {w:.1%} cut to the fixed fraction {fraction:.1%} of equity",
                )
            )
            out[s] = fraction
    return out, clamps


def size(
    cfg: PortfolioConfig,
    targets: Mapping[str, float],
    close: FloatArray,
    col: Mapping[str, int],
    t: int,
    held: Iterable[str],
    *,
    budget: float,
    cap: float,
    allow_up: bool = True,
) -> tuple[dict[str, float], list[Clamp]]:
    """``cfg.sizing`` applied to ``targets`` at row ``t`` of ``close`` (columns by ``col``).

    vol_target reads ``cfg.vol_lookback`` sessions of the held and target names, kelly
    ``cfg.lookback`` sessions of each target name. When the returns cannot be read (too
    few rows, a missing close in the window) the rule is not applied to what they cover
    and a clamp says so: sizing never blocks a cycle.
    """
    if cfg.sizing == "none" or not targets:
        return dict(targets), []
    if cfg.sizing == "fixed_fraction":
        return fixed_fraction(targets, fraction=cfg.fixed_fraction)
    if cfg.sizing == "vol_target":
        names = sorted({*targets, *(s for s in held if s in col)})
        try:
            rets = window_returns(close, [col[s] for s in names], t, cfg.vol_lookback)
        except DataError as e:
            return dict(targets), [Clamp("vol_target", "*", f"not applied: {e}")]
        return vol_target(
            targets,
            names,
            rets,
            target_vol=cfg.target_vol,
            budget=budget,
            cap=cap,
            allow_up=allow_up,
        )
    out, clamps = dict(targets), []
    for s in sorted(targets):
        try:
            rets = window_returns(close, [col[s]], t, cfg.lookback)
        except DataError as e:
            clamps.append(Clamp("kelly", s, f"not applied: {e}"))
            continue
        one, why = kelly(out, [s], rets, fraction=cfg.kelly_fraction, cap=cfg.kelly_cap)
        out, clamps = one, clamps + why
    return out, clamps
