"""Typed, frozen configuration: accounts, risk profiles, strategies, engine settings.

The file is TOML. Environment variables ``INVEST__SECTION__KEY`` override it
(pydantic-settings). Unknown keys are rejected, and any bad value fails at start
with its key path and the reason (see :func:`load_config`). Secrets never live
here: they come from the secrets file or the environment (see ``secrets``).
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from invest.runtime.brokers.alpaca import AlpacaConfig
from invest.runtime.control.access import ControlAccess
from invest.runtime.engine.config import EngineLoop, HaltRules
from invest.runtime.errors import ConfigError
from invest.runtime.notify.config import DiscordConfig, TelegramConfig
from invest.runtime.oracle.config import OracleConfig
from invest.runtime.policy.params import RLParams
from invest.runtime.research.agent import ResearchConfig

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class RiskProfile(_Frozen):
    """Hard risk rules. Nobody (strategy, RL or LLM) can override them."""

    max_position_pct: float = Field(0.20, gt=0, le=1)
    """Largest weight of one symbol in equity (0.20 = 20%)."""
    min_cash_pct: float = Field(0.05, ge=0, lt=1)
    """Cash reserve kept out of the market; buys are sized from cash minus this."""
    min_price: float = Field(5.0, ge=0)
    """No buys below this price. Skipped on back-adjusted data, where an old close is not a traded price."""
    min_dollar_volume: float = Field(1_000_000.0, ge=0)
    """Minimum 20-day average dollar volume for buys. Skipped when the data has no volume."""
    stop_loss_pct: float | None = Field(0.15, gt=0, lt=1)
    """Sell a position that falls this far below its average cost. None disables."""
    take_profit_pct: float | None = Field(None, gt=0)
    """Sell a position that gains this much over its average cost. None disables."""
    time_stop_days: int | None = Field(None, gt=0)
    """Sell a position held this many calendar days. None disables."""
    drawdown_brake_pct: float = Field(0.20, gt=0, lt=1)
    """When equity falls this far below its peak (realised losses included), cut the book."""
    drawdown_cut: float = Field(0.5, gt=0, le=1)
    """Fraction of the book kept while the drawdown brake is engaged (0.5 = cut by half)."""
    min_holding_days: int = Field(5, ge=0)
    """A rebalancing sell waits until a position is this old. Stops ignore it."""
    max_trades_per_cycle: int = Field(10, gt=0)
    """At most this many orders per cycle; sells first, then the largest buys."""
    correlation_warn: float = Field(0.90, gt=0, le=1)
    """Warn when a buy's 60-day return correlation with a holding exceeds this."""
    rebalance_band: float = Field(0.05, ge=0, lt=1)
    """Skip resizing a holding by less than this weight (tolerance band); opening a new position or closing one is never skipped."""


DEFAULT_RISK_PROFILES: dict[str, RiskProfile] = {
    "balanced": RiskProfile(),
    "conservative": RiskProfile(
        max_position_pct=0.15, min_cash_pct=0.10, stop_loss_pct=0.10, drawdown_brake_pct=0.15
    ),
    "aggressive": RiskProfile(
        max_position_pct=0.25, min_cash_pct=0.02, stop_loss_pct=0.20, min_holding_days=1
    ),
}


class FillSettings(_Frozen):
    """The fill and cost model shared by the paper broker, the backtester and the trainer."""

    slippage_bps: float = Field(5.0, ge=0, le=500)
    """Adverse price move applied to every fill, in basis points."""
    commission_pct: float = Field(0.0, ge=0, le=0.05)
    """Commission as a fraction of notional."""
    min_commission: float = Field(0.0, ge=0)
    """Minimum commission per order, in account currency."""
    fractional: bool = True
    """Trade fractional shares (Alpaca supports them); False rounds down to whole shares."""


class TrendKingParams(_Frozen):
    """Parameters of the trend_king rules strategy (AEGIS seed)."""

    regime_symbol: str | None = None
    """Index used for the regime; None uses the account benchmark."""
    sma_window: int = Field(200, ge=20, le=400)
    """Length of the regime moving average."""
    hysteresis: float = Field(0.02, ge=0, lt=0.2)
    """Band around the average: ATTACK above avg*(1+h), DEFENSE below avg*(1-h)."""
    top_n: int = Field(5, ge=1, le=50)
    """How many names to hold in ATTACK."""
    exit_rank: int | None = Field(None, ge=1)
    """A holding is kept while it ranks within this; None means 2 * top_n (rank hysteresis)."""
    momentum_days: int = Field(126, ge=20, le=400)
    """Momentum lookback (126 sessions = 6 months)."""
    vol_days: int = Field(20, ge=5, le=120)
    """Volatility window for risk adjustment and inverse-vol weights."""
    max_weight: float = Field(0.25, gt=0, le=1)
    """Strategy cap per name before the risk profile's own cap."""
    defensive: tuple[str, ...] = ()
    """Assets held in DEFENSE (equal weight); empty means cash."""

    @model_validator(mode="after")
    def _exit_rank_not_below_top_n(self) -> TrendKingParams:
        if self.exit_rank is not None and self.exit_rank < self.top_n:
            raise ValueError(f"exit_rank ({self.exit_rank}) must be >= top_n ({self.top_n})")
        return self


