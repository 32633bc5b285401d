"""invest.runtime.service: start/stop/restart, logs, update, rollback and doctor."""

from __future__ import annotations

import argparse
import io
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from invest.runtime import service
from invest.runtime.layout import Layout


class Recorder:
    """A runner that records each argv and returns a fixed exit code."""

    def __init__(self, code: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.code = code

    def __call__(self, argv: Sequence[str]) -> int:
        self.calls.append(list(argv))
        return self.code


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout.from_env({"INVEST_PREFIX": str(tmp_path)})


def _install_venvs(layout: Layout, *names: str) -> None:
    for name in names:
        (layout.root / "venvs" / name / "bin").mkdir(parents=True)
        (layout.root / "venvs" / name / "bin/invest").write_text("#!/bin/sh\n")
    (layout.root / "current").symlink_to(f"venvs/{names[-1]}")
    if len(names) > 1:
        (layout.root / "previous").symlink_to(f"venvs/{names[-2]}")


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_layout_defaults_to_the_system_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system_secrets = _write(tmp_path / "secrets.env", "", 0o600)
    monkeypatch.setattr("invest.runtime.paths.SYSTEM_SECRETS", system_secrets)
    layout = Layout.from_env({})
    assert layout.config == Path("/etc/invest/config.toml")
    assert layout.secrets == system_secrets  # /etc/invest/secrets.env when it exists
    assert layout.home == Path("/var/lib/invest")
    assert layout.service_log == Path("/var/log/invest/engine.log")
    assert layout.root == Path("/opt/invest")


def test_layout_follows_the_prefix_and_the_environment(tmp_path: Path) -> None:
    env = {"INVEST_PREFIX": str(tmp_path), "INVEST_CONFIG": "/srv/cfg/invest.toml"}
    layout = Layout.from_env(env)
    assert layout.config == Path("/srv/cfg/invest.toml")
    # Not beside the config: where every command looks (paths.resolve_secrets).
    assert layout.secrets == tmp_path / "var/lib/invest/secrets.env"
    assert layout.home == tmp_path / "var/lib/invest"
    installed = _write(tmp_path / "etc/invest/secrets.env", "", 0o600)
    assert Layout.from_env(env).secrets == installed
    assert layout.root == tmp_path / "opt/invest"


def test_control_uses_supervisorctl_with_the_standalone_config_when_present(
    layout: Layout,
) -> None:
    _write(layout.supervisor_program, "[program:invest-engine]\n")
    runner = Recorder()
    assert service.control("restart", layout, runner) == 0
    assert runner.calls == [["supervisorctl", "restart", "invest-engine"]]
    _write(layout.supervisord_conf, "[supervisord]\n")
    service.control("stop", layout, runner)
    assert runner.calls[-1] == [
        "supervisorctl", "-c", str(layout.supervisord_conf), "stop", "invest-engine",
    ]  # fmt: skip


def test_control_falls_back_to_systemd_and_explains_when_neither_exists(
    layout: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = Recorder()
    assert service.control("start", layout, runner) == 2
    assert runner.calls == []
    assert "install.sh" in capsys.readouterr().err
    _write(layout.systemd_unit, "[Service]\n")
    service.control("start", layout, runner)
    assert runner.calls == [["systemctl", "start", "invest-engine.service"]]


def test_rollback_swaps_current_and_previous(layout: Layout) -> None:
    _install_venvs(layout, "0.1.0-20260101T000000Z", "0.2.0-20260201T000000Z")
    assert service.rollback(layout) == "venvs/0.1.0-20260101T000000Z"
    assert (layout.root / "current").readlink() == Path("venvs/0.1.0-20260101T000000Z")
    assert (layout.root / "previous").readlink() == Path("venvs/0.2.0-20260201T000000Z")


def test_rollback_without_a_previous_venv_changes_nothing(layout: Layout) -> None:
    _install_venvs(layout, "0.1.0-20260101T000000Z")
    with pytest.raises(FileNotFoundError, match="nothing to roll back to"):
        service.rollback(layout)
    assert (layout.root / "current").readlink() == Path("venvs/0.1.0-20260101T000000Z")


def test_update_rollback_restarts_the_engine_of_a_system_install(layout: Layout) -> None:
    _install_venvs(layout, "a-20260101T000000Z", "b-20260201T000000Z")
    _write(layout.root / "install.env", "INVEST_INSTALL_NO_SYSTEM=0\n")
    _write(layout.supervisor_program, "[program:invest-engine]\n")
    runner = Recorder()
    assert service.update(layout, None, to_previous=True, run=runner) == 0
    assert runner.calls == [["supervisorctl", "restart", "invest-engine"]]


def test_update_reruns_the_installed_installer_with_the_recorded_layout(
    layout: Layout,
) -> None:
    _write(layout.root / "installer/install.sh", "#!/bin/bash\n")
    _write(
        layout.root / "install.env",
        f"INVEST_INSTALL_PREFIX={layout.prefix}\nINVEST_INSTALL_NO_SYSTEM=1\n"
        "INVEST_INSTALL_SERVICE=supervisor\nINVEST_INSTALL_SOURCE=/src/checkout\n",
    )
    runner = Recorder()
    assert service.update(layout, "v0.2.0", to_previous=False, run=runner) == 0
    script = str(layout.root / "installer/install.sh")
    assert runner.calls[-1] == [
        "bash", script, "--non-interactive", "--prefix", str(layout.prefix), "--no-system",
        "--service", "supervisor", "--version", "v0.2.0",
    ]  # fmt: skip
    service.update(layout, None, to_previous=False, run=runner)
    assert runner.calls[-1][-2:] == ["--source", "/src/checkout"]


def test_update_without_an_installed_installer_says_what_to_do(
    layout: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    assert service.update(layout, None, to_previous=False, run=Recorder()) == 2
    assert "install.sh" in capsys.readouterr().err


def test_tail_lines_returns_the_last_lines(tmp_path: Path) -> None:
    log = _write(tmp_path / "engine.log", "".join(f"line {i}\n" for i in range(100)))
    assert service.tail_lines(log, 3) == ["line 97", "line 98", "line 99"]


def test_follow_prints_new_lines_and_survives_a_rotation(tmp_path: Path) -> None:
    log = _write(tmp_path / "engine.log", "old\n")
    out = io.StringIO()

    def append() -> None:
        with log.open("a") as handle:
            handle.write("first\n")

    steps = iter(
        [
            append,
            lambda: log.rename(tmp_path / "engine.log.1"),
            lambda: log.write_text("after rotation\n"),
        ]
    )
    polls = 0

    def stop() -> bool:
        nonlocal polls
        polls += 1
        step = next(steps, None)
        if step is not None:
            step()
        return polls > 12

    service.follow(log, out, poll_s=0.0, stop=stop)
    assert out.getvalue() == "first\nafter rotation\n"


def test_doctor_reports_a_healthy_appliance(layout: Layout) -> None:
    _install_venvs(layout, "0.1.0-20260101T000000Z")
    _write(layout.config, "[engine]\ndata = 'sample'\n")
    _write(layout.secrets, "ALPACA_API_KEY=x\n", 0o600)
    layout.home.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(layout.home / "ledger.sqlite") as db:
        db.execute("create table t (x)")
    db.close()
    checks = {c.name: c for c in service.doctor(layout)}
    for name in ("install", "config", "secrets", "settings", "ledger", "disk"):
        assert checks[name].status == "OK", checks[name].line()
    for name in ("packs", "broker", "llm"):  # no RL, Alpaca or oracle account configured
        assert checks[name].status == "SKIP", checks[name].line()
    assert checks["clock"].status == "INFO"  # not asked for: no network call


def test_doctor_fails_a_missing_config_and_a_broken_toml(layout: Layout) -> None:
    missing = service.check_config(layout)
    assert missing.status == "FAIL"
    assert "install.sh" in missing.fix
    _write(layout.config, "[engine\n")
    broken = service.check_config(layout)
    assert broken.status == "FAIL"
    assert "line 1" in broken.detail


def test_doctor_fails_a_readable_secrets_file_and_says_how_to_fix_it(layout: Layout) -> None:
    assert service.check_secrets(layout).status == "WARN"
    _write(layout.secrets, "K=v\n", 0o644)
    check = service.check_secrets(layout)
    assert check.status == "FAIL"
    assert check.fix == f"chmod 600 {layout.secrets}"
    assert check.line().startswith("FAIL secrets")


def test_doctor_fails_a_corrupt_ledger(layout: Layout) -> None:
    assert service.check_ledger(layout).status == "OK"
    _write(layout.home / "ledger.sqlite", "this is not a database at all" * 100)
    check = service.check_ledger(layout)
    assert check.status == "FAIL"
    assert "backup" in check.fix


@pytest.mark.parametrize(
    ("skew_s", "status"), [(0, "OK"), (3, "OK"), (-20, "WARN"), (120, "FAIL"), (-3600, "FAIL")]
)
def test_clock_skew_is_graded_against_the_server_time(skew_s: int, status: str) -> None:
    server = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    check = service.check_clock(
        server_date=lambda: server, now=lambda: server + timedelta(seconds=skew_s)
    )
    assert check.status == status


def test_clock_skew_is_skipped_offline_and_says_so() -> None:
    def offline() -> datetime:
        raise OSError("network is unreachable")

    check = service.check_clock(server_date=offline)
    assert check.status == "SKIP"
    assert "offline" in check.detail


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="invest")
    service.add_service_commands(parser.add_subparsers(dest="command"))
    return parser


def test_service_commands_are_registered_with_handlers_but_not_status() -> None:
    parser = _parser()
    for argv in (["start"], ["stop"], ["restart"], ["logs", "-f"], ["doctor"]):
        args = parser.parse_args(argv)
        assert callable(args.handler), argv
    assert parser.parse_args(["logs", "-f", "-n", "5"]).lines == 5
    assert parser.parse_args(["update", "--version", "v1.2.0"]).version == "v1.2.0"
    assert parser.parse_args(["update", "--rollback"]).rollback is True
    with pytest.raises(SystemExit):
        parser.parse_args(["status"])


def test_update_takes_a_version_or_a_rollback_not_both(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["update", "--version", "v1", "--rollback"])
    assert "not allowed with" in capsys.readouterr().err


def test_doctor_handler_prints_one_line_per_check_and_fails_on_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVEST_PREFIX", str(tmp_path))
    monkeypatch.setenv("INVEST_TIME_URL", "http://127.0.0.1:9/")
    monkeypatch.delenv("INVEST_CONFIG", raising=False)
    args = _parser().parse_args(["doctor"])
    assert args.handler(args, object()) == 1  # the config is missing
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == [
        "install", "config", "secrets", "settings", "packs", "broker", "llm", "home", "ledger", "disk",
        "clock",
    ]  # fmt: skip
    assert all(line.split()[0] in ("OK", "WARN", "FAIL", "SKIP", "INFO") for line in lines)


def test_start_without_supervisor_installed_says_how_to_run_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A --no-system prefix install: the program and supervisord.conf are rendered, but
    # nothing installed supervisorctl.
    from invest.runtime.cli import main

    prefix = tmp_path / "prefix"
    layout = Layout.from_env({"INVEST_PREFIX": str(prefix)})
    _write(layout.supervisor_program, "[program:invest-engine]\n")
    _write(layout.supervisord_conf, "[supervisord]\n")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("INVEST_PREFIX", str(prefix))
    assert main(["start"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "no service manager found" in err
    assert "invest engine" in err
    assert "--no-system" in err
