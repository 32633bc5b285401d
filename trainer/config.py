"""Typed, frozen training configuration (``invest train --config TRAIN.toml``).

Unknown keys are rejected and every field has a docstring. :data:`QUICK` is the tiny
preset behind ``invest train --quick``: small enough to finish in minutes on a CPU.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from invest.runtime.brokers.fills import FillModel
from invest.runtime.config import FillSettings
from invest.runtime.policy.contract import check_context

__all__ = [
    "QUICK",
    "EnvSettings",
    "Hyperparameters",
    "OptunaSettings",
    "PromotionGate",
    "TrainConfig",
    "TrainConfigError",
    "load_train_config",
]


class TrainConfigError(ValueError):
    """A training config is invalid; the CLI prints it as one line and exits 2."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Hyperparameters(_Frozen):
    """RecurrentPPO hyperparameters (``sb3_contrib.RecurrentPPO`` with ``MlpLstmPolicy``)."""

    n_envs: int = Field(8, ge=1, le=256)
    """Portfolios stepped together; each has ``env.symbols`` symbol slots, and the LSTM
    runs all ``n_envs * env.symbols`` slots as one batch."""
    n_steps: int = Field(128, ge=8)
    """Steps per environment per rollout."""
    batch_size: int = Field(512, ge=8)
    """Minibatch size (in steps) of each gradient update. RecurrentPPO steps its LSTM in a
    Python loop over each minibatch's longest sequence, so larger batches train much
    faster per step (CPU, 8 envs x 128 steps: batch 512 ~1,700 steps/s, 256 ~500)."""
    n_epochs: int = Field(4, ge=1, le=50)
    """Passes over each rollout."""
    learning_rate: float = Field(3e-4, gt=0, lt=1)
    """Adam learning rate (constant)."""
    gamma: float = Field(0.99, gt=0, le=1)
    """Discount factor."""
    gae_lambda: float = Field(0.95, gt=0, le=1)
    """GAE smoothing."""
    clip_range: float = Field(0.2, gt=0, lt=1)
    """PPO clipping of the probability ratio."""
    ent_coef: float = Field(0.003, ge=0, lt=1)
    """Entropy bonus coefficient (exploration)."""
    vf_coef: float = Field(0.5, gt=0)
    """Value loss coefficient."""
    max_grad_norm: float = Field(0.5, gt=0)
    """Gradient clipping norm."""
    lstm_hidden_size: int = Field(32, ge=4, le=512)
    """Hidden units of each LSTM layer (the ONNX ``h``/``c`` size)."""
    n_lstm_layers: int = Field(1, ge=1, le=4)
    """LSTM layers (the ONNX ``h``/``c`` first axis)."""
    net_arch: tuple[int, ...] = (32,)
    """Hidden layers of the actor and critic MLPs after the LSTM."""


class EnvSettings(_Frozen):
    """The portfolio environment (see :mod:`invest.trainer.env`)."""

    episode_days: int = Field(252, ge=10, le=2520)
    """Sessions per episode (one random window of one random set of symbols)."""
    symbols: int = Field(10, ge=3, le=100)
    """Symbols per simulated portfolio (a random draw from the training universe each episode)."""
    risk_aversion: float = Field(5.0, ge=0, le=1000)
    """gamma of the mean-variance term: reward -= gamma/2 * (w**2 - (1/M)**2) * variance."""
    reward_scale: float = Field(100.0, gt=0)
    """Rewards are multiplied by this and by the portfolio size (100: percent points)."""
    random_start: float = Field(0.7, ge=0, le=1)
    """Share of episodes that start from random target levels (the rest: cash or equal weight)."""
    budget: float = Field(0.95, gt=0, le=1)
    """Investable share of equity (1 minus the risk profile's cash reserve; balanced: 0.95)."""
    cap: float = Field(0.20, gt=0, le=1)
    """Largest weight of one name (the risk profile's max_position_pct; balanced: 0.20)."""


