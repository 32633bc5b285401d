"""Parameters of the strategies that read a model pack: ``rl_ensemble`` and ``hybrid``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RLParams(BaseModel):
    """Parameters of the RL ensemble, shared by the rl_ensemble and hybrid strategies.

    The policy steps once per cycle of the account. Policies are trained on daily
    steps, so an account that runs them should have a daily schedule.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    pack: str = "default"
    """Model pack: a path (with a '/', starting with '~' or '.', or ending in .zip) or a name looked up in INVEST_HOME/packs, then among the packs bundled with the appliance."""
    min_confidence: float = Field(0.6, gt=0, le=1)
    """Vote share the winning action needs; below it the ensemble's decision is HOLD."""
    max_weight: float = Field(0.25, gt=0, le=1)
    """Strategy cap per name (rl_ensemble) before the risk profile's own cap."""
    top_n: int | None = Field(10, ge=1, le=100)
    """rl_ensemble: hold at most this many names (holdings first, then new buys by confidence); None means no limit. hybrid takes its count from trend_king.top_n."""
    weighting: Literal["equal", "inverse_vol"] = "equal"
    """How rl_ensemble weights its targets: equal weights or inverse volatility, each capped at max_weight."""
    vol_days: int = Field(20, ge=5, le=120)
    """Volatility window for inverse_vol weights."""
    allow_unpromoted: bool = False
    """Trade real money with a pack that did not pass its promotion gate. Backtests, the demo and paper accounts may always run one; an account whose orders reach Alpaca's live endpoint refuses it unless this is true."""
