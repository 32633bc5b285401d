"""Training config (typed, frozen, strict) and the ``invest train`` command line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from invest.trainer.cli import build_parser, main, resolve_config
from invest.trainer.config import (
    QUICK,
    TrainConfig,
    TrainConfigError,
    load_train_config,
)


def test_the_quick_preset_is_tiny() -> None:
    assert QUICK.n_policies == 3
    assert len(QUICK.test_years) <= 2
    assert QUICK.total_timesteps <= 5000
    assert QUICK.hyperparameters.lstm_hidden_size == 32
    assert QUICK.hyperparameters.n_lstm_layers == 1


def test_unknown_keys_are_rejected_with_their_path(tmp_path: Path) -> None:
    path = tmp_path / "train.toml"
    path.write_text("[hyperparameters]\nlearning_rat = 0.001\n")
    with pytest.raises(TrainConfigError, match=r"hyperparameters\.learning_rat"):
        load_train_config(path)


def test_a_section_in_the_file_keeps_the_presets_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "train.toml"
    path.write_text('name = "mine"\n[hyperparameters]\nlearning_rate = 0.001\n')
    config = load_train_config(path, quick=True)
    assert config.name == "mine"
    assert config.hyperparameters.learning_rate == 0.001
    assert config.hyperparameters.n_envs == QUICK.hyperparameters.n_envs


def test_the_config_is_frozen_and_checks_itself() -> None:
    with pytest.raises(ValueError, match="frozen"):
        QUICK.name = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="seeds"):
        TrainConfig(n_policies=2, seeds=(1, 2, 3))
    with pytest.raises(ValueError, match="end_year"):
        TrainConfig(start_year=2010, end_year=2009)
    assert TrainConfig(n_policies=3, seed_base=7).policy_seeds == (7, 8, 9)


def test_command_line_options_override_the_preset() -> None:
    args = build_parser().parse_args(
        ["--quick", "--years", "2015-2018", "--seeds", "4", "--timesteps", "999", "--workers", "1"]
    )
    config = resolve_config(args)
    assert config.test_years == (2015, 2016, 2017, 2018)
    assert config.policy_seeds == (0, 1, 2, 3)
    assert config.total_timesteps == 999
    assert config.workers == 1
    assert config.name == "quick"


def test_a_bad_years_option_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--years", "twenty"]) == 2
    assert "--years" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("optuna") is not None, reason="optuna installed")
def test_a_search_without_optuna_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--quick", "--trials", "2", "--out", str(tmp_path)]) == 2
    assert "pip install optuna" in capsys.readouterr().err
    assert not (tmp_path / "pack").exists()