class AccountConfig(_Frozen):
    """One virtual, paper or live portfolio."""

    strategy: Literal["trend_king", "rl_ensemble", "hybrid", "llm_manager"] = "trend_king"
    """Decision logic: trend_king (rules), rl_ensemble (the model pack's policies vote), hybrid (trend_king with an RL veto), llm_manager (the LLM decides trades; the risk engine clamps them; needs an oracle section with mode = "manager"). The RL strategies step their policies once per cycle: give them a daily schedule."""
    universe: tuple[str, ...] = Field(min_length=1)
    """Symbols the strategy may hold."""
    benchmark: str = "SP500"
    """Symbol compared against in reports (and the default regime index)."""
    schedule: str = "0 16 * * mon-fri"
    """Cron (minute hour day month weekday) in the engine timezone; only NYSE sessions run."""
    broker: Literal["paper", "alpaca"] = "paper"
    """Where live orders go (invest run, the engine): paper (simulated fills) or alpaca (the engine.alpaca endpoint, paper unless it says otherwise; needs ALPACA_API_KEY and ALPACA_SECRET_KEY). A backtest always replays with the paper broker."""
    risk: str = "balanced"
    """Name of a risk profile (built-in: balanced, conservative, aggressive)."""
    cash: float = Field(10_000.0, gt=0)
    """Starting cash."""
    data: str | None = None
    """Market data source for this account; None uses engine.data."""
    trend_king: TrendKingParams = TrendKingParams()
    """trend_king parameters (also the regime and ranking of hybrid)."""
    rl: RLParams = RLParams()
    """RL ensemble parameters (rl_ensemble and hybrid)."""
    oracle: OracleConfig | None = None
    """LLM oracle (gate mode): may veto or shrink this account's buys. None: no LLM."""
    watchlist: str | None = None
    """Name of a research watchlist (a [research.NAME] section): its newest symbols join the universe's candidates."""

    @model_validator(mode="after")
    def _manager_needs_an_oracle(self) -> AccountConfig:
        if self.strategy == "llm_manager" and (
            self.oracle is None or self.oracle.mode != "manager"
        ):
            raise ValueError('strategy "llm_manager" needs an oracle section with mode = "manager"')
        if (
            self.strategy != "llm_manager"
            and self.oracle is not None
            and self.oracle.mode == "manager"
        ):
            raise ValueError('oracle mode "manager" needs strategy = "llm_manager"')
        return self

    @field_validator("universe")
    @classmethod
    def _unique_symbols(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        dupes = sorted({s for s in v if v.count(s) > 1})
        if dupes:
            raise ValueError(f"duplicate symbols: {', '.join(dupes)}")
        return tuple(s.upper() for s in v)

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, v: str) -> str:
        from invest.runtime.schedule import check_cron  # lazy: APScheduler only when validating

        return check_cron(v)


class EngineConfig(_Frozen):
    """Settings of the engine process."""

    timezone: str = "America/New_York"
    """Timezone of account schedules."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        from invest.runtime.schedule import check_timezone  # lazy: like the cron check

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


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"invalid config {source}:"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(root)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the example config)"
        lines.append(f"  {path}: {msg}")
    return "\n".join(lines)


def _inject_secrets(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Refuse secrets written in the file; fill LLM API keys from the environment."""
    sections = [
        (f"{group}.{name}", entry)
        for group in ("accounts", "research")
        if isinstance(data.get(group), dict)
        for name, entry in data[group].items()
    ]
    for name, acct in sections:
        oracle = acct.get("oracle") if isinstance(acct, dict) else None
        if not isinstance(oracle, dict):
            continue
        var = str(oracle.get("api_key_env", "INVEST_LLM_API_KEY"))
        if "api_key" in oracle:
            raise ConfigError(
                f"invalid config {source}:\n  {name}.oracle.api_key: secrets never go in "
                f"the config file; put {var}=... in the secrets file (mode 0600) or the environment"
            )
        if key := os.environ.get(var):
            oracle["api_key"] = key
    return data


def parse_config(data: dict[str, Any], source: str = "<dict>") -> Settings:
    """Validate a config mapping.

    Raises:
        ConfigError: with one line per bad key path and what is wrong.
    """
    data = _inject_secrets(copy.deepcopy(data), source)
    try:
        return Settings(**data)
    except ValidationError as e:
        raise ConfigError(_format_errors(e, source)) from None


def with_adhoc_account(
    settings: Settings,
    strategy: str,
    universe: Sequence[str],
    benchmark: str = "SP500",
    cash: float | None = None,
    source: str = "command line",
) -> tuple[Settings, str]:
    """``settings`` with its accounts replaced by one account running ``strategy``.

    The account is named after the strategy (``trend_king`` -> ``trend-king``); the
    replay commands (``invest backtest``, ``invest robustness``) and the TUI's backtest
    screen build their configless runs with it.

    Raises:
        ConfigError: a bad value, with its key path.
    """
    acct: dict[str, Any] = {
        "strategy": strategy,
        "universe": list(universe),
        "benchmark": benchmark,
    }
    if cash is not None:
        acct["cash"] = cash
    name = strategy.replace("_", "-")
    data = settings.model_dump(mode="json", exclude={"accounts"})
    data["accounts"] = {name: acct}
    return parse_config(data, source), name


def load_config(path: Path) -> Settings:
    """Read and validate a TOML config file.

    Raises:
        ConfigError: the file is missing, not UTF-8, not TOML, or has a bad value.
    """
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config file {path} is not UTF-8: byte 0x{e.object[e.start]:02x} at offset {e.start}; "
            "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None
    return parse_config(data, str(path))


def parse_day(text: str | None, what: str) -> date | None:
    """Parse an ISO date from the command line.

    Raises:
        ConfigError: the text is not YYYY-MM-DD.
    """
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{what}: {text!r} is not a date; use YYYY-MM-DD") from None
