"""OnnxEnsemble: lazy sessions, the I/O contract, recurrent state, and the pack's normalisation."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from invest.runtime.domain import AccountState
from invest.runtime.errors import PolicyPackError
from invest.runtime.features import FEATURE_NAMES
from invest.runtime.policy.contract import OBS_DIM, OBS_LAYOUT, STANDARDISED, Normaliser
from invest.runtime.policy.ensemble import OnnxEnsemble, zero_state
from invest.runtime.policy.pack import load_pack, pack_sha, verify_pack
from invest.runtime.policy.signal import Decisions, PolicySignal
from invest.runtime.policy.state import MemoryStateStore
from tests.runtime.policy.support import copy_fixture_pack, edit_manifest, trend_market

OBS = np.random.default_rng(3).normal(0, 1, (5, OBS_DIM)).astype(np.float32)


def _ensemble(pack: Path) -> OnnxEnsemble:
    return OnnxEnsemble(load_pack(pack))


def _sessions(ens: OnnxEnsemble) -> int | None:
    return None if ens._sessions is None else len(ens._sessions)


def test_sessions_are_created_at_the_first_step_not_before(tiny_pack: Path) -> None:
    ens = _ensemble(tiny_pack)
    assert _sessions(ens) is None
    h, c = zero_state(ens, 5)
    res = ens.step(OBS, h, c, np.ones(5, np.float32))
    assert _sessions(ens) == 3
    assert res.logits.shape == (3, 5, 3)
    assert res.h.shape == res.c.shape == (3, 1, 5, 8)
    assert res.logits.dtype == np.float32


def test_the_state_carries_and_episode_start_resets_it(tiny_pack: Path) -> None:
    ens = _ensemble(tiny_pack)
    h, c = zero_state(ens, 5)
    first = ens.step(OBS, h, c, np.ones(5, np.float32))
    carried = ens.step(OBS, first.h, first.c, np.zeros(5, np.float32))
    assert not np.allclose(carried.logits, first.logits)  # the state matters
    reset = ens.step(OBS, first.h, first.c, np.ones(5, np.float32))
    np.testing.assert_array_equal(reset.logits, first.logits)  # as if from zero state
    mixed = ens.step(OBS, first.h, first.c, np.array([1, 0, 1, 0, 1], np.float32))
    np.testing.assert_array_equal(mixed.logits[:, 0::2], first.logits[:, 0::2])
    np.testing.assert_array_equal(mixed.logits[:, 1::2], carried.logits[:, 1::2])


def test_each_symbol_is_independent_of_the_rest_of_the_batch(tiny_pack: Path) -> None:
    ens = _ensemble(tiny_pack)
    h, c = zero_state(ens, 5)
    whole = ens.step(OBS, h, c, np.ones(5, np.float32))
    h1, c1 = zero_state(ens, 1)
    one = ens.step(OBS[3:4], h1, c1, np.ones(1, np.float32))
    np.testing.assert_allclose(one.logits[:, 0], whole.logits[:, 3], rtol=1e-6, atol=1e-6)


def test_a_graph_that_breaks_the_contract_is_refused_naming_the_file(tiny_pack: Path) -> None:
    pack = load_pack(tiny_pack)
    bad = OnnxEnsemble(
        type(pack)(pack.path, pack.manifest, (b"garbage", *pack.models[1:]), pack.sha)
    )
    with pytest.raises(PolicyPackError, match=r"policy-0\.onnx: onnxruntime cannot load it"):
        bad.load()


def test_a_wrong_observation_width_fails_as_a_pack_error(tiny_pack: Path) -> None:
    ens = _ensemble(tiny_pack)
    h, c = zero_state(ens, 5)
    with pytest.raises(PolicyPackError, match=r"policy-0\.onnx: inference failed"):
        ens.step(OBS[:, :10], h, c, np.ones(5, np.float32))


def test_the_builder_makes_deep_and_wide_packs_that_the_runtime_runs(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from tests.runtime.policy.builder import build_pack

    path = build_pack(tmp_path / "deep", policies=5, hidden=32, layers=2)
    assert verify_pack(path).ok
    ens = _ensemble(path)
    h, c = zero_state(ens, 5)
    res = ens.step(OBS, h, c, np.ones(5, np.float32))
    assert res.h.shape == (5, 2, 5, 32)
    again = ens.step(OBS, res.h, res.c, np.zeros(5, np.float32))
    assert not np.allclose(again.h, res.h)


def test_a_policy_exported_with_a_static_batch_is_refused(tiny_pack: Path) -> None:
    pytest.importorskip("onnx")
    from tests.runtime.policy.builder import build_policy

    blob = build_policy(batch=1)
    (tiny_pack / "policy-0.onnx").write_bytes(blob)
    edit_manifest(
        tiny_pack,
        lambda m: m["policies"][0].update(sha256=hashlib.sha256(blob).hexdigest()),
    )
    report = verify_pack(tiny_pack)
    assert f"policy-0.onnx: obs has shape [1, {OBS_DIM}]" in report.reason
    assert "(B, the symbols axis, dynamic)" in report.reason


# --------------------------------------------------------------------------- normalisation

SYMS = ("UP", "DOWN", "FLAT")


def _decide(pack_dir: Path, t: int = 299) -> tuple[str, Decisions]:
    """The fixture pack's decisions at row ``t`` for a flat account, from a fresh state."""
    pack = load_pack(pack_dir)
    sig = PolicySignal(OnnxEnsemble(pack), SYMS, MemoryStateStore(), "IDX")
    sig.prepare(trend_market())
    return pack.sha, sig.decide(t, AccountState("acct", Decimal(1000)))


