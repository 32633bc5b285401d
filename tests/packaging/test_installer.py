"""install.sh without pip: options, dry runs, platform checks, prompts, settings, wrappers."""

from __future__ import annotations

import shlex
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.support import REPO, bash_lib, clean_env, explain, models_server, run

INSTALL = str(REPO / "install.sh")


def _os_release(tmp_path: Path, **fields: str) -> Path:
    path = tmp_path / "os-release"
    path.write_text("".join(f'{k}="{v}"\n' for k, v in fields.items()))
    return path


def _dry_run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    argv = ["bash", INSTALL, "--dry-run", "--non-interactive", "--source", str(REPO)]
    return run([*argv, "--prefix", str(tmp_path / "prefix"), *args], env=clean_env(**env))


DEBIAN_12 = {"ID": "debian", "VERSION_ID": "12", "PRETTY_NAME": "Debian GNU/Linux 12"}


def test_help_lists_the_scriptable_options() -> None:
    result = run(["bash", INSTALL, "--help"])
    assert result.returncode == 0, explain(result)
    for option in (
        "--non-interactive", "--source", "--version", "--prefix", "--no-system",
        "--dry-run", "--uninstall", "--purge", "--rollback", "--force",
    ):  # fmt: skip
        assert option in result.stdout, option


def test_an_unknown_option_is_refused_with_a_clear_message() -> None:
    result = run(["bash", INSTALL, "--frobnicate"])
    assert result.returncode != 0
    assert "unknown option: --frobnicate" in result.stderr


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    result = _dry_run(tmp_path, "--no-system")
    assert result.returncode == 0, explain(result)
    commands = [line for line in result.stdout.splitlines() if line.startswith("+ ")]
    assert any(" -m venv " in line for line in commands)
    # The tree with the reports extra (the plan prints it shell-quoted: \[reports\]).
    pips = [line.replace("\\", "") for line in commands if " -m pip install " in line]
    assert any(line.endswith(f"{REPO}[reports]") for line in pips), pips
    assert any("ln -sfn venvs/" in line for line in commands)
    assert not (tmp_path / "prefix").exists()


def test_invest_reports_0_installs_the_tree_without_the_charts_extra(tmp_path: Path) -> None:
    result = _dry_run(tmp_path, "--no-system", INVEST_REPORTS="0")
    assert result.returncode == 0, explain(result)
    (pip,) = [
        x for x in result.stdout.splitlines() if x.startswith("+ ") and " -m pip install " in x
    ]
    assert pip.endswith(f" {REPO}")
    assert "without charts" in result.stdout


def test_dry_run_of_a_system_install_shows_apt_the_user_and_supervisor(tmp_path: Path) -> None:
    release = _os_release(tmp_path, **DEBIAN_12)
    result = _dry_run(tmp_path, INVEST_OS_RELEASE=str(release), INVEST_ARCH="arm64")
    assert result.returncode == 0, explain(result)
    out = result.stdout
    apt = next(line for line in out.splitlines() if "apt-get install" in line)
    assert "python3-venv" in apt
    assert "supervisor" in apt
    if subprocess.run(["id", "invest"], capture_output=True, check=False).returncode != 0:
        assert "useradd --system" in out
    assert "supervisorctl update" in out
    commands = [line for line in out.splitlines() if line.startswith("+ ")]
    assert not [line for line in commands if "torch" in line or "[train]" in line]


def test_ubuntu_2204_also_gets_python_311(tmp_path: Path) -> None:
    release = _os_release(tmp_path, ID="ubuntu", VERSION_ID="22.04", PRETTY_NAME="Ubuntu 22.04")
    result = _dry_run(tmp_path, INVEST_OS_RELEASE=str(release), INVEST_ARCH="amd64")
    assert result.returncode == 0, explain(result)
    assert "python3.11-venv" in result.stdout


@pytest.mark.parametrize(
    ("fields", "arch", "message"),
    [
        ({"ID": "fedora", "VERSION_ID": "40"}, "amd64", "unsupported OS"),
        ({"ID": "debian", "VERSION_ID": "11"}, "amd64", "unsupported OS"),
        ({"ID": "ubuntu", "VERSION_ID": "20.04"}, "amd64", "unsupported OS"),
        (DEBIAN_12, "armhf", "unsupported architecture: armhf"),
    ],
)
def test_an_unsupported_platform_is_refused_unless_forced(
    tmp_path: Path, fields: dict[str, str], arch: str, message: str
) -> None:
    env = {"INVEST_OS_RELEASE": str(_os_release(tmp_path, **fields)), "INVEST_ARCH": arch}
    refused = _dry_run(tmp_path, **env)
    assert refused.returncode != 0
    assert message in refused.stderr
    assert "--force" in refused.stderr
    forced = _dry_run(tmp_path, "--force", **env)
    assert forced.returncode == 0, explain(forced)


