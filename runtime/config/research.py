"""Settings of the research agent: one ``[research.NAME]`` section per watchlist.

The agent itself lives in :mod:`invest.runtime.research.agent`.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from invest.runtime.config.base import Frozen
from invest.runtime.config.checks import check_cron
from invest.runtime.config.oracle import OracleConfig

__all__ = ["ResearchConfig", "ScreenRules"]


class ScreenRules(Frozen):
    """Thresholds of the research agent's rules screen."""

    momentum_days: int = Field(126, ge=5, le=400)
    """Momentum lookback in sessions (126 = six months); the ranking key."""
    min_momentum: float | None = 0.0
    """Drop symbols whose momentum is at or below this (0.0: only rising names). None keeps all."""
    vol_days: int = Field(20, ge=5, le=120)
    """Volatility window in sessions."""
    min_volatility: float = Field(0.0, ge=0)
    """Lower edge of the annualised volatility band (0.10 = 10%)."""
    max_volatility: float = Field(0.80, gt=0)
    """Upper edge of the annualised volatility band."""
    min_dollar_volume: float = Field(1_000_000.0, ge=0)
    """Minimum average daily dollar volume over ``liquidity_days``. Skipped without volume data."""
    liquidity_days: int = Field(20, ge=1, le=250)
    """Window of the dollar-volume average."""
    candidates: int = Field(20, ge=1, le=100)
    """How many screened symbols the LLM sees."""
    size: int = Field(10, ge=1, le=100)
    """Symbols in the watchlist."""
    price_days: int = Field(20, ge=2, le=250)
    """Closes per candidate shown in the prompt (rebased to 100)."""


class ResearchConfig(Frozen):
    """One research watchlist (a ``[research.NAME]`` config section)."""

    symbols: tuple[str, ...] = Field(min_length=1)
    """Symbols the screen reads (the research universe)."""
    schedule: str = "0 14 * * mon-fri"
    """Cron of the daily job, in the engine timezone; only NYSE sessions run."""
    data: str | None = None
    """Market data source; None uses engine.data."""
    rules: ScreenRules = ScreenRules()
    """The rules screen."""
    oracle: OracleConfig | None = None
    """The LLM that ranks the screened candidates; None keeps the screen's order."""

    @field_validator("symbols")
    @classmethod
    def _upper(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.strip().upper() for s in v))

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, v: str) -> str:
        return check_cron(v)
