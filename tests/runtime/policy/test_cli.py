"""``invest models list|show|verify`` as a user runs them."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from invest.runtime.errors import PolicyPackError
from invest.runtime.paths import Paths
from invest.runtime.policy.cli import add_models_commands


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="invest")
    add_models_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args, Paths.resolve()))


def test_verify_says_ok_and_exits_0_for_a_good_pack(
    tiny_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["models", "verify", str(tiny_pack)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "OK: tiny, 3 policies" in out


def test_verify_exits_1_with_a_one_line_reason_for_a_tampered_pack(
    tiny_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tiny_pack / "policy-0.onnx").write_bytes(b"x")
    assert _run(["models", "verify", str(tiny_pack)]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "FAILED: policy-0.onnx was modified" in out


def test_verify_of_an_unknown_name_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["models", "verify", "nosuch"]) == 1
    assert "nosuch: FAILED: no model pack named 'nosuch'" in capsys.readouterr().out


def test_list_shows_installed_packs_with_their_status(
    tiny_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packs = Paths.resolve().packs
    shutil.copytree(tiny_pack, packs / "good")
    shutil.copytree(tiny_pack, packs / "bad")
    (packs / "bad" / "policy-1.onnx").unlink()
    assert _run(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["PACK", "POLICIES", "SPEC", "CREATED", "STATUS", "GATE"]
    rows = {line.split()[-1]: line.split() for line in lines[1:]}
    assert rows[str(packs / "good")][:6] == ["tiny", "3", "1", "2026-01-02", "ok", "passed"]
    assert rows[str(packs / "bad")][4] == "REFUSED"


@pytest.mark.parametrize(
    ("promotion", "verdict"),
    [({"passed": False, "rule": "sharpe > index"}, ["failed"]), (None, ["not", "judged"])],
)
def test_list_shows_the_gate_verdict_of_the_manifest(
    tiny_pack: Path,
    capsys: pytest.CaptureFixture[str],
    promotion: dict[str, object] | None,
    verdict: list[str],
) -> None:
    pack = Paths.resolve().packs / "tiny"
    shutil.copytree(tiny_pack, pack)
    manifest = json.loads((pack / "manifest.json").read_text())
    if promotion is None:
        del manifest["promotion"]
    else:
        manifest["promotion"] = promotion
    (pack / "manifest.json").write_text(json.dumps(manifest))
    assert _run(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.endswith(str(pack)))
    assert row.split()[4:-1] == ["ok", *verdict]  # intact files, whatever the gate said


def test_list_of_an_empty_directory_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["models", "list", "--dir", str(tmp_path)]) == 0
    assert "no model packs in" in capsys.readouterr().out


def test_show_summarises_the_manifest_with_the_walk_forward_table(
    tiny_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(tiny_pack, Paths.resolve().packs / "tiny")
    assert _run(["models", "show", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "pack tiny" in out
    assert "status: ok" in out
    assert "lstm 1 x 8, actions OUT, EQUAL, OVER" in out
    assert "walk-forward (total_return):" in out
    assert "year  trend_king  rl_ensemble  hybrid  index_bh  equal_weight_bh" in out
    assert "2021  +10.0%      +5.0%        +8.0%   +27.0%    +30.0%" in out


def test_show_json_is_the_manifest_plus_the_checks(
    tiny_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["models", "show", str(tiny_pack), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True
    assert doc["manifest"]["lstm"] == {"hidden": 8, "layers": 1}


def test_show_of_an_unreadable_manifest_is_an_error(tiny_pack: Path) -> None:
    (tiny_pack / "manifest.json").write_text("[]")
    with pytest.raises(PolicyPackError, match=r"manifest\.json is invalid"):
        _run(["models", "show", str(tiny_pack)])
