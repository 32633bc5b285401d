"""The ``portfolio`` section of an account: how the picks are weighted and how the book is sized.

Construction (which weights trend_king gives its picks) is applied by the strategy
(``strategies.trend_king``); sizing (how much of the book is invested) is step 4 of
the risk engine, after the drawdown brake, the caps and the mandate buckets. The
defaults (``inverse_vol``, sizing ``none``) are the behaviour before this section
existed, trade for trade. The sizing parameters' defaults are the values the
measured table in the README uses, chosen from the literature before any backtest
(see ``scripts/portfolio_table.py``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from invest.runtime.config.base import Frozen

__all__ = ["CONSTRUCTIONS", "SIZINGS", "PortfolioConfig"]

#: The construction methods (those of ``portfolio.construction.weights``).
CONSTRUCTIONS = ("inverse_vol", "equal", "risk_parity", "min_variance", "mean_variance")
#: The sizing rules of the risk engine's step 4.
SIZINGS = ("none", "vol_target", "kelly", "fixed_fraction")


class PortfolioConfig(Frozen):
    """Portfolio construction (the picks' weights) and sizing (the book's exposure)."""

    construction: Literal[
        "inverse_vol", "equal", "risk_parity", "min_variance", "mean_variance"
    ] = "inverse_vol"
    """How trend_king (and hybrid) weight their picks, each at most trend_king.max_weight: inverse_vol (1 / 20-day vol, today's rule: a capped weight's excess stays in cash), equal, risk_parity (equal risk contributions), min_variance, mean_variance (the scores as expected returns); all but inverse_vol use the Ledoit-Wolf covariance of the picks' last `lookback` daily returns and fall back to inverse_vol, with a note, when it cannot be estimated."""
    lookback: int = Field(126, ge=20, le=1000)
    """Sessions of trailing daily returns behind the construction's covariance and the Kelly estimates (126 = 6 months)."""
    risk_aversion: float = Field(2.5, gt=0, le=100)
    """mean_variance's risk aversion (2.5: the market-implied value of He & Litterman 1999); larger moves towards min_variance."""
    sizing: Literal["none", "vol_target", "kelly", "fixed_fraction"] = "none"
    """How the risk engine sizes the book after the caps: none, vol_target (scale the whole book to target_vol, never above 1 - min_cash), kelly (each name at most its fractional Kelly weight) or fixed_fraction (each name at most fixed_fraction of equity)."""
    target_vol: float = Field(0.10, gt=0, le=1)
    """vol_target: the book's expected annual volatility (0.10 = 10%)."""
    vol_lookback: int = Field(63, ge=20, le=1000)
    """vol_target: sessions of trailing daily returns behind the book's covariance (63 = 3 months)."""
    kelly_fraction: float = Field(0.5, gt=0, le=1)
    """kelly: the share of the full Kelly weight mu / sigma^2 taken (0.5 = half Kelly)."""
    kelly_cap: float = Field(1.0, gt=0, le=1)
    """kelly: the most any one name's Kelly weight may be (no leverage: at most 1)."""
    fixed_fraction: float = Field(0.10, gt=0, le=1)
    """fixed_fraction: the most of equity in any one name (0.10 = 10%)."""
