"""Typed, frozen configuration: every settings model of the appliance, and its loader.

The bottom layer of ``invest.runtime``: these modules import pydantic, the standard
library and :mod:`invest.runtime.errors`, nothing else of ours, so any module may
read its settings from here and loading the config never pulls in pandas, numpy or
a venue's library. APScheduler is imported only while a cron is validated.

The file is TOML. Environment variables ``INVEST__SECTION__KEY`` override it
(pydantic-settings' sources, imported only when such a variable is set: :mod:`.sources`).
Unknown keys are rejected, and any bad value fails at start
with its key path and the reason (see :func:`load_config`). Secrets never live
here: they come from the secrets file or the environment (:mod:`invest.runtime.secrets`).

Modules: :mod:`.accounts` (accounts, risk profiles, fills, trend_king), :mod:`.rl`,
:mod:`.oracle`, :mod:`.research`, :mod:`.engine` (halt rules, loop timings),
:mod:`.alpaca`, :mod:`.notify` (Telegram, Discord), :mod:`.control`,
:mod:`.settings` (the whole file), :mod:`.load` (reading and validating it),
:mod:`.sources` (the environment overrides) and :mod:`.checks` (the cron and
timezone validators).
"""

from __future__ import annotations

from invest.runtime.config.accounts import (
    DEFAULT_RISK_PROFILES,
    AccountConfig,
    FillSettings,
    RiskProfile,
    TrendKingParams,
)
from invest.runtime.config.alpaca import AlpacaConfig
from invest.runtime.config.control import ControlAccess
from invest.runtime.config.engine import EngineLoop, HaltRules
from invest.runtime.config.load import load_config, parse_config, parse_day, with_adhoc_account
from invest.runtime.config.notify import DiscordConfig, TelegramConfig
from invest.runtime.config.oracle import OracleConfig
from invest.runtime.config.research import ResearchConfig
from invest.runtime.config.rl import RLParams
from invest.runtime.config.settings import EngineConfig, Settings

__all__ = [
    "DEFAULT_RISK_PROFILES",
    "AccountConfig",
    "AlpacaConfig",
    "ControlAccess",
    "DiscordConfig",
    "EngineConfig",
    "EngineLoop",
    "FillSettings",
    "HaltRules",
    "OracleConfig",
    "RLParams",
    "ResearchConfig",
    "RiskProfile",
    "Settings",
    "TelegramConfig",
    "TrendKingParams",
    "load_config",
    "parse_config",
    "parse_day",
    "with_adhoc_account",
]