@pytest.mark.parametrize(
    ("release", "supported"),
    [
        ({"ID": "debian", "VERSION_ID": "13"}, True),
        ({"ID": "raspbian", "VERSION_ID": "12"}, True),
        ({"ID": "ubuntu", "VERSION_ID": "24.04"}, True),
        ({"ID": "ubuntu", "VERSION_ID": "22.10"}, True),
        ({"ID": "ubuntu", "VERSION_ID": "21.10"}, False),
        ({"ID": "alpine", "VERSION_ID": "3.20"}, False),
    ],
)
def test_supported_releases_are_recognised(
    tmp_path: Path, release: dict[str, str], supported: bool
) -> None:
    path = _os_release(tmp_path, **release)
    result = bash_lib(
        f"INVEST_OS_RELEASE={shlex.quote(str(path))} inv_os_release; inv_os_supported"
    )
    assert (result.returncode == 0) is supported


def test_secrets_never_reach_a_command_line_in_a_dry_run(tmp_path: Path) -> None:
    secret = "sk-never-on-a-command-line-4242"  # noqa: S105 (a fake value to look for)
    result = _dry_run(tmp_path, "--no-system", ALPACA_SECRET_KEY=secret)
    assert result.returncode == 0, explain(result)
    assert secret not in result.stdout + result.stderr


