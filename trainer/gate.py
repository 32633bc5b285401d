"""The promotion gate: on what actually trades, out of sample, and never on a degenerate pack.

Input: one :class:`~invest.runtime.backtest.walkforward.YearReplay` per walk-forward
fold (the fold's test year replayed through the runtime with trend_king, and with
rl_ensemble and hybrid on the fold's own pack). Numpy and the runtime only: this
module never imports torch, so a pack's verdict can be recomputed anywhere.

* :func:`chained_figures`: each series' daily returns chained over the folds, per
  split (``validation``: years up to ``validation_end``; ``test``: later years;
  ``all``): CAGR, Sharpe, max drawdown, total return.
* :func:`year_rows`: the walk-forward table, one row per year with its split.
* :func:`sharpe_diff_ci`: a paired block-bootstrap interval of hybrid's Sharpe
  minus trend_king's on the test years' daily returns.
* :func:`degenerate_checks`: one action on nearly every symbol-day, near-uniform
  probabilities, rl_ensemble (almost) never or always invested in every year,
  hybrid trading exactly like trend_king in every year. Any failure refuses the pack.
* :func:`evaluate`: all of the above against :class:`~invest.trainer.config.PromotionGate`,
  as the manifest's ``promotion`` section.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime.backtest.metrics import YEAR, curve_metrics
from invest.runtime.backtest.robustness import bootstrap_indices
from invest.runtime.backtest.walkforward import SERIES, YearReplay
from invest.runtime.policy.contract import ACTIONS

from .config import PromotionGate

__all__ = [
    "SPLITS",
    "TABLE_COLUMNS",
    "chain",
    "chained_figures",
    "degenerate_checks",
    "evaluate",
    "sharpe",
    "sharpe_diff_ci",
    "split_of",
    "year_rows",
]

FloatArray = npt.NDArray[np.float64]
SPLITS = ("validation", "test", "all")
#: Columns of the walk-forward table (``walk_forward.columns`` in the manifest).
TABLE_COLUMNS = (
    "year",
    "split",
    "trend_king",
    "rl_ensemble",
    "hybrid",
    "equal_weight_bh",
    "index_bh",
)
_TABLE_SERIES = ("trend_king", "rl_ensemble", "hybrid", "equal_weight", "index")


def split_of(year: int, validation_end: int) -> str:
    """``validation`` for years up to ``validation_end``, else ``test``."""
    return "validation" if year <= validation_end else "test"


def _years(replays: Sequence[YearReplay], split: str, validation_end: int) -> list[YearReplay]:
    if split == "all":
        return sorted(replays, key=lambda r: r.year)
    return sorted(
        (r for r in replays if split_of(r.year, validation_end) == split), key=lambda r: r.year
    )


def chain(replays: Sequence[YearReplay], name: str) -> FloatArray | None:
    """Series ``name``'s daily returns over ``replays`` in year order, or None if a year lacks it."""
    parts = [r.returns(name) for r in sorted(replays, key=lambda r: r.year)]
    if not parts or any(p is None for p in parts):
        return None
    return np.concatenate([p for p in parts if p is not None])


def sharpe(returns: FloatArray) -> float:
    """Annualised Sharpe of daily returns (zero risk-free rate, as the backtester's)."""
    if len(returns) < 2:
        return 0.0
    sd = float(np.std(returns, ddof=1))
    return float(np.mean(returns)) / sd * math.sqrt(YEAR) if sd > 0 else 0.0


def _figures(returns: FloatArray) -> dict[str, float]:
    m = curve_metrics(np.concatenate([[1.0], np.cumprod(1.0 + returns)]))
    return {
        "total_return": m.total_return,
        "cagr": m.cagr,
        "sharpe": m.sharpe,
        "max_drawdown": m.max_drawdown,
        "sessions": float(len(returns)),
    }


def chained_figures(
    replays: Sequence[YearReplay], validation_end: int
) -> dict[str, dict[str, dict[str, float] | None]]:
    """``{split: {series: {total_return, cagr, sharpe, max_drawdown, sessions}}}``.

    A series missing from any year of a split (rl_ensemble without a pack) is None
    for that split, as is every series of a split without years. ``max_drawdown`` is
    negative (a fraction), as in the backtester's metrics.
    """
    out: dict[str, dict[str, dict[str, float] | None]] = {}
    for split in SPLITS:
        years = _years(replays, split, validation_end)
        out[split] = {}
        for name in SERIES:
            r = chain(years, name) if years else None
            out[split][name] = _figures(r) if r is not None else None
    return out


def year_rows(replays: Sequence[YearReplay], validation_end: int) -> list[list[Any]]:
    """The walk-forward table's rows (:data:`TABLE_COLUMNS`): total return per series per year."""
    return [
        [r.year, split_of(r.year, validation_end), *(r.total_return(s) for s in _TABLE_SERIES)]
        for r in sorted(replays, key=lambda r: r.year)
    ]


