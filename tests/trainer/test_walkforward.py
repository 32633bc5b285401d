"""Walk-forward folds, per-fold training drift, runtime replays of each fold, the gate's input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from invest.trainer.pack import read_manifest
from invest.trainer.train import JobResult
from invest.trainer.walkforward import (
    WalkForwardResult,
    YearResult,
    plan_folds,
    promote,
    replay_folds,
    run_folds,
)

YEARS = (2020, 2021)


def test_folds_expand_and_leave_the_embargo_out(market: Any, tiny_config: Any) -> None:
    config = tiny_config.with_overrides(start_year=2019, end_year=2021, embargo_days=10)
    folds = plan_folds(config, market, config.test_years)
    assert [f.year for f in folds] == [2019, 2020, 2021]
    for f in folds:
        assert f.train_rows[0] == 0
        assert f.train_rows[1] == f.test_rows[0] - 10
        assert f.train[1] < f.test[0]
        assert f.test[0].startswith(str(f.year))
        assert f.test[1].startswith(str(f.year))
    assert folds[0].train_rows[1] < folds[1].train_rows[1] < folds[2].train_rows[1]


def test_a_test_year_without_data_is_a_clear_error(market: Any, tiny_config: Any) -> None:
    with pytest.raises(ValueError, match="no sessions in test year 2030"):
        plan_folds(tiny_config, market, [2030])


def test_a_fold_shorter_than_an_episode_is_a_clear_error(market: Any, tiny_config: Any) -> None:
    config = tiny_config.with_overrides(start_year=1991, end_year=1991, embargo_days=252)
    with pytest.raises(ValueError, match="fewer than an episode"):
        plan_folds(config, market, [1991])


def job(seed: int, drift: dict[str, float]) -> JobResult:
    return JobResult(2021, seed, "", "", {}, 1, 1.0, 1.0, "cpu", drift)


def test_a_year_result_is_the_mean_drift_of_its_policies() -> None:
    jobs = [
        job(0, {"entropy_initial": 1.0, "entropy_final": 0.8, "kl_from_initial": 0.02}),
        job(1, {"entropy_initial": 0.98, "entropy_final": 0.6, "kl_from_initial": 0.04}),
    ]
    y = YearResult.of(2021, jobs)
    assert (y.year, y.entropy, y.entropy_initial, y.kl_from_initial) == (2021, 0.7, 0.99, 0.03)
    assert YearResult.of(2021, [job(0, {})]).kl_from_initial is None


@pytest.fixture(scope="module")
def walk(market: Any, tiny_config: Any, tmp_path_factory: Any) -> tuple[Any, Any, Path]:
    """Two folds x one policy, trained, then each test year replayed through the runtime.

    The second fold still starts from the first fold's policy (the warm-start path), but
    trains 320 more steps, not the config's default 250,000 (two minutes on two cores).
    """
    config = tiny_config.with_overrides(
        start_year=YEARS[0], end_year=YEARS[1], n_policies=1, warm_start_timesteps=320
    )
    out = tmp_path_factory.mktemp("walk")
    trained = run_folds(config, market, YEARS, out, timesteps=320, workers=1)
    return trained, replay_folds(trained, config, market, out), out


def test_run_folds_trains_and_exports_every_fold_and_reports_its_drift(
    walk: tuple[WalkForwardResult, WalkForwardResult, Path],
) -> None:
    trained, _, out = walk
    assert [(j.fold, j.seed) for j in trained.jobs] == [(2020, 0), (2021, 0)]
    assert all(j.parity["passed"] for j in trained.jobs)
    assert all(j.timesteps >= 320 for j in trained.jobs)
    assert [y.year for y in trained.years] == list(YEARS)
    for y, j in zip(trained.years, trained.jobs, strict=True):
        assert y.kl_from_initial == j.drift["kl_from_initial"]
        assert y.entropy == j.drift["entropy_final"]
        assert 0 < y.entropy <= 1
    assert trained.replays == ()
    for year in YEARS:
        run = out / "folds" / str(year) / "seed-0"
        files = {p.name for p in run.iterdir()}
        assert {"metrics.csv", "model.zip", "policy.onnx", "parity.json"} <= files
        assert {"normaliser.json", "drift.json", "result.json"} <= files
    # Each fold's statistics come from its own training rows.
    norms = [
        json.loads((out / "folds" / str(y) / "seed-0" / "normaliser.json").read_text())
        for y in YEARS
    ]
    assert norms[0]["mean"] != norms[1]["mean"]


def test_replay_folds_replays_each_year_with_its_own_folds_pack(
    walk: tuple[WalkForwardResult, WalkForwardResult, Path], market: Any
) -> None:
    _, replayed, out = walk
    assert [r.year for r in replayed.replays] == list(YEARS)
    for r in replayed.replays:
        assert str(r.days[0].year) == str(r.year) == str(r.days[-1].year)
        assert {"trend_king", "rl_ensemble", "hybrid", "equal_weight"} <= set(r.equity)
        assert r.rl is not None
        assert r.exposure is not None
        pack = out / "folds" / str(r.year) / "pack"
        manifest = read_manifest(pack)
        assert [p["fold"] for p in manifest["policies"]] == [r.year]
        assert manifest["promotion"]["passed"] is False  # a fold's pack is never promoted
        job_dir = out / "folds" / str(r.year) / "seed-0"
        assert manifest["normalisation"] == json.loads((job_dir / "normaliser.json").read_text())
    assert set(replayed.runtime_columns["rl_ensemble"]) == set(YEARS)
    table = json.loads((out / "walk_forward.json").read_text())
    assert [row[0] for row in table["rows"]] == list(YEARS)
    assert table["columns"][:2] == ["year", "split"]
    assert [d["year"] for d in table["details"]] == list(YEARS)


def test_the_gate_judges_the_replays(
    walk: tuple[WalkForwardResult, WalkForwardResult, Path], tiny_config: Any
) -> None:
    trained, replayed, _ = walk
    refused = promote(tiny_config.promotion, trained)
    assert refused["passed"] is False
    assert "replays" in refused["rule"]
    verdict = promote(tiny_config.promotion, replayed)
    assert {"passed", "rule", "values", "criteria", "degenerate"} <= set(verdict)
    assert isinstance(verdict["passed"], bool)
    assert verdict["criteria"]
    assert verdict["degenerate"]


def test_an_optuna_search_returns_valid_hyperparameters(
    market: Any, tiny_config: Any, tmp_path: Any
) -> None:
    pytest.importorskip("optuna")
    from invest.trainer.optimise import best_hyperparameters

    config = tiny_config.with_overrides(
        start_year=2021,
        optuna={"trials": 1, "storage": f"sqlite:///{tmp_path}/study.db", "validation_years": 1},
        total_timesteps=320,
        n_policies=1,
    )
    hp = best_hyperparameters(config, market, tmp_path, workers=1)
    assert hp.lstm_hidden_size == config.hyperparameters.lstm_hidden_size
    assert (tmp_path / "study.db").is_file()
