"""Typed view of a model pack's ``manifest.json`` (see ``docs/model-pack.md``).

Fields the runtime needs are required and checked; descriptive sections (training,
walk-forward, versions...) are optional. Unknown keys are kept, not refused, so a
runtime can read a pack written by a newer trainer that adds information.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: The manifest format this runtime reads: 2 is the portfolio contract (observation spec 2,
#: target-level actions, frozen normalisation); format 1 packs (single-symbol
#: SELL/HOLD/BUY policies) are refused with a line that says to retrain.
MANIFEST_FORMAT = 2


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)


class FeatureSpecInfo(_Section):
    """The feature spec a pack was trained on."""

    version: str
    """``features.FEATURE_SPEC_VERSION`` at training time."""
    hash: str
    """``features.spec_hash(ohlc=...)`` at training time, combined with the context block's
    definition when the pack declares one (``contract.context_spec_hash``)."""
    names: tuple[str, ...]
    """Feature names, in observation order."""
    ohlc: bool = False
    """True when the features were computed with highs and lows."""


class ObservationInfo(_Section):
    """Shape and layout of one symbol's observation."""

    dim: int = Field(ge=1)
    """Length of the observation vector (``contract.OBS_DIM``)."""
    layout: tuple[str, ...]
    """Name of each element, in order."""
    spec: str = "1"
    """Observation spec version (``contract.OBS_SPEC_VERSION``)."""
    context: tuple[str, ...] = ()
    """Market context series appended to every symbol's observation (``contract.CONTEXT_SERIES``
    keys, in block order); empty for a pack without a context block (the bundled one)."""


class NormalisationInfo(_Section):
    """Observation statistics frozen from the training rows; the runtime applies them."""

    layout: tuple[str, ...]
    """The observation layout they were fitted for."""
    mean: tuple[float, ...]
    """Per-field mean."""
    std: tuple[float, ...]
    """Per-field standard deviation (1 for fields that pass through)."""
    clip: float = 5.0
    """Normalised values are clipped to ``[-clip, clip]``."""


class LstmInfo(_Section):
    """Sizes of the recurrent state."""

    hidden: int = Field(ge=1)
    """Hidden size of each LSTM layer."""
    layers: int = Field(1, ge=1)
    """Number of stacked LSTM layers."""


class PolicyInfo(_Section):
    """One ONNX policy of the ensemble."""

    file: str
    """Path inside the pack (relative, '/'-separated)."""
    sha256: str
    """Hex SHA-256 of the file."""
    seed: int | None = None
    """Training seed."""
    fold: int | str | None = None
    """Walk-forward fold it was trained for."""

    @field_validator("file")
    @classmethod
    def _inside_the_pack(cls, v: str) -> str:
        p = PurePosixPath(v)
        if not v or p.is_absolute() or ".." in p.parts or "\\" in v:
            raise ValueError(f"policy file {v!r} must be a relative path inside the pack")
        return v

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, v: str) -> str:
        v = v.lower()
        if len(v) != 64 or any(ch not in "0123456789abcdef" for ch in v):
            raise ValueError(f"{v!r} is not a hex SHA-256 digest")
        return v


class UniverseInfo(_Section):
    """What the policies were trained on."""

    rule: str = ""
    """How the training universe was chosen."""
    tickers: tuple[str, ...] = ()
    """The training tickers."""
    min_size: int = Field(3, ge=1)
    """The smallest universe the policies serve (they rank symbols against each other)."""
    episode_size: int | None = None
    """Symbols per training portfolio."""


class TrainingWindow(_Section):
    """One walk-forward fold."""

    fold: int | str | None = None
    """Fold label (usually the test year)."""
    train: tuple[str, str] | None = None
    """First and last training session."""
    test: tuple[str, str] | None = None
    """First and last test session."""
    embargo_days: int | None = None
    """Sessions dropped between train and test."""


class TrainingInfo(_Section):
    """How the policies were trained."""

    windows: tuple[TrainingWindow, ...] = ()
    """Walk-forward folds."""
    seeds: tuple[int, ...] = ()
    """Training seeds."""
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    """Algorithm hyperparameters."""
    timesteps: int | None = None
    """Training steps per policy."""


class WalkForwardTable(_Section):
    """Out-of-sample results, one row per test period."""

    columns: tuple[str, ...]
    """Column names (the first is the period)."""
    rows: tuple[tuple[Any, ...], ...] = ()
    """One row per period."""
    metric: str = ""
    """What the numbers measure (for example total_return)."""


class PromotionInfo(_Section):
    """Whether the pack passed the promotion rule."""

    passed: bool
    """True when the pack may be used."""
    rule: str = ""
    """The rule, in words."""
    values: dict[str, Any] = Field(default_factory=dict)
    """The numbers the rule was applied to."""
    criteria: tuple[dict[str, Any], ...] = ()
    """Each threshold: ``{check, value, limit, passed, detail}`` (test years, chained)."""
    degenerate: tuple[dict[str, Any], ...] = ()
    """Each degenerate check: ``{check, value, limit, passed, detail}``; any failure refuses the pack."""
    sharpe_diff_ci: dict[str, Any] | None = None
    """Block-bootstrap interval of hybrid's Sharpe minus trend_king's: ``estimate``, ``low``, ``high``, ``level``..."""
    chained: dict[str, Any] | None = None
    """Chained out-of-sample figures: ``{split: {series: {cagr, sharpe, max_drawdown, total_return}}}``."""
    test_years: tuple[int, ...] = ()
    """The years the thresholds were measured on."""
    validation_end: int | None = None
    """Years up to this one are validation (reported, not gated)."""


class ParityInfo(_Section):
    """onnxruntime against torch over whole sequences, at export."""

    steps: int | None = None
    """Sequence length compared."""
    resets: int | None = None
    """Episode starts inside the sequence."""
    max_abs_logit_diff: float | None = None
    """Largest logit difference."""
    action_agreement: float | None = None
    """Share of steps with the same argmax action."""


class Manifest(_Section):
    """The whole ``manifest.json``."""

    format: int = Field(ge=1)
    """Manifest format version."""
    name: str = Field(min_length=1)
    """Pack name."""
    created: datetime | None = None
    """When the pack was written."""
    feature_spec: FeatureSpecInfo
    """The feature spec of the observations."""
    observation: ObservationInfo
    """The observation layout."""
    normalisation: NormalisationInfo | None = None
    """Frozen observation statistics (required from format 2)."""
    actions: tuple[str, ...]
    """Action names by index."""
    lstm: LstmInfo
    """LSTM sizes."""
    policies: tuple[PolicyInfo, ...] = Field(min_length=1)
    """The ensemble's policies."""
    universe: UniverseInfo | None = None
    """Training universe."""
    training: TrainingInfo | None = None
    """Training windows, seeds and hyperparameters."""
    walk_forward: WalkForwardTable | None = None
    """Walk-forward results."""
    promotion: PromotionInfo | None = None
    """Promotion decision."""
    versions: dict[str, str | None] = Field(default_factory=dict)
    """Versions of the trainer's packages."""
    parity: ParityInfo | None = None
    """Export parity check."""
