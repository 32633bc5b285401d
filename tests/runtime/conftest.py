"""Builders shared by the risk, broker, ledger and invariant tests.

Small on purpose: a Market from an array of closes, positions, account states,
proposals, and a risk profile with every rule relaxed so that a test can switch
on only the rule it is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from invest.runtime.brokers.fills import FillModel
from invest.runtime.config import RiskProfile
from invest.runtime.data.frame import BarFrame
from invest.runtime.domain import AccountState, Position, Proposal, Regime
from invest.runtime.market import Market
from invest.runtime.risk.engine import RiskEngine

FIRST_SESSION = "2022-01-03"


def sessions(n: int, start: str = FIRST_SESSION) -> npt.NDArray[np.datetime64]:
    """``n`` consecutive weekdays from ``start`` as ``datetime64[D]``."""
    return np.busday_offset(np.datetime64(start, "D"), np.arange(n), roll="forward").astype(
        "datetime64[D]"
    )


def rising(n: int, start: float = 100.0, step: float = 0.5) -> npt.NDArray[np.float64]:
    """A close series that moves every day (so it is never stale, hence always usable)."""
    return start + step * np.arange(n, dtype=np.float64)


def make_market(
    closes: npt.ArrayLike,
    symbols: Sequence[str] | None = None,
    *,
    opens: npt.ArrayLike | None = None,
    volume: npt.ArrayLike | None = None,
    adjusted: bool = False,
    start: str = FIRST_SESSION,
) -> Market:
    """A Market over weekdays from ``start`` with ``closes`` of shape (days, symbols)."""
    close = np.asarray(closes, dtype=np.float64)
    if close.ndim == 1:
        close = close[:, None]
    syms = tuple(symbols) if symbols is not None else tuple(f"S{j}" for j in range(close.shape[1]))
    frame = BarFrame(
        dates=sessions(close.shape[0], start),
        symbols=syms,
        close=close,
        open=None if opens is None else np.asarray(opens, dtype=np.float64),
        volume=None if volume is None else np.asarray(volume, dtype=np.float64),
        adjusted=adjusted,
        source="test",
    )
    return Market(frame)


def columns(**series: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], tuple[str, ...]]:
    """Stack named 1-D close series into (closes, symbols) for :func:`make_market`."""
    arr = np.column_stack([np.asarray(v, dtype=np.float64) for v in series.values()])
    return arr, tuple(series)


def position(
    symbol: str, quantity: float | str, avg_cost: float | str, opened: date, **exits: Any
) -> Position:
    """A position with Decimal quantity and cost."""
    return Position(symbol, Decimal(str(quantity)), Decimal(str(avg_cost)), opened, **exits)


def account(cash: float | str, *positions: Position, name: str = "acct", **kw: Any) -> AccountState:
    """An account state holding ``positions``."""
    return AccountState(name, Decimal(str(cash)), {p.symbol: p for p in positions}, **kw)


def proposal(**targets: float) -> Proposal:
    """A proposal of target weights."""
    return Proposal(dict(targets), Regime.ATTACK, {})


def relaxed_risk(**overrides: Any) -> RiskProfile:
    """A risk profile with every rule off or wide open, plus ``overrides``."""
    base: dict[str, Any] = {
        "max_position_pct": 1.0,
        "min_cash_pct": 0.0,
        "min_price": 0.0,
        "min_dollar_volume": 0.0,
        "stop_loss_pct": None,
        "take_profit_pct": None,
        "time_stop_days": None,
        "min_holding_days": 0,
        "max_trades_per_cycle": 100,
        "rebalance_band": 0.0,
        "correlation_warn": 1.0,
    }
    return RiskProfile(**{**base, **overrides})


def engine(risk: RiskProfile, fills: FillModel | None = None) -> RiskEngine:
    """A risk engine for account ``acct`` with a frictionless fill model by default."""
    return RiskEngine("acct", risk, fills or FillModel(slippage_bps=0.0))


def build_market4() -> Market:
    """Four always-usable symbols A..D over 30 sessions, ending near 100, 50, 20 and 10."""
    n = 30
    closes, syms = columns(
        A=rising(n, 85.5, 0.5),
        B=rising(n, 35.5, 0.5),
        C=rising(n, 17.1, 0.1),
        D=rising(n, 7.1, 0.1),
    )
    return make_market(closes, syms)


@pytest.fixture
def market4() -> Market:
    """Four always-usable symbols A..D over 30 sessions, ending near 100, 50, 20 and 10."""
    return build_market4()
