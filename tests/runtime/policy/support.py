"""Shared helpers for the policy and RL strategy tests: fixture packs, a fake ensemble, markets."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime import features
from invest.runtime.market import Market
from invest.runtime.policy.contract import OBS_LAYOUT, Normaliser
from invest.runtime.policy.ensemble import StepResult
from invest.runtime.policy.vote import BY_INDEX, Action
from tests.runtime.conftest import make_market

F32 = npt.NDArray[np.float32]
FIXTURE_PACKS = Path(__file__).resolve().parents[2] / "fixtures" / "packs"


def copy_fixture_pack(dest: Path, name: str = "tiny") -> Path:
    """A fresh copy of a committed fixture pack, its feature spec set to this runtime's.

    The ONNX files (and their hashes) are unchanged; only the manifest's feature spec
    is refreshed, so bumping the feature spec does not break tests unrelated to it.
    """
    out = dest / name
    shutil.copytree(FIXTURE_PACKS / name, out)
    edit_manifest(
        out,
        lambda m: m["feature_spec"].update(
            version=features.FEATURE_SPEC_VERSION,
            hash=features.spec_hash(ohlc=False),
            names=list(features.FEATURE_NAMES),
        ),
    )
    return out


def edit_manifest(pack: Path, edit: Callable[[dict[str, Any]], object]) -> None:
    """Rewrite ``pack/manifest.json`` after ``edit`` changed it in place."""
    path = pack / "manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2))


Decide = Callable[[F32, F32], Sequence[Sequence[Action]]]

#: Logit of a policy's chosen level (the others 0): exp(-1000) is 0 in float64, so P = 1 exactly.
CHOSEN = 1000.0


class FakeEnsemble:
    """A numpy stand-in for :class:`OnnxEnsemble`: scripted target levels, a counting state.

    ``h`` (and ``c``) count the steps since the symbol's episode started, so a test
    reads how often a symbol was stepped and when it was reset. ``decide(obs, steps)``
    returns each policy's target level (``OUT``/``EQUAL``/``OVER``) for each batch row;
    that policy then gives it probability 1, so the ensemble's mean probability of a
    level is the share of policies that chose it. The observations are normalised
    with ``normaliser`` (the identity by default), so ``obs`` holds the raw values.
    """

    def __init__(
        self,
        decide: Decide,
        n_policies: int = 5,
        *,
        layers: int = 1,
        hidden: int = 2,
        sha: str = "f" * 64,
        name: str = "fake",
        normaliser: Normaliser | None = None,
    ) -> None:
        self.decide = decide
        self.n_policies = n_policies
        self.layers = layers
        self.hidden = hidden
        self.sha = sha
        self.name = name
        self.normaliser = normaliser if normaliser is not None else Normaliser.identity()
        self.calls: list[tuple[F32, F32]] = []

    def step(self, obs: F32, h: F32, c: F32, episode_start: F32) -> StepResult:
        self.calls.append((obs.copy(), episode_start.copy()))
        keep = (1.0 - episode_start)[None, None, :, None]
        h_next = (h * keep + 1.0).astype(np.float32)
        steps = h_next[0, 0, :, 0]
        acts = self.decide(obs, steps)
        logits = np.zeros((self.n_policies, len(obs), len(BY_INDEX)), np.float32)
        for p in range(self.n_policies):
            for b in range(len(obs)):
                logits[p, b, BY_INDEX.index(acts[p][b])] = CHOSEN
        return StepResult(logits, h_next, h_next.copy())


def scripted(by_row: dict[int, Sequence[Action]], n_policies: int = 5) -> Decide:
    """Each batch row's policy levels from ``by_row``; unlisted rows choose EQUAL."""

    def decide(obs: F32, steps: F32) -> list[list[Action]]:
        return [
            [by_row.get(b, [Action.EQUAL] * n_policies)[p] for b in range(len(obs))]
            for p in range(n_policies)
        ]

    return decide


def by_trend(n_policies: int = 5) -> Decide:
    """Every policy targets by the sign of ``ret_21``: OVER above +1%, OUT below -1%, else EQUAL."""
    col = OBS_LAYOUT.index("ret_21")

    def decide(obs: F32, steps: F32) -> list[list[Action]]:
        row = [
            Action.OVER if x > 0.01 else Action.OUT if x < -0.01 else Action.EQUAL
            for x in obs[:, col]
        ]
        return [row] * n_policies

    return decide


def trend_market(days: int = 300, gap: tuple[str, int] | None = None) -> Market:
    """UP rises, DOWN falls, FLAT wiggles, IDX (the index) rises; optional NaN bar."""
    rng = np.random.default_rng(7)
    t = np.arange(days, dtype=np.float64)
    cols = {
        "UP": 50 * np.exp(0.004 * t + rng.normal(0, 0.002, days).cumsum()),
        "DOWN": 80 * np.exp(-0.004 * t + rng.normal(0, 0.002, days).cumsum()),
        "FLAT": 30 + 0.1 * np.sin(t),
        "IDX": 1000 * np.exp(0.001 * t),
    }
    closes = np.column_stack(list(cols.values()))
    if gap is not None:
        closes[gap[1], list(cols).index(gap[0])] = np.nan
    return make_market(closes, tuple(cols))


def unpromoted_copy(dest: Path, name: str = "unpromoted") -> Path:
    """A copy of the bundled default pack whose manifest says it failed its promotion gate."""
    from invest.runtime.policy.pack import bundled_packs_dir

    out = dest / name
    shutil.copytree(bundled_packs_dir() / "default", out)
    edit_manifest(out, lambda m: m["promotion"].update(passed=False))
    return out
