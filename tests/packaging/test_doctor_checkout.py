"""`invest doctor` finds the config and secrets as every command does, and asks no server."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from invest.runtime import service
from invest.runtime.cli import main
from invest.runtime.paths import Paths, example_config


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clone: no system or user config, no installer's secrets, no prefix; its home."""
    monkeypatch.setattr("invest.runtime.paths.SYSTEM_CONFIG", tmp_path / "etc/config.toml")
    monkeypatch.setattr("invest.runtime.paths.SYSTEM_SECRETS", tmp_path / "etc/secrets.env")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ("INVEST_CONFIG", "INVEST_SECRETS", "INVEST_PREFIX", "INVEST_TIME_URL"):
        monkeypatch.delenv(name, raising=False)

    def no_network(url: str, timeout_s: float) -> datetime:
        raise AssertionError(f"doctor asked {url} without being told to")

    monkeypatch.setattr(service, "_server_date", no_network)
    home = tmp_path / "home"
    monkeypatch.setenv("INVEST_HOME", str(home))
    return home


def _lines(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    out = capsys.readouterr().out.splitlines()
    return {line.split()[1]: line for line in out}


def test_doctor_on_a_checkout_uses_the_bundled_example_like_every_command(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert Paths.resolve().config == example_config()  # what `invest status` etc. run on
    main(["doctor"])
    lines = _lines(capsys)
    assert lines["config"].startswith("OK"), lines["config"]
    assert str(example_config()) in lines["config"]
    assert "bundled example" in lines["config"]
    assert lines["settings"].startswith("OK"), lines["settings"]


def test_doctor_with_config_looks_for_secrets_where_every_command_does(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "elsewhere" / "config.toml"
    config.parent.mkdir()
    config.write_text(example_config().read_text())
    (config.parent / "secrets.env").write_text("ALPACA_API_KEY=x\n")  # not where commands look
    main(["--config", str(config), "doctor"])
    secrets = _lines(capsys)["secrets"]
    assert str(Paths.resolve(str(config)).secrets) in secrets
    assert str(checkout / "secrets.env") in secrets
    assert str(config.parent / "secrets.env") not in secrets


def test_doctor_follows_invest_secrets(
    checkout: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    named = tmp_path / "keys.env"
    named.write_text("ALPACA_API_KEY=x\n")
    named.chmod(0o600)
    monkeypatch.setenv("INVEST_SECRETS", str(named))
    main(["doctor"])
    assert _lines(capsys)["secrets"] == f"OK   secrets  {named} has mode 0600"


def test_a_plain_doctor_run_asks_no_server_and_says_how_to(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["doctor"])  # _server_date raises if it is called
    clock = _lines(capsys)["clock"]
    assert clock.startswith("INFO")
    assert "--clock-server" in clock


def test_the_clock_check_asks_the_named_server_only(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []

    def offline(url: str, timeout_s: float) -> datetime:
        asked.append(url)
        raise OSError("network is unreachable")

    monkeypatch.setattr(service, "_server_date", offline)
    main(["doctor", "--clock-server", "https://time.example/"])
    assert asked == ["https://time.example/"]
    assert _lines(capsys)["clock"].startswith("SKIP")
