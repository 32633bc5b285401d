"""Accounts and what they are made of: risk profiles, fills, strategy parameters.

The RL parameters (:mod:`.rl`) and the oracle settings (:mod:`.oracle`) have their
own modules; an account holds one of each.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from invest.runtime.config.base import Frozen
from invest.runtime.config.checks import check_cron
from invest.runtime.config.context import VixFilter
from invest.runtime.config.mandate import MandateConfig
from invest.runtime.config.options_account import OPTIONS_STRATEGIES, OptionsAccountConfig
from invest.runtime.config.oracle import OracleConfig
from invest.runtime.config.portfolio import PortfolioConfig
from invest.runtime.config.rl import RLParams
from invest.runtime.config.universe import DynamicUniverseConfig

#: A model family's name: it ends account names (NAME-FAMILY), so it is kept name-like.
_FAMILY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")

__all__ = [
    "DEFAULT_RISK_PROFILES",
    "AccountConfig",
    "FillSettings",
    "RiskProfile",
    "TrendKingParams",
]


class RiskProfile(Frozen):
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
    bootstrap_cash_pct: float | None = Field(None, gt=0, lt=1)
    """Bootstrap mode: while cash is more than this share of equity (0.80), max_trades_per_cycle is multiplied by bootstrap_trade_factor, to deploy a new account's capital faster. None disables."""
    bootstrap_trade_factor: int = Field(2, ge=1, le=10)
    """How many times max_trades_per_cycle a cycle in bootstrap mode may place."""
    drawdown_flat_pct: float = Field(0.01, ge=0, lt=1)
    """A book invested below this share of equity is flat: an engaged drawdown brake then re-bases the equity peak to the current equity and releases (the loss is realised, nothing is left to protect), so the next entry starts at full size. 0 keeps the old latch (release only on recovery to half the trigger)."""
    var_limit_pct: float | None = Field(None, gt=0, lt=1)
    """1-day VaR cap on the book as a fraction of equity (0.03 = 3%): each buy, largest first, is shrunk until the book with it stays within the cap, or blocked. None disables."""
    var_level: float = 0.99
    """Confidence of the VaR limit: 0.95 or 0.99 (the tail holds 5% or 1% of days)."""
    var_method: Literal["historical", "parametric"] = "historical"
    """How the VaR limit measures the book: historical (the k-th worst day of its trailing returns) or parametric (normal, from their mean and standard deviation)."""
    var_lookback: int = Field(250, ge=20, le=2520)
    """Trailing sessions of daily returns the VaR limit reads (250 = about a year)."""

    @field_validator("var_level")
    @classmethod
    def _var_level_is_95_or_99(cls, v: float) -> float:
        if v not in (0.95, 0.99):
            raise ValueError(f"var_level must be 0.95 or 0.99, got {v!r}")
        return v


DEFAULT_RISK_PROFILES: dict[str, RiskProfile] = {
    "balanced": RiskProfile(),
    "conservative": RiskProfile(
        max_position_pct=0.15, min_cash_pct=0.10, stop_loss_pct=0.10, drawdown_brake_pct=0.15
    ),
    "aggressive": RiskProfile(
        max_position_pct=0.25, min_cash_pct=0.02, stop_loss_pct=0.20, min_holding_days=1
    ),
}


class FillSettings(Frozen):
    """The fill and cost model shared by the paper broker, the backtester and the trainer."""

    slippage_bps: float = Field(5.0, ge=0, le=500)
    """Adverse price move applied to every fill, in basis points."""
    commission_pct: float = Field(0.0, ge=0, le=0.05)
    """Commission as a fraction of notional."""
    min_commission: float = Field(0.0, ge=0)
    """Minimum commission per order, in account currency."""
    fractional: bool = True
    """Trade fractional shares (Alpaca supports them); False rounds down to whole shares."""


class TrendKingParams(Frozen):
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
    vix_filter: VixFilter | None = None
    """DEFENSE while the VIX (lagged one session) is above ``enter``, until it is below ``exit``; ATTACK needs both this and the SMA regime. None: off."""
    regime_model: Literal["sma", "hmm"] = "sma"
    """The regime: sma (the index against its moving average, with the hysteresis band) or hmm (a Gaussian hidden Markov model on the index's daily returns, fitted walk-forward by `invest train hmm-regime`, filtered day by day; ATTACK while P(attack state) is above the file's thresholds)."""
    hmm_params: str | None = None
    """regime_model = "hmm" only: the parameters file (JSON); None uses the bundled one, fitted on the sample's SP500 (the regime index must be the symbol the file was fitted on)."""

    @model_validator(mode="after")
    def _exit_rank_not_below_top_n(self) -> TrendKingParams:
        if self.exit_rank is not None and self.exit_rank < self.top_n:
            raise ValueError(f"exit_rank ({self.exit_rank}) must be >= top_n ({self.top_n})")
        return self

    @model_validator(mode="after")
    def _hmm_params_need_the_hmm(self) -> TrendKingParams:
        if self.hmm_params is not None and self.regime_model != "hmm":
            raise ValueError(
                'hmm_params is read only with regime_model = "hmm"; set it or drop hmm_params'
            )
        return self