class PromotionGate(_Frozen):
    """The bar a pack must clear to be marked ``promotion.passed`` (see :mod:`invest.trainer.gate`).

    Performance is measured on what actually trades: each fold's test year replayed
    through the runtime (risk engine and costs included), chained over the *test*
    years (those after ``validation_end``). Degenerate checks (one action, uniform
    probabilities, always in or always out, no effect on hybrid) refuse a pack
    whatever its performance.
    """

    validation_end: int = Field(2014, ge=1900, le=2100)
    """Years up to this one are validation (reported, not gated); later years are the test."""
    min_sharpe: float = 0.3
    """Minimum annualised Sharpe of rl_ensemble's chained test-year daily returns (runtime replays)."""
    max_drawdown: float = Field(0.35, gt=0, le=1)
    """Largest allowed peak-to-trough loss of rl_ensemble's and of hybrid's chained test-year equity (0.35 = 35%)."""
    hybrid_sharpe_vs_trend_king: float = 0.0
    """hybrid's Sharpe minus trend_king's (chained test years) must be at least this."""
    hybrid_max_drawdown_vs_trend_king: float = Field(0.0, ge=0, le=1)
    """hybrid's max drawdown may be deeper than trend_king's by at most this (0.02 = 2 points)."""
    rl_sharpe_vs_equal_weight: float = 0.0
    """rl_ensemble's Sharpe minus the equal-weight buy-and-hold's (chained test years) must be at least this."""
    sharpe_diff_ci_min: float | None = None
    """When set, the lower end of the bootstrap CI of hybrid's Sharpe minus trend_king's must be at least this; None reports the CI only."""
    max_action_share: float = Field(0.95, gt=0, le=1)
    """Degenerate: one action (argmax of the mean probabilities) on more than this share of symbol-days."""
    max_entropy_ratio: float = Field(0.98, gt=0, le=1)
    """Degenerate: the policies' mean entropy over the uniform distribution's (log 3) above this."""
    min_exposure: float = Field(0.05, ge=0, lt=1)
    """Degenerate when below this in every year: rl_ensemble's invested share of its investable equity."""
    max_exposure: float = Field(0.95, gt=0, le=1)
    """Degenerate when above this in every year: rl_ensemble's invested share of its investable equity."""
    bootstrap_block: int = Field(21, ge=1, le=252)
    """Sessions per block of the paired block bootstrap of the Sharpe difference."""
    bootstrap_resamples: int = Field(2000, ge=100, le=100_000)
    """Resamples of the bootstrap."""
    bootstrap_seed: int = Field(0, ge=0)
    """Seed of the bootstrap (the same inputs give the same interval)."""
    ci_level: float = Field(0.90, gt=0, lt=1)
    """Coverage of the Sharpe-difference interval."""

    @model_validator(mode="after")
    def _exposure_band(self) -> PromotionGate:
        if self.min_exposure >= self.max_exposure:
            raise ValueError(
                f"min_exposure ({self.min_exposure}) must be below max_exposure ({self.max_exposure})"
            )
        return self


class OptunaSettings(_Frozen):
    """Optional hyperparameter search (needs ``pip install optuna``)."""

    trials: int = Field(0, ge=0)
    """Trials to run in this process; 0 skips the search."""
    storage: str | None = None
    """Optuna RDB storage URL (``sqlite:///study.db``, ``postgresql://...``) shared by workers."""
    study_name: str = "invest-train"
    """Study name in the storage; processes that share it share the search."""
    validation_years: int = Field(2, ge=1, le=10)
    """Trials are scored on this many years just before ``start_year`` (never the test years)."""
    timesteps: int | None = Field(None, ge=256)
    """Timesteps per trial policy; None uses ``total_timesteps``."""


