"""The ``options`` section of an options account: its chain, selection, risk rules and history.

An account whose ``strategy`` is an options strategy (``wheel``, ``vertical_spreads``)
must have this section, and no other account may: :class:`AccountConfig
<invest.runtime.config.accounts.AccountConfig>` checks both ways. The account's
``universe`` is the list of underlyings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from invest.runtime.config.base import Frozen
from invest.runtime.config.options import (
    ModelledChainConfig,
    SelectionConfig,
    SpreadsParams,
    WheelParams,
)
from invest.runtime.config.options_risk import OptionsRiskConfig

__all__ = ["OPTIONS_STRATEGIES", "OptionsAccountConfig"]

#: The strategies that trade options (and need an ``options`` section).
OPTIONS_STRATEGIES = ("wheel", "vertical_spreads")


class OptionsAccountConfig(Frozen):
    """How an options account prices, picks, sizes and limits its option orders."""

    chain: ModelledChainConfig = ModelledChainConfig()
    """The modelled chain's parameters (backtests, and live runs with ``chain_source = "modelled"``)."""
    chain_source: Literal["modelled", "alpaca", "yfinance"] = "modelled"
    """Where a live run (`invest run`, the engine) reads its chains: ``modelled`` from the account's own data (what a paper account on the sample uses), ``alpaca`` (the options data API, the account's Alpaca keys) or ``yfinance``. Backtests always model."""
    selection: SelectionConfig = SelectionConfig()
    """Expiry window, target deltas, spread width and the credit/debit rules (the strategy's selection)."""
    wheel: WheelParams = WheelParams()
    """The wheel's rules (strategy wheel); its selection is the section's ``selection``."""
    spreads: SpreadsParams = SpreadsParams()
    """The vertical spreads' rules (strategy vertical_spreads); their selection is the section's ``selection``."""
    risk: OptionsRiskConfig = OptionsRiskConfig()
    """Hard option rules: cash reserve, spread count, earnings blackout, exits, fills."""
    earnings: Path | None = None
    """CSV of earnings dates (symbol,date); None: no calendar, so every open is allowed with an "earnings unknown" note."""
    iv_history_days: int = Field(365, ge=20, le=3650)
    """Calendar days of the ATM IV history the IV percentile ranks today's ATM IV in."""
    iv_min_history: int = Field(10, ge=1, le=1000)
    """Fewest past ATM IV readings in that window for an IV percentile; fewer: unknown (None)."""
    iv_target_dte: int = Field(30, ge=1, le=365)
    """The ATM IV and skew are read at the listed expiry nearest this many calendar days."""
    limit_tolerance: float = Field(0.10, ge=0, le=1)
    """Limit of a strategy's order: its estimated net premium at natural prices, worse by this share of it (0.10: a credit of 1.00 accepts 0.90, a debit of 1.00 pays up to 1.10). Orders live one session: a limit not met is cancelled, and the next cycle decides again."""

    @model_validator(mode="after")
    def _one_selection(self) -> OptionsAccountConfig:
        for name, params in (("wheel", self.wheel), ("spreads", self.spreads)):
            if "selection" in params.model_fields_set:
                raise ValueError(
                    f"set the selection rules once, in options.selection, "
                    f"not in options.{name}.selection"
                )
        return self

    def wheel_params(self) -> WheelParams:
        """The wheel's parameters with the section's selection."""
        return self.wheel.model_copy(update={"selection": self.selection})

    def spreads_params(self) -> SpreadsParams:
        """The vertical spreads' parameters with the section's selection."""
        return self.spreads.model_copy(update={"selection": self.selection})
