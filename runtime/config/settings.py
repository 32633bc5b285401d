"""The whole config file (:class:`Settings`) and the engine-wide section (:class:`EngineConfig`).

Environment variables ``INVEST__SECTION__KEY`` override the file (pydantic-settings,
imported only when such a variable is set: see :mod:`.sources`).
"""

from __future__ import annotations

import os
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from invest.runtime.config.accounts import (
    DEFAULT_RISK_PROFILES,
    AccountConfig,
    FillSettings,
    RiskProfile,
)
from invest.runtime.config.alpaca import AlpacaConfig
from invest.runtime.config.base import Frozen
from invest.runtime.config.checks import check_timezone
from invest.runtime.config.context import ContextConfig
from invest.runtime.config.control import ControlAccess
from invest.runtime.config.engine import EngineLoop, HaltRules
from invest.runtime.config.mandate import check_asset_classes, missing_classes
from invest.runtime.config.notify import DiscordConfig, TelegramConfig
from invest.runtime.config.research import ResearchConfig
from invest.runtime.errors import ConfigError

__all__ = ["EngineConfig", "Settings"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class EngineConfig(Frozen):
    """Settings of the engine process."""

    timezone: str = "America/New_York"
    """Timezone of account schedules."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        return check_timezone(v)

    data: str = "sample"
    """Default market data source: sample, csv:PATH, yfinance or alpaca."""
    fills: FillSettings = FillSettings()
    """Fill and cost model of the paper broker and the backtester."""
    halt: HaltRules = HaltRules()
    """When the engine halts an account on its own: daily loss, drawdown, failures in a row."""
    loop: EngineLoop = EngineLoop()
    """Timings of the engine process: heartbeat, monitors, reconciliation, reports, shutdown."""
    alpaca: AlpacaConfig = AlpacaConfig()
    """The Alpaca broker of accounts with broker = "alpaca" (keys from the secrets file)."""
    telegram: TelegramConfig = TelegramConfig()
    """The Telegram bot and alerts (token: TELEGRAM_BOT_TOKEN in the secrets file)."""
    discord: DiscordConfig = DiscordConfig()
    """Alerts to a Discord webhook (DISCORD_WEBHOOK_URL in the secrets file)."""


class Settings(BaseModel):
    """The whole config file.

    Constructing one lays the ``INVEST__*`` environment variables over the keyword
    arguments (the file's tables), as ``pydantic_settings.BaseSettings`` does with the
    environment and init sources; the model configuration is ``BaseSettings``'s.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        arbitrary_types_allowed=True,
        validate_default=True,
        protected_namespaces=(
            "model_validate",
            "model_dump",
            "settings_cached",
            "settings_clear_cache",
            "settings_customise_sources",
        ),
    )

    def __init__(self, **data: Any) -> None:
        if not _plain(data):
            from invest.runtime.config.sources import merged_with_environment

            data = merged_with_environment(data)
        super().__init__(**data)

    engine: EngineConfig = EngineConfig()
    """Engine-wide settings."""
    control: ControlAccess = ControlAccess()
    """Local users allowed on the control socket besides root and the service user."""
    risk_profiles: dict[str, RiskProfile] = Field(default_factory=dict)
    """Extra or overriding risk profiles, by name."""
    accounts: dict[str, AccountConfig] = Field(default_factory=dict)
    """Accounts by name (lowercase letters, digits, - and _)."""
    research: dict[str, ResearchConfig] = Field(default_factory=dict)
    """Research watchlists by name: a daily screen + LLM ranking that accounts subscribe to."""
    assets: dict[str, str] = Field(default_factory=dict)
    """Asset class of each symbol, for the accounts' mandates: SPY = "etf", AAPL = "stock" (free lowercase names; "cash" is reserved). On the sample data SP500 stands in for an S&P 500 ETF."""

    @field_validator("assets")
    @classmethod
    def _asset_classes(cls, v: dict[str, str]) -> dict[str, str]:
        return check_asset_classes(v)

    context: ContextConfig = ContextConfig()
    """Market context (VIX, 10-year yield, dollar index) and the earnings calendar for the VIX filter and the LLM prompts."""

    @model_validator(mode="after")
    def _accounts_are_consistent(self) -> Settings:
        for name, acct in self.accounts.items():
            if not _NAME.match(name):
                raise ValueError(
                    f"account name {name!r} must be lowercase letters, digits, '-' or '_'"
                )
            if acct.watchlist is not None and acct.watchlist not in self.research:
                raise ValueError(
                    f"accounts.{name}.watchlist: no research section named {acct.watchlist!r}"
                )
            if acct.risk not in self.all_risk_profiles():
                known = ", ".join(sorted(self.all_risk_profiles()))
                raise ValueError(f"accounts.{name}.risk: unknown profile {acct.risk!r} ({known})")
            if acct.mandate is not None:
                held = (*acct.universe, *acct.trend_king.defensive)
                if lost := missing_classes(held, self.assets):
                    raise ValueError(
                        f"accounts.{name}.mandate: {', '.join(lost)} "
                        f"{'has' if len(lost) == 1 else 'have'} no asset class: "
                        f'add {lost[0]} = "stock" (or its class) to the [assets] table'
                    )
        return self

    def all_risk_profiles(self) -> dict[str, RiskProfile]:
        """Built-in profiles overlaid with the file's."""
        return {**DEFAULT_RISK_PROFILES, **self.risk_profiles}

    def risk_for(self, account: str) -> RiskProfile:
        """The risk profile of ``account``."""
        return self.all_risk_profiles()[self.account(account).risk]

    def account(self, name: str) -> AccountConfig:
        """Account ``name``.

        Raises:
            ConfigError: no such account.
        """
        try:
            return self.accounts[name]
        except KeyError:
            known = ", ".join(self.accounts) or "none"
            raise ConfigError(
                f"no account named {name!r} in the config (accounts: {known})"
            ) from None


_SECTIONS = frozenset(Settings.model_fields)


def _plain(data: dict[str, Any]) -> bool:
    """True when the environment overrides nothing and every key is a section name or no
    section's: then the pydantic-settings sources would hand ``data`` through as it is."""
    if any(k[:8].lower() == "invest__" for k in os.environ):
        return False
    return all(k in _SECTIONS or k.lower() not in _SECTIONS for k in data)
