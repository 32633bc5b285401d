"""Hard risk rules of the option accounts: cash reserve, spread count, earnings, exits, fills.

:class:`OptionsRiskConfig` is read by the options risk rules (:mod:`invest.runtime.risk.options`)
and the paper option fills (:mod:`invest.runtime.brokers.options_fills`). Its defaults are
the seed's option profile. Not yet part of ``AccountConfig``: the next round wires it in.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from invest.runtime.config.base import Frozen

__all__ = ["DEFAULT_OPTIONS_RISK", "OptionsRiskConfig", "StopBasis"]

#: What a stop-loss fraction is a fraction of (see :attr:`OptionsRiskConfig.stop_basis`).
StopBasis = Literal["max_loss", "credit"]


class OptionsRiskConfig(Frozen):
    """Option rules nobody (strategy, RL or LLM) can override. Money per share unless named."""

    cash_reserve: float = Field(0.40, ge=0, lt=1)
    """Share of equity kept as free cash after every open, on top of the collateral reserved
    (0.40 = 40%, the seed's option profile). Opens are shrunk to fit, or refused."""
    max_open_spreads: int = Field(5, ge=0, le=1000)
    """At most this many open spreads (verticals, iron condors, butterflies) at once. Cash-secured
    puts and covered calls do not count: their collateral bounds them. 0 opens no spread."""
    earnings_blackout_days: int = Field(7, ge=0, le=90)
    """Open nothing on an underlying whose next earnings date is within this many calendar
    days. 0 disables the blackout."""
    auto_close_dte: int = Field(3, ge=0, le=60)
    """Close a spread at this many calendar days to expiry or fewer, so none is held into
    expiry (where one leg could be assigned alone). Cash-secured puts and covered calls are
    held: their assignment is the wheel's plan."""
    take_profit: float | None = Field(0.50, gt=0, le=1)
    """Close a position once its gain at the mark reaches this share of its max gain
    (0.50 = half the credit of a credit spread, half of (width - debit) of a debit spread).
    None disables."""
    stop_loss: float | None = Field(1.00, gt=0, le=10)
    """Close a position once its loss at the mark reaches this multiple of ``stop_basis``.
    None disables. With ``stop_basis = "max_loss"`` the value must be at most 1.0, and at
    1.0 the stop fires only when the mark says the position is already lost (worth its
    worst case): it then only stops a position from being carried. Covered calls have no
    stop: their shares cover them."""
    stop_basis: StopBasis = "max_loss"
    """What ``stop_loss`` multiplies. ``"max_loss"``: the structure's max loss (the issue's
    and the seed's rule, "stop-loss >= 100% of max loss"). ``"credit"``: the credit received
    (the common "lose what you took in" stop; 1.0 closes a credit spread whose buy-back costs
    twice its credit). For a debit structure the debit paid is used, which is its max loss."""
    fee_per_contract: float = Field(0.65, ge=0, le=100)
    """Commission per contract per leg, each way, in dollars (a typical US broker's; Alpaca
    charges none but passes regulatory fees on, so 0.65 is conservative for it)."""
    fill_spread_fraction: float = Field(0.50, ge=0, le=1)
    """Paper fills: buys pay mid + this fraction of the half-spread, sells receive mid minus
    it. 0 fills at mid; 1 at the ask (buys) and the bid (sells)."""

    @model_validator(mode="after")
    def _stop_within_max_loss(self) -> OptionsRiskConfig:
        if self.stop_basis == "max_loss" and self.stop_loss is not None and self.stop_loss > 1:
            raise ValueError(
                f"stop_loss {self.stop_loss} x max_loss can never fire (no position loses more "
                'than its max loss): set stop_loss <= 1.0, or stop_basis = "credit"'
            )
        return self


#: The seed's option profile.
DEFAULT_OPTIONS_RISK = OptionsRiskConfig()
