"""Train one RecurrentPPO policy (one fold, one seed) and export it to ONNX with parity.

:func:`run_job` is the unit of parallel work of the walk-forward: it is a plain,
picklable function of a :class:`Job`, so it runs the same inline or in a
``ProcessPoolExecutor`` worker.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from invest.runtime.policy.contract import Normaliser

from .callbacks import MetricsCallback, ProgressCallback, ProgressSink
from .config import Hyperparameters, TrainConfig
from .dataset import MarketArrays, load_market_arrays
from .env import PortfolioSim, PortfolioVecEnv, SimSettings, fit_normaliser, rollout_sequence
from .export import ParityReport, export_policy

__all__ = [
    "Job",
    "JobResult",
    "build_model",
    "config_arrays",
    "fold_normaliser",
    "make_sim",
    "resolve_device",
    "run_job",
    "train_policy",
]

logger = logging.getLogger(__name__)
#: Portfolios of the parity sequence (times ``env.symbols`` rows per step).
PARITY_PORTFOLIOS = 2
#: The probe sequence that measures how far training moved a policy (entropy, KL).
PROBE_PORTFOLIOS, PROBE_STEPS = 4, 256
#: Name of the fold's observation statistics in each job folder.
NORMALISER_FILE = "normaliser.json"


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
        init_from: a ``model.zip`` to start from (the previous fold's, same seed), or
            None to start from a fresh initialisation.
    """

    fold: int
    seed: int
    rows: tuple[int, int]
    out_dir: str
    config: TrainConfig
    hyperparameters: Hyperparameters
    timesteps: int
    init_from: str | None = None

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
        drift: entropy and KL from the initial policy (:func:`policy_drift`).
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
    drift: dict[str, Any] = field(default_factory=dict)


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a CUDA device is present, else ``cpu``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@lru_cache(maxsize=2)
def _arrays(
    symbols: tuple[str, ...] | None, index_symbol: str, context: tuple[str, ...] = ()
) -> MarketArrays:
    return load_market_arrays(symbols, index_symbol, context)


def config_arrays(config: TrainConfig) -> MarketArrays:
    """The market arrays of ``config`` (its symbols, index and context block), once per process."""
    return _arrays(config.symbols, config.index_symbol, config.context)


def fold_normaliser(data: MarketArrays, rows: tuple[int, int]) -> Normaliser:
    """The observation statistics of a fold: fitted on its training rows only, seed-free.

    Passed through the manifest's JSON (rounded to 7 decimals), so the policies train
    on exactly the statistics the pack ships and the runtime applies.
    """
    fitted = fit_normaliser(data, rows, seed=rows[1])
    return Normaliser.from_json(fitted.to_json(), fitted.context)


def make_sim(
    config: TrainConfig,
    data: MarketArrays,
    rows: tuple[int, int],
    n_portfolios: int,
    seed: int,
    normaliser: Normaliser | None = None,
) -> PortfolioSim:
    """The portfolio simulator of ``config`` over ``rows``."""
    e = config.env
    settings = SimSettings(
        n_portfolios=n_portfolios,
        symbols=e.symbols,
        episode_days=e.episode_days,
        risk_aversion=e.risk_aversion,
        reward_scale=e.reward_scale,
        budget=e.budget,
        cap=e.cap,
        random_start=e.random_start,
    )
    norm = normaliser or fold_normaliser(data, rows)
    return PortfolioSim(data, rows, norm, settings, config.fill_model(), seed=seed)


def build_model(
    config: TrainConfig,
    hp: Hyperparameters,
    data: MarketArrays,
    rows: tuple[int, int],
    seed: int,
    device: str = "cpu",
    normaliser: Normaliser | None = None,
) -> Any:
    """A fresh ``RecurrentPPO("MlpLstmPolicy", ...)`` over ``hp.n_envs`` portfolios."""
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.logger import Logger

    venv = PortfolioVecEnv(make_sim(config, data, rows, hp.n_envs, seed, normaliser))
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


