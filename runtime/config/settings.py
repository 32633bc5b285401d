"""The whole config file (:class:`Settings`) and the engine-wide section (:class:`EngineConfig`).

Environment variables ``INVEST__SECTION__KEY`` override the file (pydantic-settings).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from invest.runtime.config.accounts import (
    DEFAULT_RISK_PROFILES,
    AccountConfig,
    FillSettings,
    RiskProfile,
)
from invest.runtime.config.alpaca import AlpacaConfig
from invest.runtime.config.base import Frozen
from invest.runtime.config.checks import check_timezone
from invest.runtime.config.control import ControlAccess
from invest.runtime.config.engine import EngineLoop, HaltRules
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


class Settings(BaseSettings):
    """The whole config file."""

    model_config = SettingsConfigDict(
        env_prefix="INVEST__",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first (it overrides), then the file passed as init kwargs.
        return (env_settings, init_settings)

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