def _on_a_terminal(program: str, env: dict[str, str]) -> str:
    """Run a bash program on a real terminal (script(1)) with nothing typed; its transcript."""
    script = shutil.which("script")
    if script is None:
        pytest.skip("script(1) from util-linux is needed to give the installer a terminal")
    result = subprocess.run(
        [script, "-qfec", f"bash -c {shlex.quote(program)}", "/dev/null"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    transcript = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 0, transcript
    return transcript


def test_the_installer_asks_no_keys_itself_on_a_terminal(tmp_path: Path) -> None:
    """Keys are asked (and tested) by `invest setup`; the installer only takes them from the
    environment, flags or --secrets-file, so nobody types a key twice."""
    prefix = tmp_path / "prefix"
    (prefix / "etc/invest").mkdir(parents=True)
    program = (
        "INVEST_CLEANUP=(); source installer/lib.sh; inv_defaults; "
        f"INV_PREFIX={shlex.quote(str(prefix))}; INV_NO_SYSTEM=1; inv_layout; "
        "inv_collect_settings; inv_write_secrets"
    )
    transcript = _on_a_terminal(program, clean_env(TERM="dumb", ALPACA_API_KEY="PKFROMENV"))
    assert "API key" not in transcript
    assert "Telegram bot token" not in transcript
    lines = (prefix / "etc/invest/secrets.env").read_text().splitlines()
    assert "ALPACA_API_KEY=PKFROMENV" in lines


def test_an_install_on_a_terminal_ends_with_invest_setup_on_that_terminal(tmp_path: Path) -> None:
    root = tmp_path / "opt/invest"
    (root / "current/bin").mkdir(parents=True)
    record = tmp_path / "setup-called"
    fake = root / "current/bin/invest"
    fake.write_text(
        f'#!/bin/sh\n{{ echo "$@"; [ -t 0 ] && echo stdin-is-a-terminal; }} > {record}\n'
    )
    fake.chmod(0o755)
    config = tmp_path / "etc/invest/config.toml"
    program = (
        "INVEST_BOOT_SOURCED=1 source install.sh; source installer/lib.sh; inv_defaults; "
        f"INV_ACTION=install; INV_ROOT={shlex.quote(str(root))}; INV_HOME={tmp_path}; "
        f"INV_SECRETS={tmp_path}/secrets.env; INV_CONFIG={shlex.quote(str(config))}; _boot_setup"
    )
    transcript = _on_a_terminal(program, clean_env(TERM="dumb"))
    assert "guided setup: invest setup" in transcript
    assert record.read_text().splitlines() == [f"setup --config {config}", "stdin-is-a-terminal"]


def test_new_settings_replace_old_ones_and_keep_the_rest(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    (prefix / "etc/invest").mkdir(parents=True)
    secrets_file = prefix / "etc/invest/secrets.env"
    secrets_file.write_text("# mine\nALPACA_API_KEY=old\nCUSTOM=kept\n")
    secrets_file.chmod(0o644)
    result = bash_lib(
        f"INV_PREFIX={shlex.quote(str(prefix))}; INV_NO_SYSTEM=1; INV_NONINTERACTIVE=1; "
        "inv_layout; inv_collect_settings; inv_write_secrets",
        env=clean_env(ALPACA_API_KEY="PKNEW4242"),
    )
    assert result.returncode == 0, explain(result)
    assert secrets_file.read_text().splitlines() == [
        "# mine", "CUSTOM=kept", "ALPACA_API_KEY=PKNEW4242", "ALPACA_PAPER=true",
    ]  # fmt: skip
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert "PKNEW4242" not in result.stdout + result.stderr


@pytest.fixture
def llm_server() -> Iterator[str]:
    """A local OpenAI-style /v1/models endpoint on 127.0.0.1."""
    with models_server() as url:
        yield url


def _probe(url: str) -> subprocess.CompletedProcess[str]:
    return bash_lib(f"declare -gA INV_NEW=([INVEST_LLM_URL]={shlex.quote(url)}); inv_probe_llm")


def test_a_reachable_llm_server_is_reported(llm_server: str) -> None:
    for url in (llm_server, f"{llm_server}/v1", f"{llm_server}/"):
        result = _probe(url)
        assert result.returncode == 0, explain(result)
        assert "LLM server answers" in result.stdout, url


def test_an_unreachable_llm_server_is_a_warning_not_a_failure(llm_server: str) -> None:
    result = _probe(f"{llm_server}/nothing-here")
    assert result.returncode == 0, explain(result)
    assert "did not answer 200 (got 404)" in result.stderr
    closed = _probe("http://127.0.0.1:9")
    assert closed.returncode == 0, explain(closed)
    assert "WARNING" in closed.stderr


def test_the_engine_wrapper_exports_secrets_without_running_them(tmp_path: Path) -> None:
    prefix = tmp_path / "p"
    rendered = bash_lib(
        f"INV_PREFIX={shlex.quote(str(prefix))}; INV_USER=$(id -un); "
        "inv_render appliance/bin/invest-engine"
    )
    assert rendered.returncode == 0, explain(rendered)
    wrapper = tmp_path / "invest-engine"
    wrapper.write_text(rendered.stdout)
    fake = prefix / "opt/invest/current/bin/invest"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho "args=$*"\nenv\n')
    fake.chmod(0o755)
    etc = prefix / "etc/invest"
    etc.mkdir(parents=True)
    canary = tmp_path / "executed"
    (etc / "secrets.env").write_text(
        "# a comment\n"
        "ALPACA_API_KEY=PKPLAIN\n"
        'ALPACA_SECRET_KEY="quoted value"\n'
        "export TELEGRAM_BOT_TOKEN='single'\n"
        f"INVEST_LLM_URL=$(touch {canary})\n"
        "this line is broken hunter2\n"
    )
    result = run(["bash", wrapper], env=clean_env())
    assert result.returncode == 0, explain(result)
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert env["args"] == "engine"
    assert env["ALPACA_API_KEY"] == "PKPLAIN"
    assert env["ALPACA_SECRET_KEY"] == "quoted value"  # noqa: S105 (fake test values)
    assert env["TELEGRAM_BOT_TOKEN"] == "single"  # noqa: S105
    assert env["INVEST_LLM_URL"] == f"$(touch {canary})"
    assert not canary.exists(), "the wrapper executed a value"
    assert env["INVEST_CONFIG"] == f"{prefix}/etc/invest/config.toml"
    assert env["INVEST_HOME"] == f"{prefix}/var/lib/invest"
    assert "malformed line 6" in result.stderr
    assert "hunter2" not in result.stderr


def _source_tarball(path: Path, top: str) -> Path:
    """A GitHub-style source tarball (one top folder) of what a dry run reads."""
    with tarfile.open(path, "w:gz") as tar:
        for name in ("install.sh", "installer", "appliance", "pyproject.toml", "runtime/examples"):
            tar.add(REPO / name, arcname=f"{top}/{name}")
    return path


def _piped(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run install.sh as `curl ... | bash -s -- ARGS` does: the script arrives on stdin."""
    script = (REPO / "install.sh").read_text()
    return run(["bash", "-s", "--", *args], env=clean_env(**env), input_text=script, cwd=Path("/"))


def test_a_piped_install_fetches_the_source_tree_and_runs_its_installer(tmp_path: Path) -> None:
    tarball = _source_tarball(tmp_path / "src.tar.gz", "invest-appliance-main")
    result = _piped(
        "--dry-run", "--non-interactive", "--no-system", "--prefix", str(tmp_path / "p"),
        "--source", f"file://{tarball}",
    )  # fmt: skip
    assert result.returncode == 0, explain(result)
    assert f"fetching file://{tarball}" in result.stderr
    pip = next(line for line in result.stdout.splitlines() if " -m pip install " in line)
    tree = Path(pip.split()[-1].replace("\\", "").removesuffix("[reports]"))
    assert tree.name == "invest-appliance-main"
    assert str(REPO) not in pip
    assert not tree.exists(), "the fetched tree was not cleaned up"


def test_a_piped_install_of_a_version_fetches_that_release_of_the_repo(tmp_path: Path) -> None:
    releases = tmp_path / "repo/archive/refs/tags"
    releases.mkdir(parents=True)
    _source_tarball(releases / "v9.9.9.tar.gz", "invest-appliance-9.9.9")
    result = _piped(
        "--dry-run", "--non-interactive", "--no-system", "--prefix", str(tmp_path / "p"),
        "--version", "v9.9.9",
        INVEST_REPO=f"file://{tmp_path}/repo",
    )  # fmt: skip
    assert result.returncode == 0, explain(result)
    assert "venvs/v9.9.9-" in result.stdout
    missing = _piped("--dry-run", "--version", "v0.0.0", INVEST_REPO=f"file://{tmp_path}/repo")
    assert missing.returncode != 0
    assert "cannot download" in missing.stderr


def _render(template: str, prefix: str = "/srv/x") -> dict[str, str]:
    result = bash_lib(f"INV_PREFIX={prefix}; INV_USER=invest; inv_render appliance/{template}")
    assert result.returncode == 0, explain(result)
    assert "@PREFIX@" not in result.stdout
    assert "@USER@" not in result.stdout
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith((";", "#"))}


def test_the_supervisor_program_restarts_the_engine_and_rotates_its_log() -> None:
    program = _render("supervisor/invest-engine.conf")
    assert program["command"] == "/srv/x/opt/invest/bin/invest-engine"
    assert program["user"] == "invest"
    assert program["autorestart"] == "true"
    assert int(program["startsecs"]) >= 5
    assert int(program["startretries"]) >= 3
    assert program["stdout_logfile"] == "/srv/x/var/log/invest/engine.log"
    assert program["stdout_logfile_maxbytes"] == "10MB"
    assert int(program["stdout_logfile_backups"]) >= 1


def test_the_systemd_unit_is_type_notify_with_a_watchdog() -> None:
    unit = _render("systemd/invest-engine.service")
    assert unit["Type"] == "notify"
    assert int(unit["WatchdogSec"]) > 0
    assert unit["ExecStart"] == "/srv/x/opt/invest/bin/invest-engine"
    assert unit["Restart"] == "on-failure"
    assert unit["User"] == "invest"


def test_a_systemd_install_renders_the_unit_and_its_log_rotation(tmp_path: Path) -> None:
    result = _dry_run(tmp_path, "--no-system", "--service", "systemd")
    assert result.returncode == 0, explain(result)
    assert "/etc/systemd/system/invest-engine.service" in result.stdout
    assert "/etc/logrotate.d/invest" in result.stdout
    assert "supervisor" not in result.stdout.replace("Supervisor", "")


def test_uninstall_dry_run_lists_what_it_would_remove_and_removes_nothing(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    (prefix / "opt/invest").mkdir(parents=True)
    argv = ["bash", INSTALL, "--dry-run", "--uninstall", "--no-system", "--prefix", str(prefix)]
    result = run(argv)
    assert result.returncode == 0, explain(result)
    assert f"+ rm -rf {prefix}/opt/invest" in result.stdout
    assert f"kept {prefix}/etc/invest" in result.stdout
    assert (prefix / "opt/invest").is_dir()
