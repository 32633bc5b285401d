"""Write and check model packs (``docs/model-pack.md`` is the contract).

A pack is a directory holding ``policy-<k>.onnx`` files and ``manifest.json``. It ships
the ensemble of the last walk-forward fold (the policies trained on the most data whose
out-of-sample year was measured). :func:`verify_pack` applies the runtime's refusal
rules; :func:`run_pack_step` loads the pack with the runtime (onnxruntime alone) and runs
one step, the way the appliance will.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import tempfile
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import invest.runtime.policy.pack as runtime_pack
from invest.runtime.clock import utcnow
from invest.runtime.errors import PolicyPackError
from invest.runtime.features import FEATURE_NAMES, FEATURE_SPEC_VERSION, spec_hash
from invest.runtime.policy.contract import (
    ACTIONS,
    MIN_UNIVERSE,
    OBS_SPEC_VERSION,
    context_spec_hash,
    obs_layout,
)
from invest.runtime.policy.ensemble import OnnxEnsemble, zero_state
from invest.runtime.policy.manifest import MANIFEST_FORMAT

from .config import TrainConfig
from .dataset import MarketArrays
from .train import NORMALISER_FILE
from .walkforward import WalkForwardResult

__all__ = [
    "MANIFEST",
    "PACK_FORMAT",
    "PackError",
    "build_manifest",
    "read_manifest",
    "run_pack_step",
    "sha256_file",
    "verify_pack",
    "write_pack",
]

PACK_FORMAT = MANIFEST_FORMAT
MANIFEST = "manifest.json"
_DISTRIBUTIONS = {
    "invest": "invest-appliance",
    "torch": "torch",
    "sb3_contrib": "sb3-contrib",
    "stable_baselines3": "stable-baselines3",
    "gymnasium": "gymnasium",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "numpy": "numpy",
}


class PackError(ValueError):
    """A pack is incomplete, altered or built for other features; it is refused, never loaded."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {}
    for key, dist in _DISTRIBUTIONS.items():
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = "not installed"
    out["python"] = platform.python_version()
    return out


def _search(config: TrainConfig) -> dict[str, Any] | None:
    # The storage URL is left out: it may hold a database password.
    opt = config.optuna
    if opt.trials == 0:
        return None
    first = config.start_year - opt.validation_years
    return {
        "engine": "optuna",
        "trials": opt.trials,
        "study_name": opt.study_name,
        "validation_years": list(range(first, config.start_year)),
    }


def _parity_summary(jobs: list[Any]) -> dict[str, Any]:
    reports = [j.parity for j in jobs]
    return {
        "steps": min(r["steps"] for r in reports),
        "batch": min(r["batch"] for r in reports),
        "resets": min(r["resets"] for r in reports),
        "max_abs_logit_diff": max(r["max_abs_logit_diff"] for r in reports),
        "action_agreement": min(r["action_agreement"] for r in reports),
        "sb3_action_agreement": min(r["sb3_action_agreement"] for r in reports),
        "ties": sum(r["ties"] for r in reports),
        "policies": len(reports),
        "passed": all(r["passed"] for r in reports),
    }


def _observation(context: tuple[str, ...]) -> dict[str, Any]:
    """The manifest's ``observation`` section; ``context`` appears only when declared, so a
    pack without a context block has the very manifest it had before the block existed."""
    layout = obs_layout(context)
    out: dict[str, Any] = {"dim": len(layout), "layout": list(layout), "spec": OBS_SPEC_VERSION}
    if context:
        out["context"] = list(context)
    return out


def build_manifest(
    config: TrainConfig,
    data: MarketArrays,
    result: WalkForwardResult,
    promotion: dict[str, Any],
    files: list[tuple[str, str]],
    created: datetime | None = None,
    fold: int | None = None,
) -> dict[str, Any]:
    """The manifest of a pack shipping one fold's policies (the last fold by default).

    Args:
        config: the run's config.
        data: the market arrays trained on (tickers).
        result: the walk-forward result.
        promotion: output of :func:`walkforward.promote`.
        files: ``(file name, sha256)`` of each shipped policy, in seed order.
        created: timestamp; defaults to now (UTC).
    """
    last = result.folds[-1] if fold is None else next(f for f in result.folds if f.year == fold)
    jobs = result.fold_jobs(last.year)
    hp = result.hyperparameters
    policies = [
        {"file": name, "seed": job.seed, "sha256": digest, "fold": last.year, "parity": job.parity}
        for (name, digest), job in zip(files, jobs, strict=True)
    ]
    return {
        "format": PACK_FORMAT,
        "name": config.name,
        "created": (created or utcnow()).isoformat(timespec="seconds"),
        "feature_spec": {
            "version": FEATURE_SPEC_VERSION,
            "hash": context_spec_hash(spec_hash(ohlc=False), config.context),
            "names": list(FEATURE_NAMES),
            "ohlc": False,
        },
        "observation": _observation(config.context),
        "normalisation": json.loads(
            (Path(jobs[0].onnx).parent / NORMALISER_FILE).read_text(encoding="utf-8")
        ),
        "actions": list(ACTIONS),
        "lstm": {"hidden": hp.lstm_hidden_size, "layers": hp.n_lstm_layers},
        "policies": policies,
        "universe": {
            "rule": f"{config.data}: {len(data.symbols)} stocks (explicit tickers)",
            "tickers": list(data.symbols),
            "min_size": MIN_UNIVERSE,
            "episode_size": config.env.symbols,
        },
        "training": {
            "windows": [f.window() for f in result.folds],
            "seeds": list(result.seeds),
            "hyperparameters": hp.model_dump(mode="json"),
            "timesteps": result.timesteps,
            "warm_start_timesteps": config.warm_start_timesteps,
            "algorithm": "sb3_contrib.RecurrentPPO MlpLstmPolicy (shared_lstm=False)",
            "env": config.env.model_dump(mode="json"),
            "costs": {
                "cost_fraction": config.fill_model().cost_fraction(),
                **config.fills.model_dump(mode="json"),
            },
            "reward": (
                "per symbol: (w - 1/M) * R - cost * |w - w_drifted| "
                "- risk_aversion/2 * (w**2 - 1/M**2) * vol_20**2, times reward_scale * M "
                "(sums to the portfolio's return over the equal-weight universe, net of costs)"
            ),
            "evaluation": {
                "min_confidence": config.min_confidence,
                "execution": "next close",
                "decision": "mean probabilities of the policies; expected target level",
            },
            "search": _search(config),
            "devices": sorted({j.device for j in result.jobs}),
            "data": config.data,
        },
        "walk_forward": result.table(),
        "promotion": promotion,
        "versions": _versions(),
        "parity": _parity_summary(jobs),
    }


