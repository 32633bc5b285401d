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
    EnvSettings,
    Hyperparameters,
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


def test_the_env_settings_default_to_the_balanced_risk_profile() -> None:
    env = EnvSettings()
    assert (env.episode_days, env.symbols) == (252, 10)
    assert (env.budget, env.cap) == (0.95, 0.20)
    assert 0 <= env.random_start <= 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("episode_days", 9),
        ("episode_days", 2521),
        ("symbols", 2),  # ranks and 1/N slots need a cross-section (MIN_UNIVERSE)
        ("symbols", 101),
        ("risk_aversion", -0.1),
        ("reward_scale", 0.0),
        ("random_start", 1.5),
        ("random_start", -0.1),
        ("budget", 0.0),
        ("budget", 1.01),
        ("cap", 0.0),
        ("cap", 1.5),
        ("max_weight", 0.2),  # unknown key
    ],
)
def test_env_settings_reject_values_out_of_range(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        EnvSettings(**{field: value})


def test_an_env_section_in_the_file_is_validated_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "train.toml"
    path.write_text("[env]\nsymbols = 2\n")
    with pytest.raises(TrainConfigError, match=r"env\.symbols"):
        load_train_config(path, quick=True)
    path.write_text("[env]\nepisode_days = 63\nrisk_aversion = 0.0\n")
    config = load_train_config(path, quick=True)
    assert (config.env.episode_days, config.env.risk_aversion) == (63, 0.0)
    assert config.env.symbols == QUICK.env.symbols


def test_the_batch_must_fit_in_one_rollout_of_every_symbol_slot() -> None:
    """A rollout holds n_steps * n_envs * env.symbols agent-steps (one per slot)."""
    hp = Hyperparameters(n_envs=2, n_steps=16, batch_size=160)
    assert TrainConfig(hyperparameters=hp, env=EnvSettings(symbols=5)).hyperparameters == hp
    with pytest.raises(ValueError, match=r"n_steps \* n_envs \* env.symbols = 128"):
        TrainConfig(hyperparameters=hp, env=EnvSettings(symbols=4))
    # The same batch that fits 10 symbols x 2 portfolios would not fit 2 portfolios alone.
    big = Hyperparameters(n_envs=2, n_steps=16, batch_size=320)
    TrainConfig(hyperparameters=big, env=EnvSettings(symbols=10))
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(hyperparameters=big, env=EnvSettings(symbols=9))


def test_a_batch_too_large_in_a_file_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "train.toml"
    path.write_text("[hyperparameters]\nbatch_size = 100000\n")
    assert main(["--quick", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "batch_size" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


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