def _rescale(m: dict[str, object]) -> None:
    """Standardise the features and market fields with other statistics."""
    norm = m["normalisation"]
    assert isinstance(norm, dict)
    scaled = [*range(len(FEATURE_NAMES)), *range(*STANDARDISED)]
    norm["mean"] = [0.05 if i in scaled else 0.0 for i in range(OBS_DIM)]
    norm["std"] = [0.02 if i in scaled else 1.0 for i in range(OBS_DIM)]


def test_the_runtime_applies_the_manifests_normalisation(tiny_pack: Path, tmp_path: Path) -> None:
    other = copy_fixture_pack(tmp_path / "other")
    edit_manifest(other, _rescale)
    same_sha, same = _decide(copy_fixture_pack(tmp_path / "same"))
    base_sha, base = _decide(tiny_pack)
    new_sha, new = _decide(other)
    assert load_pack(other).models == load_pack(tiny_pack).models  # the same policies
    assert load_pack(other).normaliser.std[0] == np.float32(0.02)
    for s in SYMS:
        np.testing.assert_array_equal(same.logits[s], base.logits[s])  # deterministic
        assert not np.allclose(new.logits[s], base.logits[s])
        assert new.votes[s].probs != pytest.approx(base.votes[s].probs, abs=1e-3)
        assert new.votes[s].level != pytest.approx(base.votes[s].level, abs=1e-3)
    # the policies see other inputs: their identity, and the LSTM states filed under it, differ
    assert same_sha == base_sha != new_sha


def test_the_pack_sha_covers_the_policies_lstm_sizes_and_normalisation(tiny_pack: Path) -> None:
    m = load_pack(tiny_pack).manifest
    sha = pack_sha(m)
    norm = m.normalisation
    assert norm is not None
    moved = norm.model_copy(update={"mean": (1.0, *norm.mean[1:])})
    assert pack_sha(m.model_copy(update={"normalisation": moved})) != sha
    bigger = m.lstm.model_copy(update={"hidden": 16})
    assert pack_sha(m.model_copy(update={"lstm": bigger})) != sha
    renamed = m.model_copy(update={"name": "other", "created": None})
    assert pack_sha(renamed) == sha  # descriptive fields do not change what decides
    assert Normaliser.from_json(norm.model_dump()).mean.shape == (len(OBS_LAYOUT),)