def write_pack(
    pack_dir: Path,
    config: TrainConfig,
    data: MarketArrays,
    result: WalkForwardResult,
    promotion: dict[str, Any],
    created: datetime | None = None,
    fold: int | None = None,
) -> Path:
    """Write the pack of one fold (the last by default) atomically.

    The files go to a temporary sibling folder renamed into place.

    Raises:
        PackError: ``pack_dir`` already holds files.
    """
    pack_dir = Path(pack_dir)
    if pack_dir.exists() and any(pack_dir.iterdir()):
        raise PackError(f"{pack_dir} is not empty; choose another --out")
    pack_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".pack-", dir=pack_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the appliance may read it as another user
    try:
        files = []
        year = result.folds[-1].year if fold is None else fold
        for k, job in enumerate(result.fold_jobs(year)):
            name = f"policy-{k}.onnx"
            shutil.copyfile(job.onnx, tmp / name)
            files.append((name, sha256_file(tmp / name)))
        manifest = build_manifest(config, data, result, promotion, files, created, fold=year)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if pack_dir.exists():
            pack_dir.rmdir()
        tmp.rename(pack_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    verify_pack(pack_dir)
    return pack_dir


def read_manifest(pack_dir: Path) -> dict[str, Any]:
    """The parsed ``manifest.json``.

    Raises:
        PackError: missing or not JSON.
    """
    path = Path(pack_dir) / MANIFEST
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise PackError(f"{path}: {e}") from e
    return data


def verify_pack(pack_dir: Path) -> dict[str, Any]:
    """Check a pack with the runtime's refusal rules, without opening the ONNX files.

    The rules are :func:`invest.runtime.policy.pack.verify_pack`'s (``check_models=False``).

    Returns:
        The manifest.

    Raises:
        PackError: the runtime would refuse the pack: a listed file is missing, a sha256
            differs, or the feature spec, observation layout or actions differ from this
            installation's.
    """
    report = runtime_pack.verify_pack(pack_dir, check_models=False)
    if not report.ok:
        raise PackError(f"{pack_dir}: {report.reason}")
    return read_manifest(pack_dir)


def run_pack_step(
    pack_dir: Path, obs: np.ndarray | None = None, batch: int = 4
) -> list[dict[str, np.ndarray]]:
    """Load a pack with the runtime (onnxruntime, no torch) and run one step of every policy.

    This is the appliance's path: :func:`~invest.runtime.policy.pack.load_pack` verifies
    the pack, :class:`~invest.runtime.policy.ensemble.OnnxEnsemble` checks each policy's
    I/O against the contract and steps it with a zero LSTM state and ``episode_start = 1``.

    Args:
        pack_dir: the pack.
        obs: ``[B, obs_dim]`` float32; None uses zeros with ``B = batch``.
        batch: B when ``obs`` is None.

    Returns:
        Per policy: ``logits``, ``h_out`` and ``c_out``.

    Raises:
        PackError: the runtime refuses the pack or cannot run it, or an output has the
            wrong shape.
    """
    try:
        ens = OnnxEnsemble(runtime_pack.load_pack(pack_dir))
        x = np.zeros((batch, ens.pack.obs_dim), np.float32) if obs is None else obs
        h, c = zero_state(ens, x.shape[0])
        res = ens.step(x, h, c, np.ones(x.shape[0], np.float32))
    except PolicyPackError as e:
        raise PackError(str(e)) from e
    b = x.shape[0]
    if res.logits.shape[1:] != (b, ens.pack.n_actions) or res.h.shape[1:] != h.shape[1:]:
        raise PackError(f"{pack_dir}: unexpected output shapes {res.logits.shape}, {res.h.shape}")
    return [
        {"logits": res.logits[i], "h_out": res.h[i], "c_out": res.c[i]}
        for i in range(ens.n_policies)
    ]
