"""Performance metrics of an equity curve. Daily data, 252 sessions a year, zero risk-free rate."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from invest.runtime.domain import Fill, Side

YEAR = 252


@dataclass(frozen=True, slots=True)
class Metrics:
    """Summary statistics of one equity curve."""

    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    calmar: float
    turnover: float = math.nan
    exposure: float = math.nan
    win_rate: float = math.nan
    trades: int = 0

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain dict for JSON, with NaN (not applicable) written as None."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def max_drawdown(equity: npt.NDArray[np.float64]) -> float:
    """Largest peak-to-trough fall, as a negative fraction."""
    peak = np.maximum.accumulate(equity)
    return float(np.min(equity / peak - 1)) if len(equity) else 0.0


def daily_returns(equity: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Daily returns of an equity curve.

    An account wiped out to exactly 0 has no return afterwards (0/0): it counts as 0.
    """
    prev = equity[:-1]
    return np.divide(np.diff(equity), prev, out=np.zeros(len(prev)), where=prev > 0)


def curve_metrics(equity: npt.NDArray[np.float64]) -> Metrics:
    """Return, risk and drawdown figures of a daily equity curve."""
    if len(equity) < 2 or equity[0] <= 0:
        return Metrics(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    rets = daily_returns(equity)
    years = len(rets) / YEAR
    total = float(equity[-1] / equity[0] - 1)
    cagr = (
        float((equity[-1] / equity[0]) ** (1 / years) - 1) if years > 0 and equity[-1] > 0 else -1.0
    )
    sd = float(np.std(rets, ddof=1))
    vol = sd * math.sqrt(YEAR)
    mean = float(np.mean(rets))
    sharpe = mean / sd * math.sqrt(YEAR) if sd > 0 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(rets, 0.0) ** 2)))
    sortino = mean / downside * math.sqrt(YEAR) if downside > 0 else 0.0
    mdd = max_drawdown(equity)
    calmar = cagr / -mdd if mdd < 0 else 0.0
    return Metrics(total, cagr, vol, sharpe, sortino, mdd, calmar)


def with_trading(
    m: Metrics,
    equity: npt.NDArray[np.float64],
    invested: npt.NDArray[np.float64],
    traded_notional: float,
    round_trip_pnls: list[float],
) -> Metrics:
    """Add turnover (annual, one-way), exposure and win rate to curve metrics."""
    years = max(len(equity) / YEAR, 1e-9)
    avg_eq = float(np.mean(equity)) if len(equity) else 1.0
    turnover = traded_notional / 2 / avg_eq / years
    share = np.divide(invested, equity, out=np.zeros(len(equity)), where=equity > 0)
    exposure = float(np.mean(share)) if len(equity) else 0.0
    wins = sum(1 for p in round_trip_pnls if p > 0)
    win_rate = wins / len(round_trip_pnls) if round_trip_pnls else math.nan
    return Metrics(
        m.total_return,
        m.cagr,
        m.volatility,
        m.sharpe,
        m.sortino,
        m.max_drawdown,
        m.calmar,
        turnover,
        exposure,
        win_rate,
        len(round_trip_pnls),
    )


def round_trip_pnls(fills: list[Fill]) -> list[float]:
    """P&L of every sell against the running average cost (fees included)."""
    book: dict[str, tuple[float, float]] = {}
    out = []
    for f in fills:
        qty, px = float(f.quantity), float(f.price)
        held, avg = book.get(f.symbol, (0.0, 0.0))
        if f.side is Side.BUY:
            book[f.symbol] = (held + qty, (held * avg + qty * px) / (held + qty))
        else:
            out.append((px - avg) * qty - float(f.fees))
            book[f.symbol] = (held - qty, avg)
    return out
