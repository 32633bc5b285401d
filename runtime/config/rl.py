"""Parameters of the strategies that read a model pack: ``rl_ensemble`` and ``hybrid``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RLParams(BaseModel):
    """Parameters of the RL ensemble, shared by the rl_ensemble and hybrid strategies.

    The policy steps once per cycle of the account. Policies are trained on daily
    steps, so an account that runs them should have a daily schedule.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    pack: str = "default"
    """Model pack: a path (with a '/', starting with '~' or '.', or ending in .zip) or a name looked up in INVEST_HOME/packs, then among the packs bundled with the appliance."""
    min_confidence: float = Field(0.5, gt=0, le=1)
    """hybrid: a trend_king pick is vetoed when the ensemble's mean probability of OUT is at least this."""
    shrink: bool = False
    """hybrid: also shrink a kept pick in proportion to the ensemble's expected level when it is below one equal-weight slot (it never grows)."""
    max_weight: float = Field(0.25, gt=0, le=1)
    """Strategy cap per name (rl_ensemble) before the risk profile's own cap."""
    min_weight: float = Field(0.005, ge=0, lt=1)
    """rl_ensemble: a target below this weight is no position (0.5%: a level of 0.1 slot in a 20-name book)."""
    top_n: int | None = Field(None, ge=1, le=100)
    """rl_ensemble: hold only the names with the highest expected levels (None: every name with a level above 0). hybrid takes its count from trend_king.top_n."""
    allow_unpromoted: bool = False
    """Trade real money with a pack that did not pass its promotion gate. Backtests, the demo and paper accounts may always run one; an account whose orders reach Alpaca's live endpoint refuses it unless this is true."""
