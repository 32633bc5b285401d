"""Settings of the Alpaca broker and data feed (``[engine.alpaca]``). The keys are secrets: not here.

The venue's code lives in :mod:`invest.runtime.adapters.alpaca`; its settings live
here, beside every other settings model, so that loading the config never imports
the adapter (or alpaca-py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from invest.runtime.config.base import Frozen

__all__ = ["ALPACA_MAX_PER_MIN", "LIVE_CONFIRMATION", "AlpacaConfig", "endpoint_problem"]

LIVE_CONFIRMATION = "I understand this trades real money"
#: Alpaca's documented limit per API key; the bucket stays strictly below it.
ALPACA_MAX_PER_MIN = 200


class AlpacaConfig(Frozen):
    """Settings of the Alpaca broker. The keys are secrets: they are not here."""

    paper: bool = True
    """Trade on the paper endpoint. false = the live endpoint (needs live and live_confirm)."""
    live: bool = False
    """Must be true, together with paper = false, to trade real money."""
    live_confirm: str = ""
    """Must read exactly "I understand this trades real money" for live trading."""
    feed: Literal["iex", "sip", "delayed_sip", "otc", "boats", "overnight"] = "iex"
    """Market data feed for prices read through Alpaca (iex is free; sip needs a plan)."""
    options_feed: Literal["indicative", "opra"] = "indicative"
    """Feed of option chains read through Alpaca (indicative is free and delayed; opra needs a plan)."""
    fractional: bool = True
    """Send fractional share quantities. Off: quantities are floored to whole shares."""
    notional_buys: bool = True
    """Send buys as dollar amounts (needs fractional). Sells always go as shares."""
    rate_limit_per_min: int = Field(180, gt=0, le=ALPACA_MAX_PER_MIN)
    """Sustained HTTP requests per minute (Alpaca allows 200 per key)."""
    burst: int = Field(10, ge=1, le=50)
    """Requests allowed back to back; rate_limit_per_min + burst stays under 200."""
    connect_timeout_s: float = Field(5.0, gt=0, le=60)
    """Seconds to wait for a connection to Alpaca."""
    read_timeout_s: float = Field(15.0, gt=0, le=120)
    """Seconds to wait for an answer; then the order is looked up by its client id."""
    retries: int = Field(3, ge=0, le=10)
    """Extra attempts after a 429, a 5xx or a timeout."""
    backoff_s: float = Field(0.5, ge=0, le=30)
    """First wait before a retry; doubled each time."""
    backoff_max_s: float = Field(8.0, ge=0, le=120)
    """Longest wait between two retries."""

    @model_validator(mode="after")
    def _live_is_explicit(self) -> AlpacaConfig:
        problem = endpoint_problem(self)
        if problem:
            raise ValueError(problem)
        if self.rate_limit_per_min + self.burst >= ALPACA_MAX_PER_MIN:
            raise ValueError(
                f"rate_limit_per_min + burst must stay under {ALPACA_MAX_PER_MIN} "
                f"(Alpaca's limit); got {self.rate_limit_per_min} + {self.burst}"
            )
        return self


def endpoint_problem(config: AlpacaConfig) -> str:
    """Why ``config`` may not pick its endpoint, or "" when it may."""
    if config.paper and config.live:
        return "alpaca: live = true needs paper = false (they contradict each other)"
    if not config.paper and not (config.live and config.live_confirm == LIVE_CONFIRMATION):
        return (
            "alpaca: paper = false trades real money; it also needs live = true and "
            f'live_confirm = "{LIVE_CONFIRMATION}"'
        )
    return ""
