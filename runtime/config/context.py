"""The ``[context]`` section (:class:`ContextConfig`) and trend_king's VIX filter (:class:`VixFilter`).

Market context is the VIX, the 10-year Treasury yield and the dollar index, each
lagged one session (see :mod:`invest.runtime.context`). It feeds the VIX filter of
trend_king and the LLM prompts; with no ``[context]`` section the source follows the
market data ("auto": Yahoo for live data, else the bundled sample: VIX 2014-2019, the
others "not available").
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from invest.runtime.config.base import Frozen

__all__ = ["ContextConfig", "VixFilter"]


def _check_source(v: str, what: str, fixed: tuple[str, ...]) -> str:
    if v in fixed or (v.startswith("csv:") and len(v) > 4):
        return v
    names = ", ".join(f'"{f}"' for f in fixed)
    raise ValueError(f"{what} must be {names} or csv:PATH, got {v!r}")


class ContextConfig(Frozen):
    """Where the market context and the earnings calendar come from."""

    source: str = "auto"
    """Context series: "auto" (follow the market data: yfinance for a yfinance or alpaca account, whose data is live, else the bundled sample), "sample" (the bundled VIX, 2014-2019; no yield or dollar index), "yfinance" (^VIX, ^TNX, DX-Y.NYB from Yahoo) or "csv:DIR" (DIR/VIX.csv, DIR/US10Y.csv, DIR/DXY.csv in the csv data provider's folder format; a missing file is "not available")."""
    max_stale_sessions: int = Field(5, ge=1, le=20)
    """A value older than this many sessions before the cycle's day is not used (NaN with the reason): no series is carried forward further."""
    earnings: str = "none"
    """Earnings calendar shown to the LLM: "none" (unknown), "yfinance" (Yahoo's calendar) or "csv:FILE" (symbol,date rows)."""
    earnings_days: int = Field(7, ge=1, le=60)
    """The LLM prompts list the reports within this many calendar days of the cycle."""

    @field_validator("source")
    @classmethod
    def _known_source(cls, v: str) -> str:
        return _check_source(v, "context.source", ("auto", "sample", "yfinance"))

    @field_validator("earnings")
    @classmethod
    def _known_earnings(cls, v: str) -> str:
        return _check_source(v, "context.earnings", ("none", "yfinance"))


class VixFilter(Frozen):
    """trend_king's VIX filter: DEFENSE while the lagged VIX is high, with hysteresis."""

    enter: float = Field(30.0, gt=0, le=150)
    """DEFENSE from the day the lagged VIX closes above this."""
    exit: float = Field(25.0, gt=0, le=150)
    """Back to the SMA regime from the day the lagged VIX closes below this (below ``enter``)."""

    @model_validator(mode="after")
    def _exit_below_enter(self) -> VixFilter:
        if self.exit >= self.enter:
            raise ValueError(
                f"vix_filter.exit ({self.exit}) must be below vix_filter.enter ({self.enter})"
            )
        return self
