"""The whole path, as ``invest train`` runs it: train -> export -> parity -> pack -> load."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from invest.trainer.cli import NOT_PROMOTED, main
from invest.trainer.pack import run_pack_step, verify_pack


@pytest.mark.slow
def test_invest_train_quick_writes_a_verified_pack_that_the_runtime_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``invest train --quick`` exactly as a user runs it (about 30 s on 2 cores)."""
    assert main(["--quick", "--out", str(tmp_path), "--no-progress"]) == 0  # always exported
    pack = tmp_path / "pack"
    manifest = verify_pack(pack)
    assert manifest["format"] == 2
    assert manifest["name"] == "quick"
    assert [p["fold"] for p in manifest["policies"]] == [2022, 2022, 2022]
    assert [w["fold"] for w in manifest["training"]["windows"]] == [2021, 2022]
    assert [r[0] for r in manifest["walk_forward"]["rows"]] == [2021, 2022]
    assert [r["year"] for r in manifest["walk_forward"]["replays"]] == [2021, 2022]
    assert manifest["parity"]["passed"]
    assert manifest["parity"]["resets"] >= 1
    assert isinstance(manifest["promotion"]["passed"], bool)
    assert len(run_pack_step(pack, batch=20)) == 3
    for fold in (2021, 2022):
        for seed in (0, 1, 2):
            run = tmp_path / "folds" / str(fold) / f"seed-{seed}"
            assert json.loads((run / "parity.json").read_text())["passed"]
            assert (run / "metrics.csv").read_text().startswith("timesteps,fps,ep_rew_mean")
            drift = json.loads((run / "drift.json").read_text())
            assert 0 < drift["entropy_final"] <= 1
        assert (tmp_path / "folds" / str(fold) / "pack" / "manifest.json").is_file()
    shipped = json.loads((tmp_path / "folds" / "2022" / "seed-0" / "normaliser.json").read_text())
    assert manifest["normalisation"] == shipped
    said = capsys.readouterr().out
    assert f"pack: {pack}" in said
    assert "KL from init" in said
    # The lean runtime loads the pack (onnxruntime only) and backtests with it, on a
    # universe other than the training one.
    from invest.runtime.backtest.runner import replay
    from invest.runtime.config import parse_config
    from invest.runtime.cycle import AccountRuntime
    from invest.runtime.data.sample import SampleData
    from invest.runtime.market import Market
    from invest.runtime.policy.pack import load_pack

    assert load_pack(pack).n_policies == 3
    universe = ["AAPL", "MSFT", "KO", "XOM", "JNJ"]
    settings = parse_config(
        {
            "accounts": {
                "rl": {"strategy": "rl_ensemble", "universe": universe, "rl": {"pack": str(pack)}}
            }
        }
    )
    acct = AccountRuntime.build("rl", settings)
    result = replay(acct, Market(SampleData().load(acct.symbols())), date(2022, 1, 3))
    assert len(result.days) == 249
    assert all(d["rl"] for d in result.decisions)


def test_a_pack_that_fails_the_promotion_gate_is_not_exported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A tiny config without --quick (which always exports), and a gate no policy clears.
    config = tmp_path / "train.toml"
    config.write_text(
        'name = "gate"\nstart_year = 2022\nend_year = 2022\nn_policies = 1\n'
        "total_timesteps = 320\nworkers = 1\nparity_steps = 250\n"
        "[hyperparameters]\nn_envs = 2\nn_steps = 32\nbatch_size = 64\nn_epochs = 1\n"
        "[env]\nsymbols = 5\nepisode_days = 30\n"
        "[promotion]\nmin_sharpe = 50.0\n"
    )
    out = tmp_path / "run"
    argv = ["--config", str(config), "--out", str(out), "--no-progress"]
    assert main(argv) == NOT_PROMOTED == 3
    said = capsys.readouterr().out
    assert "promotion: not passed" in said
    assert "no pack exported" in said
    assert not (out / "pack").exists()
    assert (out / "walk_forward.json").is_file()  # the evidence stays in the run folder
    # On request it is written, and marked as not passed.
    argv[argv.index(str(out))] = str(tmp_path / "again")
    assert main([*argv, "--export-unpromoted"]) == 0
    manifest = verify_pack(tmp_path / "again" / "pack")
    assert manifest["promotion"]["passed"] is False
    # --quick, a smoke run of the whole path, always writes its pack with the verdict.
    quick = ["--quick", "--config", str(config), "--out", str(tmp_path / "quick"), "--no-progress"]
    assert main(quick) == 0
    assert verify_pack(tmp_path / "quick" / "pack")["promotion"]["passed"] is False
