"""Model packs (manifest format 2): every field of the contract, the fold's frozen
normalisation, sha256s, the runtime's refusal rules and loading."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from invest.runtime.features import FEATURE_SPEC_VERSION, spec_hash
from invest.runtime.policy import pack as runtime_pack
from invest.runtime.policy.contract import ACTIONS, OBS_DIM, OBS_LAYOUT, OBS_SPEC_VERSION
from invest.trainer.pack import (
    PackError,
    read_manifest,
    run_pack_step,
    sha256_file,
    verify_pack,
    write_pack,
)
from invest.trainer.train import NORMALISER_FILE, JobResult, fold_normaliser
from invest.trainer.walkforward import WalkForwardResult, YearResult, plan_folds, promote

CONTRACT = Path(__file__).parents[2] / "docs" / "model-pack.md"


def contract_example() -> dict[str, Any]:
    text = CONTRACT.read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block, "docs/model-pack.md has no manifest example"
    return json.loads(block.group(1))


def missing_keys(example: Any, actual: Any, path: str = "") -> list[str]:
    """Keys of the contract example (placeholders aside) absent from the manifest."""
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [path or "(root)"]
        out = []
        for key, value in example.items():
            if key == "...":
                continue
            if key not in actual:
                out.append(f"{path}.{key}")
            else:
                out += missing_keys(value, actual[key], f"{path}.{key}")
        return out
    if isinstance(example, list) and example and isinstance(example[0], dict):
        if not actual:
            return [path]
        return [m for item in actual for m in missing_keys(example[0], item, f"{path}[]")]
    return []


@pytest.fixture(scope="module")
def pack(
    tmp_path_factory: Any,
    tiny_config: Any,
    market: Any,
    exported: list[tuple[Path, dict[str, Any]]],
) -> Path:
    folds = plan_folds(tiny_config, market, [2021])
    # The fold's frozen statistics, next to its policies (where train_policy writes them).
    norm = fold_normaliser(market, folds[0].train_rows)
    (exported[0][0].parent / NORMALISER_FILE).write_text(json.dumps(norm.to_json()))
    drift = {"entropy_initial": 0.99, "entropy_final": 0.9, "kl_from_initial": 0.01}
    jobs = tuple(
        JobResult(2021, seed, str(path), "", report, 320, 1.0, 320.0, "cpu", drift)
        for seed, (path, report) in enumerate(exported)
    )
    years = (YearResult.of(2021, jobs),)
    result = WalkForwardResult(
        tuple(folds), jobs, years, {"entropy": 0.9}, tiny_config.hyperparameters, 320, (0, 1)
    )
    out = tmp_path_factory.mktemp("run") / "pack"
    return write_pack(out, tiny_config, market, result, promote(tiny_config.promotion, result))


@pytest.fixture(scope="module")
def fold_norm(market: Any, tiny_config: Any) -> Any:
    return fold_normaliser(market, plan_folds(tiny_config, market, [2021])[0].train_rows)


def test_the_manifest_has_every_field_of_the_contract(pack: Path) -> None:
    manifest = read_manifest(pack)
    assert missing_keys(contract_example(), manifest) == []


def test_the_manifest_describes_features_observation_and_lstm(pack: Path, market: Any) -> None:
    m = read_manifest(pack)
    assert m["format"] == 2
    assert m["feature_spec"]["version"] == FEATURE_SPEC_VERSION
    assert m["feature_spec"]["hash"] == spec_hash()
    assert m["observation"] == {
        "dim": OBS_DIM,
        "layout": list(OBS_LAYOUT),
        "spec": OBS_SPEC_VERSION,
    }
    assert m["observation"]["dim"] == 27
    assert m["observation"]["layout"][-2:] == ["weight_rel", "cash"]
    assert m["actions"] == list(ACTIONS) == ["OUT", "EQUAL", "OVER"]
    assert m["lstm"] == {"hidden": 16, "layers": 1}
    assert m["universe"]["tickers"] == list(market.symbols)
    assert m["universe"]["min_size"] == 3
    assert m["universe"]["episode_size"] == 5
    assert m["training"]["windows"][0]["fold"] == 2021
    assert m["training"]["windows"][0]["embargo_days"] == 21
    assert m["training"]["seeds"] == [0, 1]
    assert m["training"]["env"]["episode_days"] == 30
    assert m["walk_forward"]["details"][0]["year"] == 2021
    assert m["walk_forward"]["details"][0]["kl_from_initial"] == 0.01
    assert m["promotion"]["passed"] is False  # no runtime replays: the gate refuses
    assert set(m["promotion"]) >= {"passed", "rule", "values"}
    assert m["parity"]["passed"] is True
    assert m["parity"]["steps"] >= 250
    assert {"torch", "sb3_contrib", "onnx", "onnxruntime", "python", "invest"} <= set(m["versions"])


def test_the_normalisation_is_the_folds_normaliser_json(
    pack: Path, exported: list[tuple[Path, dict[str, Any]]], fold_norm: Any
) -> None:
    m = read_manifest(pack)
    written = json.loads((exported[0][0].parent / NORMALISER_FILE).read_text())
    assert m["normalisation"] == written == fold_norm.to_json()
    assert m["normalisation"]["layout"] == list(OBS_LAYOUT)
    assert len(m["normalisation"]["mean"]) == len(m["normalisation"]["std"]) == OBS_DIM


def test_the_runtime_verifies_and_loads_the_pack_with_its_normaliser(
    pack: Path, fold_norm: Any
) -> None:
    report = runtime_pack.verify_pack(pack)  # the ONNX files opened and checked too
    assert report.ok, report.reason
    loaded = runtime_pack.load_pack(pack)
    assert loaded.n_policies == 2
    assert loaded.obs_dim == OBS_DIM
    norm = loaded.normaliser
    # Exactly the statistics the fold's policies trained on (the JSON's rounding included).
    np.testing.assert_array_equal(norm.mean, fold_norm.mean)
    np.testing.assert_array_equal(norm.std, fold_norm.std)
    raw = np.random.default_rng(0).normal(0, 1, (50, OBS_DIM)).astype(np.float32)
    np.testing.assert_array_equal(norm.apply(raw), fold_norm.apply(raw))


def test_every_policy_file_matches_its_sha256(pack: Path) -> None:
    m = read_manifest(pack)
    assert [p["file"] for p in m["policies"]] == ["policy-0.onnx", "policy-1.onnx"]
    for p in m["policies"]:
        assert sha256_file(pack / p["file"]) == p["sha256"]
    assert sorted(f.name for f in pack.iterdir()) == [
        "manifest.json",
        "policy-0.onnx",
        "policy-1.onnx",
    ]


def test_a_loaded_pack_runs_one_step_with_onnxruntime(pack: Path) -> None:
    outputs = run_pack_step(pack, batch=20)
    assert len(outputs) == 2
    for out in outputs:
        assert out["logits"].shape == (20, 3)
        assert out["h_out"].shape == (1, 20, 16)
        assert np.isfinite(out["logits"]).all()


def copy_pack(pack: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    dst.mkdir()
    for f in pack.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_an_altered_policy_is_refused(pack: Path, tmp_path: Path) -> None:
    bad = copy_pack(pack, tmp_path)
    with (bad / "policy-1.onnx").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(PackError, match="sha256"):
        verify_pack(bad)


def test_a_missing_policy_is_refused(pack: Path, tmp_path: Path) -> None:
    bad = copy_pack(pack, tmp_path)
    (bad / "policy-0.onnx").unlink()
    with pytest.raises(PackError, match="missing"):
        verify_pack(bad)


def test_a_pack_for_other_features_is_refused(pack: Path, tmp_path: Path) -> None:
    bad = copy_pack(pack, tmp_path)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["feature_spec"]["hash"] = "0" * 64
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackError, match="feature spec"):
        verify_pack(bad)


def test_a_pack_without_normalisation_is_refused(pack: Path, tmp_path: Path) -> None:
    bad = copy_pack(pack, tmp_path)
    manifest = json.loads((bad / "manifest.json").read_text())
    del manifest["normalisation"]
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackError, match="normalisation"):
        verify_pack(bad)


def test_a_normalisation_for_another_layout_is_refused(pack: Path, tmp_path: Path) -> None:
    bad = copy_pack(pack, tmp_path)
    manifest = json.loads((bad / "manifest.json").read_text())
    for key in ("layout", "mean", "std"):
        manifest["normalisation"][key] = manifest["normalisation"][key][:-1]
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackError, match="normalisation"):
        verify_pack(bad)


def test_a_format_1_pack_is_refused(pack: Path, tmp_path: Path) -> None:
    bad = copy_pack(pack, tmp_path)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["format"] = 1
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackError, match="format 1"):
        verify_pack(bad)


def test_a_pack_is_never_written_over_another(pack: Path, tiny_config: Any, market: Any) -> None:
    with pytest.raises(PackError, match="not empty"):
        write_pack(pack, tiny_config, market, None, {})  # type: ignore[arg-type]