class AccountConfig(Frozen):
    """One virtual, paper or live portfolio."""

    strategy: Literal[
        "trend_king", "rl_ensemble", "hybrid", "llm_manager", "wheel", "vertical_spreads"
    ] = "trend_king"
    """Decision logic: trend_king (rules), rl_ensemble (the model pack's policies vote), hybrid (trend_king with an RL veto), llm_manager (the LLM decides trades; the risk engine clamps them; needs an oracle section with mode = "manager"), wheel (cash-secured puts, then covered calls on assigned shares) and vertical_spreads (defined-risk spreads picked from the regime and the IV): the two options strategies need an options section and run in backtests only for now. The RL strategies step their policies once per cycle: give them a daily schedule."""
    universe: tuple[str, ...] = Field(min_length=1)
    """Symbols the strategy may hold (an options account: the underlyings)."""
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
    """LLM oracle (gate mode): may veto or shrink this account's buys; on an options account, chooses among the rules' candidates at no more than their contracts (the LLM variant, e.g. wheel-llm). None: no LLM."""
    watchlist: str | None = None
    """Name of a research watchlist (a [research.NAME] section): its newest symbols join the universe's candidates."""
    options: OptionsAccountConfig | None = None
    """Options accounts (strategy wheel or vertical_spreads) only: chain, selection, option risk rules."""
    mandate: MandateConfig | None = None
    """Target split of equity by asset class (the [assets] table gives each symbol's class), held by the risk engine and shown to the LLM manager. None: no mandate."""
    dynamic_universe: DynamicUniverseConfig | None = None
    """Re-select the traded names each quarter from ``universe``, which becomes the candidate list (trend_king, hybrid, llm_manager). None: the whole universe trades."""
    portfolio: PortfolioConfig = PortfolioConfig()
    """Portfolio construction (how trend_king and hybrid weight their picks) and sizing (the risk engine's vol target, Kelly or fixed fraction)."""
    family: str | None = None
    """Model family for A/B comparison (e.g. "qwen3-next", "nemotron", "rules"): `invest compare` with no accounts groups the ledger's accounts by it and pairs the same strategy across families (an account named NAME-FAMILY pairs with NAME and with NAME-OTHER). None: in no family."""

    @property
    def trades_options(self) -> bool:
        """True for an options account (an options strategy, with its options section)."""
        return self.strategy in OPTIONS_STRATEGIES

    @model_validator(mode="after")
    def _options_section_matches_strategy(self) -> AccountConfig:
        if self.strategy in OPTIONS_STRATEGIES and self.options is None:
            raise ValueError(
                f'strategy "{self.strategy}" trades options and needs an options section '
                "([accounts.NAME.options], its defaults are fine: an empty table)"
            )
        if self.strategy not in OPTIONS_STRATEGIES and self.options is not None:
            raise ValueError(
                f"an options section needs an options strategy ({' or '.join(OPTIONS_STRATEGIES)}), "
                f'not "{self.strategy}": remove [accounts.NAME.options] or change the strategy'
            )
        if self.options is not None and self.watchlist is not None:
            raise ValueError(
                "an options account takes no watchlist section yet (its research lands "
                "later): remove watchlist"
            )
        if self.options is not None and self.oracle is not None:
            _check_options_oracle(self.oracle)
        return self

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

    @model_validator(mode="after")
    def _dynamic_universe_fits(self) -> AccountConfig:
        dyn = self.dynamic_universe
        if dyn is None:
            return self
        if self.strategy == "rl_ensemble" or self.trades_options:
            raise ValueError(
                f'dynamic_universe is for trend_king, hybrid and llm_manager, not "{self.strategy}" '
                "(its policies or option rules trade the whole universe): remove [accounts.NAME.dynamic_universe]"
            )
        if dyn.top_n > len(self.universe):
            raise ValueError(
                f"dynamic_universe.top_n ({dyn.top_n}) exceeds the {len(self.universe)} candidates "
                "in universe: lower top_n or add candidates"
            )
        return self

    @field_validator("universe")
    @classmethod
    def _unique_symbols(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        dupes = sorted({s for s in v if v.count(s) > 1})
        if dupes:
            raise ValueError(f"duplicate symbols: {', '.join(dupes)}")
        return tuple(s.upper() for s in v)

    @field_validator("family")
    @classmethod
    def _family_name(cls, v: str | None) -> str | None:
        if v is not None and not _FAMILY.match(v):
            raise ValueError(
                f"family {v!r} must be 1-40 lowercase letters, digits, '.', '-' or '_' "
                'starting with a letter or digit (e.g. "qwen3-next")'
            )
        return v

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, v: str) -> str:
        return check_cron(v)


def _check_options_oracle(oracle: OracleConfig) -> None:
    """Refuse the oracle settings an options account cannot use (its LLM variant reviews
    the rules' plan, the gate's job: the manager mode and headlines have no part in it)."""
    if oracle.mode != "gate":
        raise ValueError(
            f"an options account's oracle reviews the rules' plan: mode \"{oracle.mode}\" "
            'is for strategy = "llm_manager"; remove the mode line (or set mode = "gate")'
        )
    news = oracle.news
    if news.feeds or news.yfinance:
        raise ValueError(
            "an options account's prompts carry no headlines: remove "
            "[accounts.NAME.oracle.news] (feeds, yfinance)"
        )
