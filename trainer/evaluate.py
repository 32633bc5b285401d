"""Out-of-sample evaluation of an ensemble of exported policies, as the runtime runs them.

The ONNX files are run with onnxruntime (the artifact that ships, not the torch model).
Every session of the test year, each policy sees every symbol (batch B = N symbols,
LSTM state per symbol, reset at the first session); the ensemble takes the majority
vote, with a vote share below ``min_confidence`` meaning HOLD. Each symbol is held
all-or-nothing; the portfolio holds the symbols in position at equal weight (cash when
none). Decisions at the close of ``t`` fill at the close of ``t + 1`` and pay
:meth:`FillModel.cost_fraction` on the traded weight (``sum |w' - w|``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from invest.runtime.brokers.fills import FillModel
from invest.runtime.domain import Side

from .dataset import MarketArrays
from .env import BUY, DAYS_PER_YEAR, HOLD, SELL

__all__ = ["YearResult", "ensemble_actions", "evaluate_year", "load_sessions", "summarise"]


@dataclass(frozen=True)
class YearResult:
    """One test year of the ensemble and its benchmarks.

    Attributes:
        year: calendar year.
        first: first session (ISO date).
        last: last session (ISO date).
        total_return: ensemble return over the year.
        sharpe: annualised Sharpe ratio of its daily returns (0 when they never vary).
        max_drawdown: largest peak-to-trough loss, positive.
        exposure: mean share of symbols held.
        trades: position changes.
        index_bh: buy-and-hold return of the index (None without one).
        equal_weight_bh: mean buy-and-hold return of the symbols.
        daily: the ensemble's daily returns (kept out of the manifest).
    """

    year: int
    first: str
    last: str
    total_return: float
    sharpe: float
    max_drawdown: float
    exposure: float
    trades: int
    index_bh: float | None
    equal_weight_bh: float
    daily: tuple[float, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Everything but the daily returns."""
        d = asdict(self)
        d.pop("daily")
        return d


def load_sessions(paths: Sequence[str | Path]) -> list[Any]:
    """onnxruntime sessions of the given ONNX files (CPU, one thread each)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return [
        ort.InferenceSession(str(p), sess_options=opts, providers=["CPUExecutionProvider"])
        for p in paths
    ]


def ensemble_actions(
    sessions: Sequence[Any],
    obs: np.ndarray,
    states: list[tuple[np.ndarray, np.ndarray]],
    episode_start: np.ndarray,
    min_confidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One step of every policy; majority vote per symbol.

    Args:
        sessions: one onnxruntime session per policy.
        obs: ``[B, obs_dim]`` float32.
        states: per policy ``(h, c)``, replaced in place by the next states.
        episode_start: ``[B]`` float32.
        min_confidence: vote share below which the decision is HOLD.

    A tie between the top actions is HOLD too.

    Returns:
        ``actions [B]`` and ``confidence [B]`` (the winning vote share).
    """
    votes = np.zeros((obs.shape[0], 3), dtype=np.int64)
    rows = np.arange(obs.shape[0])
    for k, sess in enumerate(sessions):
        h, c = states[k]
        logits, h, c = sess.run(
            None, {"obs": obs, "h_in": h, "c_in": c, "episode_start": episode_start}
        )
        states[k] = (h, c)
        votes[rows, logits.argmax(axis=1)] += 1
    action = votes.argmax(axis=1)
    confidence = votes[rows, action] / len(sessions)
    tied = (votes == votes[rows, action][:, None]).sum(axis=1) > 1
    action = np.where((confidence < min_confidence) | tied, HOLD, action)
    return action, confidence


