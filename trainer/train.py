"""Train one RecurrentPPO policy (one fold, one seed) and export it to ONNX with parity.

:func:`run_job` is the unit of parallel work of the walk-forward: it is a plain,
picklable function of a :class:`Job`, so it runs the same inline or in a
``ProcessPoolExecutor`` worker.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from .callbacks import MetricsCallback, ProgressCallback, ProgressSink
from .config import Hyperparameters, TrainConfig
from .dataset import MarketArrays, load_market_arrays
from .env import TradingEnv, random_sequence
from .export import ParityReport, export_policy

__all__ = ["Job", "JobResult", "build_model", "resolve_device", "run_job", "train_policy"]

logger = logging.getLogger(__name__)
PARITY_BATCH = 8


@dataclass(frozen=True)
class Job:
    """One policy to train.

    Attributes:
        fold: the fold's test year (the key of its window in the manifest).
        seed: the policy's seed.
        rows: training row range ``[lo, hi)`` (embargo already applied).
        out_dir: the policy's run folder.
        config: the run's config.
        hyperparameters: the hyperparameters to use (the config's, or an Optuna trial's).
        timesteps: environment steps to train.
    """

    fold: int
    seed: int
    rows: tuple[int, int]
    out_dir: str
    config: TrainConfig
    hyperparameters: Hyperparameters
    timesteps: int

    @property
    def key(self) -> str:
        """``<fold>/seed-<seed>``: the job's name in logs and progress."""
        return f"{self.fold}/seed-{self.seed}"


@dataclass(frozen=True)
class JobResult:
    """What a finished job left in its run folder.

    Attributes:
        fold: test year.
        seed: seed.
        onnx: path of the verified ONNX actor.
        model: path of the SB3 model zip.
        parity: the parity report (passed).
        timesteps: steps trained.
        train_s: wall seconds of ``learn``.
        steps_per_s: ``timesteps / train_s``.
        device: torch device used.
    """

    fold: int
    seed: int
    onnx: str
    model: str
    parity: dict[str, Any]
    timesteps: int
    train_s: float
    steps_per_s: float
    device: str


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a CUDA device is present, else ``cpu``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@lru_cache(maxsize=2)
def _arrays(symbols: tuple[str, ...] | None, index_symbol: str) -> MarketArrays:
    return load_market_arrays(symbols, index_symbol)


def make_env(config: TrainConfig, data: MarketArrays, rows: tuple[int, int]) -> TradingEnv:
    """The training environment of ``config`` over ``rows``."""
    e = config.env
    return TradingEnv(
        data,
        rows,
        config.fill_model(),
        episode_days=e.episode_days,
        drawdown_penalty=e.drawdown_penalty,
        reward_scale=e.reward_scale,
        start_in_position_prob=e.start_in_position_prob,
    )


def build_model(
    config: TrainConfig,
    hp: Hyperparameters,
    data: MarketArrays,
    rows: tuple[int, int],
    seed: int,
    device: str = "cpu",
) -> Any:
    """A fresh ``RecurrentPPO("MlpLstmPolicy", ...)`` over ``hp.n_envs`` environments."""
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.logger import Logger

    venv = make_vec_env(lambda: make_env(config, data, rows), n_envs=hp.n_envs, seed=seed)
    arch = list(hp.net_arch)
    model = RecurrentPPO(
        "MlpLstmPolicy",
        venv,
        n_steps=hp.n_steps,
        batch_size=hp.batch_size,
        n_epochs=hp.n_epochs,
        learning_rate=hp.learning_rate,
        gamma=hp.gamma,
        gae_lambda=hp.gae_lambda,
        clip_range=hp.clip_range,
        ent_coef=hp.ent_coef,
        vf_coef=hp.vf_coef,
        max_grad_norm=hp.max_grad_norm,
        policy_kwargs={
            "lstm_hidden_size": hp.lstm_hidden_size,
            "n_lstm_layers": hp.n_lstm_layers,
            "net_arch": {"pi": arch, "vf": arch},
            "shared_lstm": False,
            "enable_critic_lstm": True,
        },
        seed=seed,
        device=device,
        verbose=0,
    )
    # An explicit logger without outputs: SB3's default one creates an empty
    # /tmp/SB3-<time> folder per learn() call (MetricsCallback writes the run's metrics).
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


def train_policy(job: Job, progress: ProgressSink | None = None) -> tuple[Any, float]:
    """Train the policy of ``job``; write ``metrics.csv``/``metrics.json`` and ``model.zip``.

    Returns:
        The trained ``RecurrentPPO`` model and the wall seconds of ``learn``.
    """
    device = resolve_device(job.config.device)
    if device == "cpu":
        # Tiny LSTMs are ~30x slower with several threads fighting over 2 cores.
        torch.set_num_threads(1)
    data = _arrays(job.config.symbols, job.config.index_symbol)
    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build_model(job.config, job.hyperparameters, data, job.rows, job.seed, device)
    callbacks = [MetricsCallback(out), ProgressCallback(progress, job.key)]
    t0 = time.perf_counter()
    model.learn(total_timesteps=job.timesteps, callback=callbacks, progress_bar=False)
    elapsed = time.perf_counter() - t0
    model.save(out / "model.zip")
    return model, elapsed


def export_with_parity(
    model: Any, job: Job, data: MarketArrays | None = None
) -> tuple[Path, ParityReport]:
    """Export the actor of ``model`` to ``<out_dir>/policy.onnx`` and check parity.

    Raises:
        ParityError: the export does not reproduce the policy.
    """
    data = data or _arrays(job.config.symbols, job.config.index_symbol)
    obs, starts = random_sequence(
        data,
        job.rows,
        job.config.parity_steps,
        PARITY_BATCH,
        seed=job.seed,
        fill_model=job.config.fill_model(),
    )
    policy = model.policy.to("cpu")
    path = Path(job.out_dir) / "policy.onnx"
    report = export_policy(policy, path, obs, starts)
    (Path(job.out_dir) / "parity.json").write_text(json.dumps(report.to_json(), indent=2))
    return path, report


def run_job(job: Job, progress: ProgressSink | None = None) -> JobResult:
    """Train, save and export one policy (the walk-forward's unit of parallel work).

    Raises:
        ParityError: the ONNX export failed its parity check.
    """
    model, elapsed = train_policy(job, progress)
    onnx_path, report = export_with_parity(model, job)
    result = JobResult(
        fold=job.fold,
        seed=job.seed,
        onnx=str(onnx_path),
        model=str(Path(job.out_dir) / "model.zip"),
        parity=report.to_json(),
        timesteps=int(model.num_timesteps),
        train_s=elapsed,
        steps_per_s=model.num_timesteps / max(elapsed, 1e-9),
        device=str(model.device),
    )
    (Path(job.out_dir) / "result.json").write_text(json.dumps(asdict(result), indent=2))
    logger.info("trained %s: %.0f steps/s, parity ok", job.key, result.steps_per_s)
    return result
