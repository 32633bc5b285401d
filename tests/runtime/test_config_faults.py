"""Config that would crash later or never run fails at load, in one line with its key path.

Issue 11, finding 9: a timezone `Mars/Olympus` passed `invest config check`, then the
backtest and the engine crashed with ZoneInfoNotFoundError; a cron that never fires was
accepted; a non-UTF-8 file gave a traceback. Every command loads the config through
`load_config`, so each case is checked at `config check` and at the places of use.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from invest.runtime.cli import main
from invest.runtime.engine.main import main_entry

INVEST = [sys.executable, "-m", "invest.runtime.cli"]
ACCOUNT = '[accounts.main]\nuniverse = ["AAPL"]\n'
TZ_LINE = "engine.timezone: unknown timezone 'Mars/Olympus': use an IANA name"


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def mars(tmp_path: Path) -> Path:
    return _write(tmp_path, '[engine]\ntimezone = "Mars/Olympus"\n' + ACCOUNT)


def test_unknown_timezone_fails_config_check_with_its_key_path(
    mars: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(mars)]) == 2
    assert TZ_LINE in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["backtest", "--start", "2022-01-03", "--end", "2022-02-01"],
        ["engine", "--no-socket"],
        ["run", "main", "--dry-run"],
    ],
    ids=["backtest", "engine", "run"],
)
def test_unknown_timezone_stops_each_start_with_the_same_line(
    mars: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(mars), *argv]) == 2
    err = capsys.readouterr().err
    assert TZ_LINE in err
    assert "ZoneInfoNotFoundError" not in err


def test_python_m_engine_gives_the_same_line(
    mars: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main_entry(["--config", str(mars), "--no-socket"]) == 2
    assert TZ_LINE in capsys.readouterr().err


def test_timezone_from_the_environment_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVEST__ENGINE__TIMEZONE", "Mars/Olympus")
    assert main(["config", "check", str(_write(tmp_path, ACCOUNT))]) == 2
    assert TZ_LINE in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (ACCOUNT + 'schedule = "30 16 31 2 *"\n', "accounts.main.schedule"),
        ('[research.w]\nsymbols = ["AAPL"]\nschedule = "0 0 30 2 *"\n', "research.w.schedule"),
    ],
    ids=["account", "research"],
)
def test_a_cron_that_can_never_fire_is_refused_with_its_key_path(
    tmp_path: Path, text: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, text)
    assert main(["config", "check", str(path)]) == 2
    assert f"{key}: cron " in capsys.readouterr().err
    assert main(["--config", str(path), "engine", "--no-socket"]) == 2
    assert "can never fire" in capsys.readouterr().err


@pytest.mark.parametrize("cron", ["0 0 29 2 *", "0 16 * * mon-fri", "59 23 31 12 *"])
def test_rare_but_real_crons_still_pass(cron: str) -> None:
    from invest.runtime.config.checks import check_cron

    assert check_cron(cron) == cron


def test_a_non_utf8_config_is_one_line_with_the_byte_offset(tmp_path: Path) -> None:
    path = _write(tmp_path, ACCOUNT.encode() + b"# caf\xe9\n")
    proc = subprocess.run(
        [*INVEST, "config", "check", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: config file {path} is not UTF-8: byte 0xe9 at offset {len(ACCOUNT) + 5}; "
        "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
    ]