def train_policy(
    job: Job, progress: ProgressSink | None = None
) -> tuple[Any, float, dict[str, Any]]:
    """Train the policy of ``job``; write ``metrics.csv``/``metrics.json`` and ``model.zip``.

    Returns:
        The trained ``RecurrentPPO`` model, the wall seconds of ``learn``, and how far
        training moved the policy (:func:`policy_drift`, also in ``drift.json``).
    """
    device = resolve_device(job.config.device)
    if device == "cpu":
        # Tiny LSTMs are ~30x slower with several threads fighting over 2 cores.
        torch.set_num_threads(1)
    data = config_arrays(job.config)
    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    norm = fold_normaliser(data, job.rows)
    model = build_model(
        job.config, job.hyperparameters, data, job.rows, job.seed, device, normaliser=norm
    )
    if job.init_from is not None:
        # Warm start: the previous fold's weights, fine-tuned on this fold's longer window.
        model.set_parameters(job.init_from, exact_match=True, device=device)
    (out / NORMALISER_FILE).write_text(json.dumps(norm.to_json()))
    probe = make_sim(job.config, data, job.rows, PROBE_PORTFOLIOS, job.seed + 7919, norm)
    obs, starts = rollout_sequence(probe, PROBE_STEPS, seed=job.seed)
    initial = action_probs(model.policy, obs, starts)
    callbacks = [MetricsCallback(out), ProgressCallback(progress, job.key)]
    t0 = time.perf_counter()
    model.learn(total_timesteps=job.timesteps, callback=callbacks, progress_bar=False)
    elapsed = time.perf_counter() - t0
    model.save(out / "model.zip")
    final = action_probs(model.policy, obs, starts)
    drift = policy_drift(initial, final)
    (out / "drift.json").write_text(json.dumps(drift, indent=2))
    logger.info("%s: %s", job.key, drift)
    return model, elapsed, drift


def action_probs(policy: Any, obs: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The actor's action probabilities over a sequence ``(steps, B, A)``, states carried."""
    from .export import OnnxActor

    device, mode = policy.device, policy.training
    actor = OnnxActor(policy.to("cpu")).eval()
    b = obs.shape[1]
    h = torch.zeros(actor.n_layers, b, actor.hidden)
    c = torch.zeros_like(h)
    out = []
    with torch.no_grad():
        for x, s in zip(obs, starts, strict=True):
            logits, h, c = actor(torch.from_numpy(x), h, c, torch.from_numpy(s))
            out.append(torch.softmax(logits, dim=-1).numpy())
    policy.to(device).train(mode)  # back where and as training runs
    return np.stack(out)


def policy_drift(initial: np.ndarray, final: np.ndarray) -> dict[str, Any]:
    """How far training moved the policy: entropy (share of uniform), KL, action shares."""
    eps = 1e-12
    n_act = final.shape[-1]

    def entropy(p: np.ndarray) -> float:
        return float((-(p * np.log(p + eps)).sum(-1) / np.log(n_act)).mean())

    kl = float((final * (np.log(final + eps) - np.log(initial + eps))).sum(-1).mean())
    counts = np.bincount(final.argmax(-1).ravel(), minlength=n_act).astype(np.float64)
    return {
        "entropy_initial": round(entropy(initial), 4),
        "entropy_final": round(entropy(final), 4),
        "kl_from_initial": float(f"{kl:.4g}"),
        "argmax_shares": (counts / counts.sum()).round(4).tolist(),
        # float64 before rounding: a rounded float32 prints as 0.3346000015735626.
        "mean_probs": final.reshape(-1, n_act).mean(0, dtype=np.float64).round(4).tolist(),
    }


def export_with_parity(
    model: Any, job: Job, data: MarketArrays | None = None
) -> tuple[Path, ParityReport]:
    """Export the actor of ``model`` to ``<out_dir>/policy.onnx`` and check parity.

    Raises:
        ParityError: the export does not reproduce the policy.
    """
    data = data or config_arrays(job.config)
    sim = make_sim(job.config, data, job.rows, PARITY_PORTFOLIOS, job.seed)
    obs, starts = rollout_sequence(sim, job.config.parity_steps, seed=job.seed)
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
    model, elapsed, drift = train_policy(job, progress)
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
        drift=drift,
    )
    (Path(job.out_dir) / "result.json").write_text(json.dumps(asdict(result), indent=2))
    logger.info("trained %s: %.0f steps/s, parity ok", job.key, result.steps_per_s)
    return result
