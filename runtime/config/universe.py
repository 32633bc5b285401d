"""The dynamic universe's settings: which of an account's candidates trade each period."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from invest.runtime.config.base import Frozen

__all__ = ["DynamicUniverseConfig"]


class DynamicUniverseConfig(Frozen):
    """A universe re-selected from the account's candidates each quarter (or month).

    On the first session of each period the candidates with enough history, enough
    volatility and (where the data has volume) enough dollar volume are ranked by
    momentum; the best ``top_n`` are the period's universe, held until the next period.
    """

    top_n: int = Field(10, ge=1, le=500)
    """How many of the candidates trade each period (fewer when fewer pass the floors)."""
    momentum_days: int = Field(252, ge=21, le=756)
    """Momentum lookback in sessions: 252 with skip_days 21 is the classic 12-1 momentum."""
    skip_days: int = Field(21, ge=0, le=126)
    """The most recent sessions left out of the momentum (the last month reverts short term)."""
    vol_days: int = Field(63, ge=5, le=504)
    """Window of daily returns for the volatility floor (63 sessions = one quarter)."""
    min_vol: float = Field(0.15, ge=0, le=5)
    """Annualised volatility floor (0.15 = 15%): a name calmer than this is not eligible."""
    min_dollar_volume: float = Field(0.0, ge=0)
    """20-day average dollar volume floor; skipped when the data has no volume (the sample has none)."""
    rebalance: Literal["quarterly", "monthly"] = "quarterly"
    """When the universe is re-selected: the first session of Jan/Apr/Jul/Oct, or of each month."""

    @model_validator(mode="after")
    def _skip_inside_lookback(self) -> DynamicUniverseConfig:
        if self.skip_days >= self.momentum_days:
            raise ValueError(
                f"skip_days ({self.skip_days}) must be below momentum_days ({self.momentum_days})"
            )
        return self
