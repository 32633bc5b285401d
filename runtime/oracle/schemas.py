"""Strict, typed shapes of what the oracle accepts from a model.

The parser normalises common drift first (see
:mod:`invest.runtime.oracle.normalise`); these models then validate one item
at a time, so a bad item is dropped alone.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,14}$")


def _check_symbol(value: str) -> str:
    value = value.strip().upper().lstrip("$")
    if not _SYMBOL.match(value):
        raise ValueError(f"not a ticker symbol: {value[:20]!r}")
    return value


def _short(limit: int) -> AfterValidator:
    return AfterValidator(lambda s: s.strip()[:limit])


Symbol = Annotated[str, AfterValidator(_check_symbol)]
Text = Annotated[str, _short(1000)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
_STRICT = ConfigDict(extra="ignore", frozen=True, strict=True)


class Verdict(StrEnum):
    """The gate's answer about one proposed buy."""

    APPROVE = "APPROVE"
    SHRINK = "SHRINK"
    VETO = "VETO"


class GateVerdict(BaseModel):
    """One verdict on a proposed buy; ``fraction`` is the share allowed (0..1)."""

    model_config = _STRICT

    symbol: Symbol
    verdict: Verdict
    fraction: Fraction
    reason: Text = ""
    headline_ids: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> GateVerdict:
        if self.verdict is Verdict.APPROVE and self.fraction != 1.0:
            raise ValueError("APPROVE must allow the whole order (fraction 1)")
        if self.verdict is Verdict.VETO and self.fraction != 0.0:
            raise ValueError("VETO must allow nothing (fraction 0)")
        return self


class MarketRegime(StrEnum):
    """The model's reading of the market (pass 1)."""

    BULL = "BULL"
    BEAR = "BEAR"
    SIDEWAYS = "SIDEWAYS"
    HIGH_VOLATILITY = "HIGH_VOLATILITY"


class MarketAnalysis(BaseModel):
    """Pass 1 of manager mode: the market as the model sees it."""

    model_config = _STRICT

    regime: MarketRegime
    sector_scores: dict[str, Annotated[float, Field(ge=-2.0, le=2.0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )
    portfolio_health: Text = ""
    opportunities: tuple[Text, ...] = ()
    threats: tuple[Text, ...] = ()
    summary: Text = ""


class Action(StrEnum):
    """What manager mode proposes for a symbol."""

    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


class TradeAction(BaseModel):
    """Pass 2 of manager mode: one typed trade decision (the risk engine clamps it later).

    ``amount`` is a USD notional; for a SELL, None means the whole position.
    Percentages are fractions: ``stop_loss_pct=0.08`` is a stop 8% below entry.
    """

    model_config = _STRICT

    action: Action
    symbol: Symbol
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None
    thesis: Text = ""
    stop_loss_pct: Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)] | None = None
    take_profit_pct: Annotated[float, Field(gt=0.0, le=10.0, allow_inf_nan=False)] | None = None
    time_stop_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    headline_ids: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _amount_fits_action(self) -> TradeAction:
        if self.action is Action.BUY and (self.amount is None or self.amount <= 0):
            raise ValueError("BUY needs a positive amount")
        if self.action is Action.SELL and self.amount is not None and self.amount <= 0:
            raise ValueError("SELL needs a positive amount, or none for the whole position")
        return self