def evaluate_year(
    sessions: Sequence[Any],
    data: MarketArrays,
    year: int,
    fill_model: FillModel | None = None,
    min_confidence: float = 0.5,
) -> YearResult:
    """Run the ensemble over one calendar year and measure it.

    Raises:
        ValueError: the data has fewer than 3 sessions in ``year``.
    """
    fills = fill_model or FillModel()
    lo, hi = data.year_rows(year)
    if hi - lo < 3:
        raise ValueError(f"no test data for {year}: {hi - lo} sessions")
    n = len(data.symbols)
    layers, hidden = _state_shape(sessions[0])
    states = [(np.zeros((layers, n, hidden), np.float32),) * 2 for _ in sessions]
    pos = np.zeros(n, dtype=bool)
    entry_price = np.ones(n)
    entry_day = np.zeros(n)
    weights = np.zeros(n)
    equity = [1.0]
    trades = 0
    exposure = []
    start = np.ones(n, dtype=np.float32)
    markup = fills.price(Side.BUY, 1.0)
    close = data.close
    for t in range(lo, hi - 1):
        obs = _observation(data, t, pos, entry_price, entry_day)
        action, _ = ensemble_actions(sessions, obs, states, start, min_confidence)
        start = np.zeros(n, dtype=np.float32)
        action = np.where(data.valid[t], action, HOLD)  # bad data: skip the symbol
        new = np.where(action == BUY, True, np.where(action == SELL, False, pos))
        opened = new & ~pos
        entry_price = np.where(opened, close[t + 1] * markup, entry_price)
        entry_day = np.where(opened, data.days[t + 1], entry_day)
        trades += int((new != pos).sum())
        pos = new
        # Day t -> t + 1 is earned by the weights filled at t; then rebalance at t + 1.
        day_ret = close[t + 1] / close[t] - 1.0
        gross = float(np.nansum(weights * day_ret))
        drifted = weights * (1.0 + np.nan_to_num(day_ret))
        drifted = drifted / drifted.sum() if drifted.sum() > 0 else drifted
        target = pos / pos.sum() if pos.any() else np.zeros(n)
        cost = fills.cost_fraction() * float(np.abs(target - drifted).sum())
        equity.append(equity[-1] * (1.0 + gross) * (1.0 - cost))
        weights = target
        exposure.append(float(pos.mean()))
    return _year_result(year, data, lo, hi, np.asarray(equity), trades, exposure)


def _state_shape(sess: Any) -> tuple[int, int]:
    shape = next(i.shape for i in sess.get_inputs() if i.name == "h_in")
    return int(shape[0]), int(shape[2])


def _observation(
    data: MarketArrays, t: int, pos: np.ndarray, entry_price: np.ndarray, entry_day: np.ndarray
) -> np.ndarray:
    n, f = len(data.symbols), data.n_features
    obs = np.zeros((n, f + 3), dtype=np.float32)
    obs[:, :f] = data.features[t]
    unreal = np.clip(data.close[t] / entry_price - 1.0, -1.0, 1.0)
    held = np.clip((data.days[t] - entry_day) / DAYS_PER_YEAR, 0.0, 1.0)
    obs[:, f] = pos
    obs[:, f + 1] = np.where(pos, np.nan_to_num(unreal), 0.0)
    obs[:, f + 2] = np.where(pos, held, 0.0)
    return obs


def _year_result(
    year: int,
    data: MarketArrays,
    lo: int,
    hi: int,
    equity: np.ndarray,
    trades: int,
    exposure: list[float],
) -> YearResult:
    daily = equity[1:] / equity[:-1] - 1.0
    close = data.close
    with np.errstate(invalid="ignore"):
        bh = close[hi - 1] / close[lo] - 1.0
    index_bh = None
    if data.index_close is not None:
        index_bh = float(data.index_close[hi - 1] / data.index_close[lo] - 1.0)
    return YearResult(
        year=year,
        first=data.day(lo).isoformat(),
        last=data.day(hi - 1).isoformat(),
        total_return=float(equity[-1] - 1.0),
        sharpe=sharpe(daily),
        max_drawdown=max_drawdown(equity),
        exposure=float(np.mean(exposure)) if exposure else 0.0,
        trades=trades,
        index_bh=index_bh,
        equal_weight_bh=float(np.nanmean(bh)),
        daily=tuple(float(x) for x in daily),
    )


def sharpe(daily: np.ndarray) -> float:
    """Annualised Sharpe ratio (risk-free 0) of daily returns; 0 when they never vary."""
    daily = np.asarray(daily, dtype=np.float64)
    if len(daily) < 2:
        return 0.0
    sd = float(daily.std(ddof=1))
    return 0.0 if sd < 1e-12 else float(daily.mean() / sd * math.sqrt(DAYS_PER_YEAR))


def max_drawdown(equity: np.ndarray) -> float:
    """Largest peak-to-trough loss of an equity curve, as a positive fraction."""
    equity = np.asarray(equity, dtype=np.float64)
    if len(equity) == 0:
        return 0.0
    peak = np.maximum.accumulate(equity)
    return float((1.0 - equity / peak).max())


def summarise(years: Sequence[YearResult]) -> dict[str, float]:
    """Metrics of all test years chained: the promotion gate reads these."""
    daily = np.concatenate([np.asarray(y.daily) for y in years]) if years else np.zeros(0)
    equity = np.concatenate([[1.0], np.cumprod(1.0 + daily)])
    return {
        "oos_sharpe": sharpe(daily),
        "oos_max_drawdown": max_drawdown(equity),
        "oos_total_return": float(equity[-1] - 1.0),
        "oos_years": float(len(years)),
        "oos_sessions": float(len(daily)),
    }
