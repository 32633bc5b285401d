"""Optional hyperparameter search with Optuna (``pip install optuna``).

Each trial runs a small walk-forward on the ``validation_years`` just before
``start_year``, so the search never sees a test year. Trials share an Optuna study; with
an RDB ``storage`` URL, several ``invest train --trials N --storage URL`` processes on
several machines share one search (Optuna is the scheduler, not us).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .config import Hyperparameters, TrainConfig
from .dataset import MarketArrays

__all__ = ["OptunaMissingError", "best_hyperparameters", "suggest"]

logger = logging.getLogger(__name__)


class OptunaMissingError(RuntimeError):
    """A search was requested without Optuna installed; nothing was trained."""


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as e:
        raise OptunaMissingError(
            "hyperparameter search (--trials) needs Optuna: pip install optuna "
            "(plus a database driver for --storage, e.g. psycopg for PostgreSQL)"
        ) from e
    return optuna


def suggest(trial: Any, base: Hyperparameters) -> Hyperparameters:
    """Hyperparameters of one trial (network sizes stay those of ``base``)."""
    return Hyperparameters.model_validate(
        base.model_dump()
        | {
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-3, log=True),
            "ent_coef": trial.suggest_float("ent_coef", 1e-4, 5e-2, log=True),
            "gamma": trial.suggest_categorical("gamma", [0.95, 0.98, 0.99, 0.995]),
            "gae_lambda": trial.suggest_categorical("gae_lambda", [0.9, 0.95, 0.98]),
            "clip_range": trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3]),
            "n_epochs": trial.suggest_int("n_epochs", 2, 8),
        }
    )


def best_hyperparameters(
    config: TrainConfig, data: MarketArrays, out_dir: Path, workers: int | None = None
) -> Hyperparameters:
    """Run ``config.optuna.trials`` trials and return the study's best hyperparameters.

    The objective is the chained OOS Sharpe ratio of the validation years.

    Raises:
        OptunaMissingError: Optuna is not installed.
    """
    from .gate import chained_figures
    from .walkforward import replay_folds, run_folds

    optuna = _optuna()
    opt = config.optuna
    years = list(range(config.start_year - opt.validation_years, config.start_year))
    study = optuna.create_study(
        study_name=opt.study_name,
        storage=opt.storage,
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=config.seed_base),
    )

    def objective(trial: Any) -> float:
        hp = suggest(trial, config.hyperparameters)
        trial_dir = out_dir / "optuna" / f"trial-{trial.number}"
        result = run_folds(
            config,
            data,
            years,
            trial_dir,
            hyperparameters=hp,
            timesteps=opt.timesteps,
            workers=workers,
        )
        # Scored through the runtime like the gate, on validation years only (all of
        # them are before start_year): hybrid's chained Sharpe over trend_king's.
        figures = chained_figures(replay_folds(result, config, data, trial_dir).replays, 9999)
        val = figures["validation"]
        hybrid, tk = val.get("hybrid"), val.get("trend_king")
        if hybrid is None or tk is None:
            return float("-inf")
        return float(hybrid["sharpe"] - tk["sharpe"])

    study.optimize(objective, n_trials=opt.trials)
    best = study.best_trial
    logger.info(
        "optuna: best trial %d, validation Sharpe of hybrid over trend_king %.3f",
        best.number,
        best.value,
    )
    return Hyperparameters.model_validate(config.hyperparameters.model_dump() | dict(best.params))
