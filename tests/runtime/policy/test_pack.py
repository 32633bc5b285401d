"""Model packs: manifest parsing, checksums, feature spec, contract 2, zips, and where packs are found."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from invest.runtime import features
from invest.runtime.errors import PolicyPackError
from invest.runtime.policy.contract import OBS_DIM, Normaliser
from invest.runtime.policy.pack import (
    list_packs,
    load_pack,
    pack_sha,
    resolve_pack,
    verify_pack,
)
from tests.runtime.policy.support import edit_manifest


def _zip(pack: Path, dest: Path, folder: str = "") -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for f in sorted(pack.iterdir()):
            zf.write(f, f"{folder}{f.name}")
    return dest


def test_a_correct_pack_verifies_and_loads_with_its_policies_in_order(tiny_pack: Path) -> None:
    report = verify_pack(tiny_pack)
    assert report.ok, report.reason
    assert report.reason == "ok"
    assert [c.file for c in report.policies] == ["policy-0.onnx", "policy-1.onnx", "policy-2.onnx"]
    assert all(c.ok for c in report.policies)
    pack = load_pack(tiny_pack)
    assert (pack.name, pack.n_policies, pack.layers, pack.hidden, pack.obs_dim) == (
        "tiny",
        3,
        1,
        8,
        OBS_DIM,
    )
    assert pack.min_universe == 3
    np.testing.assert_array_equal(pack.normaliser.std, Normaliser.identity().std)
    assert pack.models[1] == (tiny_pack / "policy-1.onnx").read_bytes()
    assert pack.sha == pack_sha(pack.manifest)


def test_a_zip_loads_the_same_pack_at_its_root_or_inside_one_folder(
    tiny_pack: Path, tmp_path: Path
) -> None:
    flat = load_pack(_zip(tiny_pack, tmp_path / "flat.zip"))
    nested = load_pack(_zip(tiny_pack, tmp_path / "nested.zip", "tiny/"))
    assert flat.sha == nested.sha == load_pack(tiny_pack).sha
    assert flat.models == nested.models


def test_a_tampered_policy_is_refused_naming_the_file_and_both_hashes(tiny_pack: Path) -> None:
    f = tiny_pack / "policy-1.onnx"
    expected = hashlib.sha256(f.read_bytes()).hexdigest()
    f.write_bytes(f.read_bytes() + b"\0")
    actual = hashlib.sha256(f.read_bytes()).hexdigest()
    with pytest.raises(PolicyPackError) as exc:
        load_pack(tiny_pack)
    msg = str(exc.value)
    assert "policy-1.onnx" in msg
    assert expected in msg
    assert actual in msg
    report = verify_pack(tiny_pack)
    assert not report.ok
    assert [c.ok for c in report.policies] == [True, False, True]


def test_a_tampered_file_inside_a_zip_is_refused(tiny_pack: Path, tmp_path: Path) -> None:
    (tiny_pack / "policy-0.onnx").write_bytes(b"not a model")
    with pytest.raises(PolicyPackError, match=r"policy-0\.onnx was modified"):
        load_pack(_zip(tiny_pack, tmp_path / "bad.zip"))


def test_a_missing_policy_file_is_refused(tiny_pack: Path) -> None:
    (tiny_pack / "policy-2.onnx").unlink()
    with pytest.raises(PolicyPackError, match=r"policy-2\.onnx is listed .* but missing"):
        load_pack(tiny_pack)


def test_a_pack_for_another_feature_spec_version_is_refused_with_advice(tiny_pack: Path) -> None:
    edit_manifest(tiny_pack, lambda m: m["feature_spec"].update(version="0", hash="ab" * 32))
    with pytest.raises(PolicyPackError) as exc:
        load_pack(tiny_pack)
    msg = str(exc.value)
    assert "pack built for feature spec 0 (hash abababababab" in msg
    assert f"this runtime computes {features.FEATURE_SPEC_VERSION}" in msg
    assert "retrain or install a matching pack" in msg


def test_a_pack_trained_on_ohlc_features_is_refused_by_a_closes_only_runtime(
    tiny_pack: Path,
) -> None:
    edit_manifest(
        tiny_pack,
        lambda m: m["feature_spec"].update(hash=features.spec_hash(ohlc=True), ohlc=True),
    )
    with pytest.raises(PolicyPackError, match=r"ohlc.*closes only"):
        load_pack(tiny_pack)
    assert load_pack(tiny_pack, ohlc=True).name == "tiny"


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.pop("lstm"), r"lstm: Field required"),
        (lambda m: m["policies"][0].pop("sha256"), r"policies\.0\.sha256: Field required"),
        (lambda m: m.update(policies=[]), r"policies: .*at least 1"),
        (lambda m: m["policies"][0].update(file="../evil.onnx"), r"relative path inside"),
        (lambda m: m["policies"][0].update(sha256="xyz"), r"not a hex SHA-256"),
        (lambda m: m.update(format=3), r"format 3 is newer than this runtime reads \(2\)"),
        (lambda m: m.update(actions=["SELL", "HOLD", "BUY"]), r"actions .* differ"),
        (lambda m: m.update(actions=["OVER", "EQUAL", "OUT"]), r"actions .* differ"),
        (lambda m: m["observation"].update(dim=17), r"observation layout \(17: "),
        (
            lambda m: m["observation"].update(layout=m["observation"]["layout"][::-1]),
            r"observation layout .* differs from this runtime's",
        ),
        (lambda m: m["observation"].update(spec="1"), r"observation spec 1 differs .* 2"),
        (lambda m: m["observation"].pop("spec"), r"observation spec 1 differs"),
        (lambda m: m.pop("normalisation"), r"no normalisation section"),
        (lambda m: m["normalisation"]["std"].__setitem__(0, 0.0), r"normalisation: .*std > 0"),
        (
            lambda m: m["normalisation"].update(layout=m["normalisation"]["layout"][:-2]),
            r"normalisation: normalisation layout \(25 fields\) differs",
        ),
        (lambda m: m["normalisation"].update(mean=[0.0] * 17), r"need 27 values"),
        (lambda m: m["normalisation"].pop("std"), r"normalisation\.std: Field required"),
    ],
)
def test_a_malformed_manifest_is_refused_with_the_key_path(
    tiny_pack: Path, edit: Any, match: str
) -> None:
    edit_manifest(tiny_pack, edit)
    with pytest.raises(PolicyPackError, match=match):
        load_pack(tiny_pack)


def test_a_format_1_pack_is_refused_with_one_line_saying_to_retrain(tiny_pack: Path) -> None:
    edit_manifest(tiny_pack, lambda m: m.update(format=1))
    with pytest.raises(PolicyPackError) as exc:
        load_pack(tiny_pack)
    msg = str(exc.value)
    assert "\n" not in msg
    assert "manifest format 1 holds single-symbol SELL/HOLD/BUY policies" in msg
    assert "retrain it with `invest train`" in msg
    report = verify_pack(tiny_pack)
    assert report.reason.count("format 1") == 1  # not drowned in spec-2 mismatches


def test_a_nan_in_the_normalisation_is_refused(tiny_pack: Path) -> None:
    edit_manifest(tiny_pack, lambda m: m["normalisation"]["mean"].__setitem__(3, float("nan")))
    with pytest.raises(PolicyPackError, match=r"normalisation: .*must be finite"):
        load_pack(tiny_pack)


def test_unknown_manifest_keys_are_kept_for_forward_compatibility(tiny_pack: Path) -> None:
    edit_manifest(tiny_pack, lambda m: m.update(future={"x": 1}))
    pack = load_pack(tiny_pack)
    assert pack.manifest.model_extra == {"future": {"x": 1}}


def test_a_manifest_that_is_not_json_or_absent_is_refused(tiny_pack: Path) -> None:
    (tiny_pack / "manifest.json").write_text("{nope")
    with pytest.raises(PolicyPackError, match="not valid JSON"):
        load_pack(tiny_pack)
    (tiny_pack / "manifest.json").unlink()
    with pytest.raises(PolicyPackError, match=r"no manifest\.json"):
        load_pack(tiny_pack)


def test_a_path_that_is_no_pack_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.zip").write_text("not a zip")
    with pytest.raises(PolicyPackError, match=r"cannot read .* as a zip"):
        load_pack(tmp_path / "junk.zip")
    with pytest.raises(PolicyPackError, match="no model pack at"):
        load_pack(tmp_path / "absent")


def test_verify_checks_the_onnx_io_against_the_manifest(tiny_pack: Path) -> None:
    edit_manifest(tiny_pack, lambda m: m["lstm"].update(hidden=16))
    report = verify_pack(tiny_pack)
    assert not report.ok
    assert "policy-0.onnx: h_in has shape" in report.reason
    assert verify_pack(tiny_pack, check_models=False).ok


def test_a_name_is_found_in_the_packs_dir_as_a_folder_or_a_zip(
    tiny_pack: Path, tmp_path: Path
) -> None:
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "alpha").symlink_to(tiny_pack, target_is_directory=True)
    _zip(tiny_pack, packs / "beta.zip")
    assert resolve_pack("alpha", packs) == packs / "alpha"
    assert resolve_pack("beta", packs) == packs / "beta.zip"
    assert resolve_pack(str(tiny_pack), None) == tiny_pack
    assert list_packs(packs, tmp_path / "nowhere") == [packs / "alpha", packs / "beta.zip"]


def test_an_unknown_pack_name_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(PolicyPackError, match=r"no model pack named 'gamma' in .*packs"):
        resolve_pack("gamma", tmp_path / "packs")
    with pytest.raises(PolicyPackError, match="no model pack at"):
        resolve_pack("./gamma.zip", tmp_path)
