"""Settings of the options layer: the backtest's modelled chain and the selection rules.

``ModelledChainConfig`` says how :mod:`invest.runtime.options.modelled` builds a chain
from an underlying's closes (expiries, strike grid, volatility model, bid/ask).
``SelectionConfig`` says how :mod:`invest.runtime.options.selection` picks an expiry,
the strikes and the spread width, and when the credit or debit refuses a spread.
Neither is wired into an account yet; :data:`DEFAULT_MODELLED_CHAIN` and
:data:`DEFAULT_SELECTION` are the defaults the strategies will start from.
``WheelParams`` and ``SpreadsParams`` are the rules of the two option strategies
(:mod:`invest.runtime.strategies.wheel`, :mod:`invest.runtime.strategies.vertical_spreads`).
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from typing import Literal

from pydantic import Field, field_validator, model_validator

from invest.runtime.config.base import Frozen

__all__ = [
    "DEFAULT_MODELLED_CHAIN",
    "DEFAULT_SELECTION",
    "ModelledChainConfig",
    "SelectionConfig",
    "SpreadKind",
    "SpreadsParams",
    "StrikeBand",
    "WheelParams",
    "WidthRule",
]


class StrikeBand(Frozen):
    """Strikes below ``below`` are listed every ``step`` dollars (the last band has no bound)."""

    below: float | None = Field(None, gt=0)
    """Upper bound (exclusive) of the band's strikes; None for the last, open-ended band."""
    step: float = Field(gt=0)
    """Strike interval in the band, in dollars (at most 3 decimals: OCC writes thousandths)."""

    @field_validator("step")
    @classmethod
    def _thousandths(cls, v: float) -> float:
        if abs(v * 1000 - round(v * 1000)) > 1e-9:
            raise ValueError(f"strike step {v} has more than 3 decimals (OCC cannot write it)")
        return v


#: Listed equity strike intervals near the money, as liquid names list them today:
#: $0.50 up to $5, $1 up to $50 (the $1 Strike Price Interval Program), $2.50 up to
#: $100, $5 up to $200, $10 above. CBOE Rule 5.5's base grid is coarser ($5 from $25
#: to $200); on that grid a $40-60 stock has one strike between 0.10 and 0.50 delta
#: on a weekly, so a 0.30-delta target lands on 0.10 or 0.50. Listings vary by name
#: and era (SPX lists every 5 points): this is a parameter.
_LISTED_GRID = (
    StrikeBand(below=5.0, step=0.5),
    StrikeBand(below=50.0, step=1.0),
    StrikeBand(below=100.0, step=2.5),
    StrikeBand(below=200.0, step=5.0),
    StrikeBand(below=None, step=10.0),
)