def sharpe_diff_ci(
    a: FloatArray,
    b: FloatArray,
    *,
    block: int = 21,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.90,
) -> dict[str, Any]:
    """Paired block-bootstrap interval of ``sharpe(a) - sharpe(b)``.

    The same circular blocks of sessions (``robustness.bootstrap_indices``) resample
    both series, so their correlation and each one's autocorrelation up to ``block``
    sessions are kept. Seeded: the same inputs give the same interval.

    Returns:
        ``{"estimate", "low", "high", "level", "block", "resamples", "seed", "sessions"}``.

    Raises:
        ValueError: series of different lengths, or fewer than two returns.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"need two paired series of >= 2 returns, got {a.shape} and {b.shape}")
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples)
    batch = 250
    for lo in range(0, resamples, batch):
        hi = min(lo + batch, resamples)
        idx = bootstrap_indices(len(a), hi - lo, min(block, len(a)), rng)
        diffs[lo:hi] = _row_sharpe(a[idx]) - _row_sharpe(b[idx])
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(diffs, [tail, 1.0 - tail])
    return {
        "estimate": sharpe(a) - sharpe(b),
        "low": float(low),
        "high": float(high),
        "level": level,
        "block": block,
        "resamples": resamples,
        "seed": seed,
        "sessions": len(a),
    }


def _row_sharpe(rows: FloatArray) -> FloatArray:
    mean = rows.mean(axis=1)
    sd = rows.std(axis=1, ddof=1)
    out: FloatArray = np.divide(mean * math.sqrt(YEAR), sd, out=np.zeros(len(rows)), where=sd > 0)
    return out


def _check(name: str, value: Any, limit: Any, passed: bool, detail: str) -> dict[str, Any]:
    return {"check": name, "value": value, "limit": limit, "passed": bool(passed), "detail": detail}


def degenerate_checks(replays: Sequence[YearReplay], gate: PromotionGate) -> list[dict[str, Any]]:
    """The degenerate checks over ``replays`` (:func:`evaluate` gives it the test years).

    Each is ``{check, value, limit, passed, detail}``; a check without data (no RL
    replay at all) fails.
    """
    rl = [r for r in replays if r.rl is not None]
    days = sum(r.rl.symbol_days for r in rl if r.rl is not None)
    counts = [sum(r.rl.actions[k] for r in rl if r.rl is not None) for k in range(len(ACTIONS))]
    out = []
    share = max(counts) / days if days else None
    top = ACTIONS[counts.index(max(counts))] if days else None
    out.append(
        _check(
            "one_action",
            _r(share),
            gate.max_action_share,
            share is not None and share <= gate.max_action_share,
            f"the most frequent action ({top}) has the highest mean probability on "
            f"{_pct(share)} of {days} symbol-days (degenerate above {gate.max_action_share:.0%})",
        )
    )
    ent_n = [(r.rl.entropy, r.rl.symbol_days, r.rl.entropy_source) for r in rl if r.rl is not None]
    ent_n = [(e, n, s) for e, n, s in ent_n if e is not None and n > 0]
    ratio = (
        sum(e * n for e, n, _ in ent_n) / sum(n for _, n, _ in ent_n) / math.log(len(ACTIONS))
        if ent_n
        else None
    )
    source = "each policy's" if all(s == "policies" for _, _, s in ent_n) else "the mean's"
    out.append(
        _check(
            "uniform_probabilities",
            _r(ratio),
            gate.max_entropy_ratio,
            ratio is not None and ratio <= gate.max_entropy_ratio,
            f"mean entropy of {source} distribution is {_pct(ratio)} of uniform "
            f"(degenerate above {gate.max_entropy_ratio:.0%})",
        )
    )
    exposure = {
        r.year: r.exposure / r.budget for r in rl if r.exposure is not None and r.budget > 0
    }
    stuck = [y for y, e in exposure.items() if e < gate.min_exposure or e > gate.max_exposure]
    out.append(
        _check(
            "constant_exposure",
            {str(y): _r(e) for y, e in exposure.items()},
            [gate.min_exposure, gate.max_exposure],
            bool(exposure) and len(stuck) < len(exposure),
            f"rl_ensemble's invested share of its investable equity is outside "
            f"[{gate.min_exposure:.0%}, {gate.max_exposure:.0%}] in {len(stuck)} of "
            f"{len(exposure)} years (degenerate when in every year)",
        )
    )
    diffs = {r.year: r.trade_diff for r in rl if r.trade_diff is not None}
    same = [y for y, d in diffs.items() if d == 0]
    out.append(
        _check(
            "hybrid_is_trend_king",
            {str(y): d for y, d in diffs.items()},
            0,
            bool(diffs) and len(same) < len(diffs),
            f"hybrid's trades equal trend_king's in {len(same)} of {len(diffs)} years "
            "(degenerate when in every year: the votes change no decision)",
        )
    )
    return out


def evaluate(replays: Sequence[YearReplay], gate: PromotionGate) -> dict[str, Any]:
    """Apply the gate to the fold replays.

    Returns:
        The manifest's ``promotion`` section: ``passed``, ``rule`` (in words),
        ``values`` (the gated numbers), ``criteria`` and ``degenerate`` (each
        ``{check, value, limit, passed, detail}``), ``sharpe_diff_ci`` (None without
        test years), ``test_years``, ``validation_end`` and ``chained`` (see
        :func:`chained_figures`).
    """
    chained = chained_figures(replays, gate.validation_end)
    test = _years(replays, "test", gate.validation_end)
    figs = chained["test"]
    tk, rl, hy, ew = (figs.get(s) for s in ("trend_king", "rl_ensemble", "hybrid", "equal_weight"))
    criteria: list[dict[str, Any]] = []

    def diff(x: dict[str, float] | None, y: dict[str, float] | None, key: str) -> float | None:
        return None if x is None or y is None else x[key] - y[key]

    def crit(name: str, value: float | None, limit: float, ok: bool, detail: str) -> None:
        criteria.append(_check(name, _r(value), limit, value is not None and ok, detail))

    g = gate
    v = diff(hy, tk, "sharpe")
    crit(
        "hybrid_sharpe_vs_trend_king",
        v,
        g.hybrid_sharpe_vs_trend_king,
        v is not None and v >= g.hybrid_sharpe_vs_trend_king,
        f"hybrid Sharpe - trend_king Sharpe >= {g.hybrid_sharpe_vs_trend_king}",
    )
    # Drawdowns are negative: hybrid's may be deeper than trend_king's by at most the margin.
    v = diff(hy, tk, "max_drawdown")
    crit(
        "hybrid_max_drawdown_vs_trend_king",
        v,
        0.0 - g.hybrid_max_drawdown_vs_trend_king,  # not -0.0
        v is not None and v >= -g.hybrid_max_drawdown_vs_trend_king - 1e-12,
        f"hybrid max drawdown no deeper than trend_king's + {g.hybrid_max_drawdown_vs_trend_king:.0%}",
    )
    v = diff(rl, ew, "sharpe")
    crit(
        "rl_sharpe_vs_equal_weight",
        v,
        g.rl_sharpe_vs_equal_weight,
        v is not None and v >= g.rl_sharpe_vs_equal_weight,
        f"rl_ensemble Sharpe - equal-weight buy-and-hold Sharpe >= {g.rl_sharpe_vs_equal_weight}",
    )
    v = rl["sharpe"] if rl else None
    crit(
        "rl_sharpe",
        v,
        g.min_sharpe,
        v is not None and v >= g.min_sharpe,
        f"rl_ensemble Sharpe >= {g.min_sharpe}",
    )
    for name, f in (("rl_ensemble", rl), ("hybrid", hy)):
        v = f["max_drawdown"] if f else None
        crit(
            f"{name}_max_drawdown",
            v,
            -g.max_drawdown,
            v is not None and -v <= g.max_drawdown,
            f"{name} max drawdown no deeper than {g.max_drawdown:.0%}",
        )
    a, b = chain(test, "hybrid"), chain(test, "trend_king")
    ci = (
        sharpe_diff_ci(
            a,
            b,
            block=g.bootstrap_block,
            resamples=g.bootstrap_resamples,
            seed=g.bootstrap_seed,
            level=g.ci_level,
        )
        if a is not None and b is not None and len(a) >= 2
        else None
    )
    if g.sharpe_diff_ci_min is not None:
        v = ci["low"] if ci else None
        crit(
            "sharpe_diff_ci_low",
            v,
            g.sharpe_diff_ci_min,
            v is not None and v >= g.sharpe_diff_ci_min,
            f"lower end of the {g.ci_level:.0%} CI of hybrid - trend_king Sharpe >= "
            f"{g.sharpe_diff_ci_min}",
        )
    # On the test years, as the thresholds: a hybrid that changed trades only in the
    # validation years changes nothing out of sample.
    degenerate = degenerate_checks(test, gate)
    years = [r.year for r in test]
    span = _span(years) if years else f"none after {g.validation_end}"
    rule = (
        f"on the test years ({span}) chained, replayed through the runtime: "
        + "; ".join(c["detail"] for c in criteria)
        + "; and no degenerate check failed (one action on > "
        f"{g.max_action_share:.0%} of symbol-days, entropy > {g.max_entropy_ratio:.0%} of "
        f"uniform, rl_ensemble exposure outside [{g.min_exposure:.0%}, {g.max_exposure:.0%}] "
        "in every year, hybrid trading like trend_king in every year)"
    )
    passed = bool(years) and all(c["passed"] for c in criteria + degenerate)
    return {
        "passed": passed,
        "rule": rule,
        "values": {c["check"]: c["value"] for c in criteria},
        "criteria": criteria,
        "degenerate": degenerate,
        "sharpe_diff_ci": ci,
        "test_years": years,
        "validation_end": g.validation_end,
        "chained": chained,
    }


def _r(x: float | None, nd: int = 6) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def _span(years: Sequence[int]) -> str:
    return str(years[0]) if years[0] == years[-1] else f"{years[0]}-{years[-1]}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"