class TrainConfig(_Frozen):
    """Everything one ``invest train`` run needs."""

    name: str = "default"
    """Pack name written into the manifest."""
    data: Literal["sample"] = "sample"
    """Market data provider; the bundled sample (closes only, 1990-2022)."""
    symbols: tuple[str, ...] | None = None
    """Training tickers; None uses every stock of the provider (the index excluded)."""
    index_symbol: str = "SP500"
    """Index used only as the ``index_bh`` benchmark of the walk-forward table."""
    context: tuple[str, ...] = ()
    """Market context series appended to every observation ("vix", "us10y", "dollar"; see
    docs/rl.md): each lagged one session, made scale-free, with a known flag. Empty (the
    default, and the bundled pack) gives the 27-field observation. With the sample, only
    "vix" has values (2014-2019), and a series the data never has is refused."""
    train_start: date = date(1990, 1, 1)
    """First session any fold may train on (expanding window from here)."""
    start_year: int = Field(2005, ge=1991, le=2100)
    """First walk-forward test year."""
    end_year: int = Field(2022, ge=1991, le=2100)
    """Last walk-forward test year; the pack ships this fold's policies."""
    embargo_days: int = Field(21, ge=0, le=252)
    """Sessions left out between the end of training and the test year."""
    n_policies: int = Field(3, ge=1, le=32)
    """Policies per fold (the ensemble); each has its own seed."""
    seeds: tuple[int, ...] | None = None
    """Explicit seeds (length n_policies); None uses ``seed_base .. seed_base + n_policies - 1``."""
    seed_base: int = Field(0, ge=0)
    """First seed when ``seeds`` is None."""
    total_timesteps: int = Field(1_000_000, ge=256)
    """Environment steps per policy."""
    warm_start_timesteps: int | None = Field(250_000, ge=256)
    """Each fold after the first starts from the previous fold's policy (same seed) and
    trains this many more steps on its own, longer window; None trains every fold from
    scratch for ``total_timesteps``. Folds then run one after the other (seeds in parallel)."""
    hyperparameters: Hyperparameters = Hyperparameters()
    """RecurrentPPO settings."""
    env: EnvSettings = EnvSettings()
    """Environment and reward settings."""
    fills: FillSettings = FillSettings()
    """Cost model: the runtime's slippage and commission (min_commission is ignored)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Torch device; auto picks CUDA when present."""
    workers: int | None = Field(None, ge=1, le=256)
    """Parallel training processes; None is min(2, CPU count)."""
    min_confidence: float = Field(0.5, gt=0, le=1)
    """hybrid's veto threshold (mean P(OUT)) in the OOS replays: the runtime's ``rl.min_confidence``."""
    promotion: PromotionGate = PromotionGate()
    """Promotion gate applied to the OOS walk-forward results."""
    optuna: OptunaSettings = OptunaSettings()
    """Optional hyperparameter search before the walk-forward."""
    parity_steps: int = Field(300, ge=250)
    """Steps of the ONNX parity check (episode resets included)."""
    progress: bool = True
    """Show a progress bar on stderr."""

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.end_year < self.start_year:
            raise ValueError(f"end_year ({self.end_year}) is before start_year ({self.start_year})")
        if self.train_start.year >= self.start_year:
            raise ValueError(
                f"train_start ({self.train_start}) leaves no training data before {self.start_year}"
            )
        check_context(self.context)
        if self.seeds is not None and len(self.seeds) != self.n_policies:
            raise ValueError(
                f"seeds has {len(self.seeds)} entries, n_policies is {self.n_policies}"
            )
        if self.seeds is not None and len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds}")
        hp = self.hyperparameters
        slots = hp.n_steps * hp.n_envs * self.env.symbols
        if hp.batch_size > slots:
            raise ValueError(
                f"hyperparameters.batch_size ({hp.batch_size}) exceeds a rollout "
                f"(n_steps * n_envs * env.symbols = {slots})"
            )
        return self

    @property
    def policy_seeds(self) -> tuple[int, ...]:
        """The seed of each policy of a fold."""
        if self.seeds is not None:
            return self.seeds
        return tuple(range(self.seed_base, self.seed_base + self.n_policies))

    @property
    def test_years(self) -> tuple[int, ...]:
        """Walk-forward test years, oldest first."""
        return tuple(range(self.start_year, self.end_year + 1))

    def fill_model(self) -> FillModel:
        """The runtime's fill model for these settings."""
        return FillModel.from_settings(self.fills)

    def with_overrides(self, **changes: Any) -> TrainConfig:
        """A validated copy with top-level fields replaced (None values are ignored).

        Raises:
            TrainConfigError: the result is invalid.
        """
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return _validate(data, "overrides")


#: ``invest train --quick``: 3 policies, 2 folds, a few thousand steps each (minutes on a CPU).
QUICK = TrainConfig(
    name="quick",
    start_year=2021,
    end_year=2022,
    n_policies=3,
    total_timesteps=2560,
    warm_start_timesteps=1280,
    hyperparameters=Hyperparameters(n_envs=2, n_steps=64, batch_size=640, n_epochs=2),
)


def _validate(data: dict[str, Any], where: str) -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise TrainConfigError(f"{where}: {path}: {first['msg']}") from e


def load_train_config(path: Path | None, *, quick: bool = False) -> TrainConfig:
    """Read a TOML training config, starting from the defaults or the quick preset.

    Keys in the file replace the preset's fields; a section (``[hyperparameters]``, ``[env]``,
    ``[fills]``, ``[promotion]``, ``[optuna]``) replaces only the keys it names.

    Args:
        path: the TOML file, or None for the preset alone.
        quick: start from :data:`QUICK` instead of the defaults.

    Returns:
        The validated config.

    Raises:
        TrainConfigError: unreadable file or invalid content (with the key path).
    """
    base = QUICK if quick else TrainConfig()
    if path is None:
        return base
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise TrainConfigError(f"{path}: {e}") from e
    return _validate(_merge(base.model_dump(), raw), str(path))


def _merge(base: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