class ModelledChainConfig(Frozen):
    """How the backtest models an option chain from the underlying's daily closes.

    ATM IV is the trailing realised volatility times ``1 + vol_risk_premium``; where a
    VIX close exists on the previous session (and ``vix`` is ``"premium"``), the
    premium is the market's instead: VIX / the index's realised volatility over the
    same window, applied to the underlying's own realised volatility (for the index
    itself that is VIX). The smile multiplies ATM IV by ``1 - slope * z`` with the
    standardised moneyness ``z = ln(strike / forward) / (ATM IV * sqrt(t))`` (a
    25-delta put sits near z = -0.67), ``put_skew`` below the forward, ``call_skew`` above.
    """

    realised_vol_window: int = Field(21, ge=5, le=252)
    """Sessions of daily log returns in the trailing realised volatility (21: about a month, VIX's 30 calendar days)."""
    vol_risk_premium: float = Field(0.15, ge=-0.5, le=2.0)
    """ATM IV = realised vol x (1 + this) when VIX is not used. Implied vol has exceeded realised vol on average (the variance risk premium, Carr and Wu 2009); 0.15 is a moderate figure."""
    vix: Literal["premium", "off"] = "premium"
    """"premium": where VIX has a close on the previous session, the premium is VIX / the index's realised vol (clipped to vix_ratio_min..vix_ratio_max); "off": VIX is never read."""
    vix_index_symbol: str = "SP500"
    """The index whose realised volatility VIX is set against (the bundled S&P 500 index, the regime proxy for SPY)."""
    vix_ratio_min: float = Field(0.7, gt=0)
    """Lowest IV/RV ratio taken from VIX (a quiet month after a crash can make VIX/RV implausibly small)."""
    vix_ratio_max: float = Field(3.0, gt=0)
    """Highest IV/RV ratio taken from VIX (a calm index month with a nervous VIX gives large ratios)."""
    put_skew: float = Field(0.30, ge=0, le=5)
    """IV slope per unit of standardised moneyness z below the forward: IV = ATM x (1 - put_skew x z), z < 0 (puts richer); 0.30 puts the 25-delta put about 20% above ATM."""
    call_skew: float = Field(0.10, ge=-5, le=5)
    """IV slope per unit of standardised moneyness z above the forward: IV = ATM x (1 - call_skew x z), z > 0 (negative: a smile that rises on the call side)."""
    min_iv: float = Field(0.05, gt=0, lt=5)
    """IV floor (annualised, decimal) after the premium and the skew."""
    max_iv: float = Field(2.0, gt=0, le=5)
    """IV cap (annualised, decimal) after the premium and the skew."""
    spread_fraction: float = Field(0.05, ge=0, lt=1)
    """Full bid/ask spread as a fraction of the model mid (bid = mid - half, ask = mid + half)."""
    min_spread: float = Field(0.05, ge=0)
    """Smallest full bid/ask spread in dollars per share, whatever the fraction gives."""
    tick: float = Field(0.01, gt=0)
    """Price increment: the bid is floored and the ask raised to it (a penny, as quoted under the Penny Interval Program)."""
    strike_grid: tuple[StrikeBand, ...] = _LISTED_GRID
    """Strike interval by strike price, lowest band first (default: the CBOE listed intervals, see the module)."""
    strike_range_sd: float = Field(2.5, gt=0, le=10)
    """Strikes listed per expiry: spot x exp(+- this x ATM IV x sqrt(t)) ..."""
    min_strikes_each_side: int = Field(3, ge=1, le=50)
    """... and at least this many grid strikes below and above spot whatever the range gives."""
    weekly_expiries: int = Field(4, ge=0, le=12)
    """Weekly (Friday) expiries listed ahead, where weeklies existed on the day."""
    monthly_expiries: int = Field(3, ge=1, le=24)
    """Monthly (third Friday, Thursday when the Friday is an exchange holiday) expiries listed ahead."""
    weeklies_from_index: date = date(2005, 10, 28)
    """First weekly expiry on index options: CBOE listed its first Weeklys (on SPX/OEX/XEO) in October 2005."""
    weeklies_from_stocks: date = date(2010, 6, 4)
    """First weekly expiry on single stocks: CBOE extended Weeklys to equities in June 2010 (a handful of names, widening through 2011); before it a stock lists monthlies only."""
    index_symbols: tuple[str, ...] = ("SP500", "SPX", "SPY")
    """Underlyings that get weeklies from weeklies_from_index; every other one is a single stock."""
    rate: float = Field(0.015, ge=-0.05, le=0.2)
    """Constant risk-free rate (decimal, continuous) for every day of the backtest: a simplification; 1.5% is about the mean 3-month T-bill yield of 2005-2022."""
    dividend_yield: float = Field(0.0, ge=0, le=0.2)
    """Continuous dividend yield. 0 on the bundled data: its closes are dividend-adjusted, so the series a backtest marks already carries the dividends as price growth, like a stock that pays none."""

    @field_validator("strike_grid")
    @classmethod
    def _grid_in_order(cls, v: tuple[StrikeBand, ...]) -> tuple[StrikeBand, ...]:
        if not v:
            raise ValueError("strike_grid needs at least one band")
        if v[-1].below is not None:
            raise ValueError(
                "the last strike_grid band must have no 'below' bound (it covers every higher strike)"
            )
        bounds = [b.below for b in v[:-1] if b.below is not None]
        if len(bounds) != len(v) - 1:
            raise ValueError("only the last strike_grid band may omit 'below'")
        if any(a >= b for a, b in pairwise(bounds)):
            raise ValueError(
                f"strike_grid bands must rise: 'below' bounds {bounds} are not increasing"
            )
        return v

    @field_validator("index_symbols")
    @classmethod
    def _upper(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(s.upper() for s in v)

    @model_validator(mode="after")
    def _ranges(self) -> ModelledChainConfig:
        if self.min_iv >= self.max_iv:
            raise ValueError(f"min_iv ({self.min_iv}) must be below max_iv ({self.max_iv})")
        if self.vix_ratio_min >= self.vix_ratio_max:
            raise ValueError(
                f"vix_ratio_min ({self.vix_ratio_min}) must be below vix_ratio_max ({self.vix_ratio_max})"
            )
        if self.put_skew < self.call_skew:
            raise ValueError(
                f"put_skew ({self.put_skew}) must be at least call_skew ({self.call_skew}): "
                "equity smiles are steeper on the put side"
            )
        return self


class WidthRule(Frozen):
    """The distance between a spread's strikes: a number of listed strikes or a share of spot."""

    unit: Literal["strikes", "percent"] = "strikes"
    """"strikes": that many listed strikes away; "percent": the listed strike nearest to that % of spot away."""
    value: float = Field(2, gt=0)
    """Strikes (a whole number) or percent of spot (e.g. 5 for 5%)."""

    @model_validator(mode="after")
    def _whole_strikes(self) -> WidthRule:
        if self.unit == "strikes" and self.value != int(self.value):
            raise ValueError(f"a width in strikes must be a whole number, got {self.value}")
        if self.unit == "percent" and self.value >= 50:
            raise ValueError(
                f"a width of {self.value}% of spot is not a spread; give a percent below 50"
            )
        return self


class SelectionConfig(Frozen):
    """How strikes, the expiry and the spread width are picked, and what refuses a spread.

    Deltas are absolute (0.30 means a -0.30 put or a +0.30 call).
    """

    min_dte: int = Field(5, ge=0, le=730)
    """Shortest calendar days to expiry an opened position may have."""
    max_dte: int = Field(45, ge=1, le=730)
    """Longest calendar days to expiry an opened position may have."""
    prefer: Literal["nearest", "monthly"] = "nearest"
    """Which expiry in the DTE window: the nearest, or the nearest monthly (the nearest when none is monthly)."""
    wheel_put_delta: float = Field(0.30, gt=0, lt=1)
    """|delta| of the wheel's cash-secured put."""
    wheel_call_delta: float = Field(0.30, gt=0, lt=1)
    """|delta| of the wheel's covered call."""
    credit_short_delta: float = Field(0.30, gt=0, lt=1)
    """|delta| of the short leg of a bull put or bear call spread."""
    debit_long_delta: float = Field(0.50, gt=0, lt=1)
    """|delta| of the long leg of a bull call or bear put spread."""
    condor_short_delta: float = Field(0.16, gt=0, lt=0.5)
    """|delta| of the iron condor's short put and short call."""
    butterfly_centre_delta: float = Field(0.50, gt=0, lt=1)
    """|delta| of the butterfly's centre strike (0.50: at the money)."""
    width: WidthRule = WidthRule()
    """Distance from the short (credit) or long (debit) strike to the other leg; a condor's wing and a butterfly's half-width."""
    min_credit_fraction: float = Field(0.25, gt=0, lt=1)
    """A credit spread (bull put, bear call, iron condor) is refused when its credit is below this share of the width."""
    max_debit_fraction: float = Field(0.60, gt=0, lt=1)
    """A debit spread (bull call, bear put, butterfly) is refused when its debit is above this share of the width."""
    price_at: Literal["natural", "mid"] = "natural"
    """Prices the credit/debit rules use: "natural" (sell at the bid, buy at the ask: what crossing the spread gets) or "mid"."""

    @model_validator(mode="after")
    def _window(self) -> SelectionConfig:
        if self.min_dte > self.max_dte:
            raise ValueError(f"min_dte ({self.min_dte}) must not exceed max_dte ({self.max_dte})")
        return self


DEFAULT_MODELLED_CHAIN = ModelledChainConfig()
DEFAULT_SELECTION = SelectionConfig()


class WheelParams(Frozen):
    """The wheel's rules: cash-secured puts until assigned, then covered calls; hold or roll.

    Strikes and the expiry come from ``selection`` (``wheel_put_delta``,
    ``wheel_call_delta``, the DTE window). A short option is rolled when it is tested
    (spot through its strike) with ``roll_dte`` days or fewer to go, and only for a
    net credit of at least ``min_roll_credit``; otherwise it is held into assignment
    (or being called away), which is the wheel's plan.
    """

    selection: SelectionConfig = DEFAULT_SELECTION
    """Expiry window, deltas and pricing (``price_at``) of the puts and calls sold."""
    max_allocation: float = Field(0.50, gt=0, le=1)
    """Share of free cash one underlying's cash-secured puts may secure: contracts =
    floor(free cash x this / (strike x 100)), at most ``max_contracts``."""
    max_contracts: int = Field(10, ge=1, le=1000)
    """Most contracts in one open (puts, or covered calls on the whole lots held)."""
    min_iv_percentile: float = Field(0.20, ge=0, lt=1)
    """No new put or call when the underlying's IV percentile is below this (0..1): the
    premium of the quietest fifth of the year does not pay for the assignment risk.
    0 never skips; an unknown percentile never skips (the notes say so)."""
    earnings_blackout_days: int = Field(7, ge=0, le=90)
    """Open nothing (no put, call or roll) when earnings fall within this many calendar days."""
    roll_dte: int = Field(7, ge=0, le=60)
    """A tested short option is rolled at this many calendar days to expiry or fewer."""
    min_roll_credit: float = Field(0.01, ge=0)
    """Net credit per share (new premium at the selection's prices less the buy-back at
    the ask) a roll must bring; 0.01: "for a credit", never paying to roll."""
    alt_delta_step: float = Field(0.05, ge=0, lt=0.5)
    """Candidates also hold the puts/calls this much |delta| below and above the target
    (an LLM variant may choose them); 0: none."""
    alt_expiries: int = Field(1, ge=0, le=6)
    """Candidates also hold the target delta at this many later expiries in the window."""


#: The vertical strategies' structure kinds, as config spells them.
SpreadKind = Literal["bull_call", "bear_put", "bull_put", "bear_call", "iron_condor", "butterfly"]


class SpreadsParams(Frozen):
    """The vertical spreads' rules: the type from regime, IV percentile and skew; open, close, skip.

    Pass 1 (the type), by the first row that matches:

    ========================================  ==========  ===========
    IV percentile (p) and skew (s)            ATTACK      DEFENSE
    ========================================  ==========  ===========
    p >= condor_iv_percentile, s <= max skew  iron_condor iron_condor
    p >= high_iv_percentile                   bull_put    bear_call
    p below                                   bull_call   bear_put
    ========================================  ==========  ===========

    Rich volatility is sold (credit spreads), cheap volatility bought (debit spreads),
    on the regime's side; very rich volatility without a crash bid in the skew is sold
    on both sides (an iron condor). An unknown IV percentile picks nothing.
    """

    selection: SelectionConfig = DEFAULT_SELECTION
    """Expiry window, deltas, width and the credit/debit rules of the spreads."""
    allowed: tuple[SpreadKind, ...] = (
        "bull_call",
        "bear_put",
        "bull_put",
        "bear_call",
        "iron_condor",
    )
    """Types that may be opened (the rules' pick and the candidates an LLM variant may choose)."""
    high_iv_percentile: float = Field(0.50, ge=0, le=1)
    """IV percentile (0..1) from which volatility is sold (credit spreads) rather than bought."""
    condor_iv_percentile: float = Field(0.80, ge=0, le=1)
    """IV percentile from which an iron condor is sold, when the skew is calm."""
    condor_max_skew: float = Field(0.12, ge=0, le=2)
    """The condor's skew gate, in vol (0.12 = 12 points of 25-delta put IV over call IV):
    a steeper skew is a crash bid, the market pricing a one-way move, and the regime's
    row applies instead. An unknown skew never opens a condor."""
    max_allocation: float = Field(0.25, gt=0, le=1)
    """Share of free cash one spread's max loss may take: contracts = floor(free cash x
    this / max loss per contract), at most ``max_contracts``."""
    max_contracts: int = Field(10, ge=1, le=1000)
    """Most contracts in one spread."""
    earnings_blackout_days: int = Field(7, ge=0, le=90)
    """Open no spread when earnings fall within this many calendar days."""

    @field_validator("allowed")
    @classmethod
    def _some(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("allowed needs at least one spread type")
        if len(set(v)) != len(v):
            raise ValueError(f"allowed lists a type twice: {list(v)}")
        return v

    @model_validator(mode="after")
    def _rows(self) -> SpreadsParams:
        if self.condor_iv_percentile < self.high_iv_percentile:
            raise ValueError(
                f"condor_iv_percentile ({self.condor_iv_percentile}) must be at least "
                f"high_iv_percentile ({self.high_iv_percentile}): a condor sells the richest volatility"
            )
        return self
