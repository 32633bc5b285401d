"""install.sh for real, into a temporary prefix: layout, CLI, upgrade, rollback, uninstall."""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import pytest

from tests.packaging.conftest import Installation, run_installer
from tests.packaging.support import REPO, clean_env, explain, run

pytestmark = pytest.mark.installs

VENV_NAME = re.compile(r"^(?P<version>[A-Za-z0-9._+-]+)-\d{8}T\d{6}Z(\.1)*$")


def _project_version() -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert match
    return match.group(1)


def test_install_creates_one_versioned_venv_behind_the_current_link(
    installation: Installation,
) -> None:
    assert len(installation.venvs) == 1
    (name,) = installation.venvs
    match = VENV_NAME.match(name)
    assert match, name
    assert match.group("version") == _project_version()
    assert installation.current == f"venvs/{name}"
    assert installation.previous == ""


def test_install_lays_out_config_secrets_data_and_logs(installation: Installation) -> None:
    prefix = installation.prefix
    example = REPO / "runtime/examples/config.toml"
    assert (prefix / "etc/invest/config.toml").read_text().startswith(example.read_text())
    for folder in ("var/lib/invest/packs", "var/lib/invest/cache", "var/log/invest"):
        assert (prefix / folder).is_dir(), folder
    state = (prefix / "opt/invest/install.env").read_text()
    assert "INVEST_INSTALL_NO_SYSTEM=1" in state
    assert (prefix / "opt/invest/installer/install.sh").is_file()
    assert (prefix / "opt/invest/installer/installer/lib.sh").is_file()


def test_secrets_from_the_environment_land_only_in_secrets_env_with_mode_0600(
    installation: Installation,
) -> None:
    secrets_file = installation.prefix / "etc/invest/secrets.env"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    lines = secrets_file.read_text().splitlines()
    for key, value in installation.secrets.items():
        assert f"{key}={value}" in lines
    assert "ALPACA_PAPER=true" in lines
    for value in installation.secrets.values():
        assert value not in installation.output, "a secret was printed by the installer"
    for path in installation.prefix.rglob("*"):
        if path == secrets_file or "venvs" in path.parts or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for value in installation.secrets.values():
            assert value not in text, f"a secret leaked into {path}"


def test_supervisor_program_runs_the_wrapper_and_rotates_its_log(
    installation: Installation,
) -> None:
    program = (installation.prefix / "etc/supervisor/conf.d/invest.conf").read_text()
    prefix = installation.prefix
    assert f"command={prefix}/opt/invest/bin/invest-engine" in program
    assert f"stdout_logfile={prefix}/var/log/invest/engine.log" in program
    assert "stdout_logfile_maxbytes=10MB" in program
    assert "stdout_logfile_backups=5" in program
    assert "@PREFIX@" not in program
    assert "@USER@" not in program
    environment = [line for line in program.splitlines() if line.startswith("environment=")]
    mpl = f"{prefix}/var/lib/invest/cache/matplotlib"
    assert environment == [f'environment=PYTHONUNBUFFERED="1",MPLCONFIGDIR="{mpl}"']


def test_installed_invest_reports_its_version(installation: Installation) -> None:
    result = installation.cli("--version", timeout=120)
    assert result.returncode == 0, explain(result)
    assert _project_version() in result.stdout + result.stderr


def test_installed_invest_checks_the_installed_config(installation: Installation) -> None:
    if not installation.has_command("config", "check"):
        pytest.skip("the CLI has no `invest config check` yet")
    result = installation.cli("config", "check")
    assert result.returncode == 0, explain(result)


def test_installed_invest_runs_the_quick_demo(installation: Installation) -> None:
    if not installation.has_command("demo"):
        pytest.skip("the CLI has no `invest demo` yet")
    result = installation.cli("demo", "--quick", timeout=600)
    assert result.returncode == 0, explain(result)


def test_base_install_never_pulls_torch(installation: Installation) -> None:
    python = installation.prefix / "opt/invest/current/bin/python"
    probe = (
        "import importlib.util as u, sys; "
        "sys.exit(any(u.find_spec(m) for m in ('torch', 'stable_baselines3', 'sb3_contrib')))"
    )
    result = run([python, "-c", probe])
    assert result.returncode == 0, "torch or sb3 is installed in the base venv"


def test_base_venv_is_slimmed_of_pip_setuptools_test_suites_and_the_unused_ort_c_library(
    installation: Installation,
) -> None:
    venv = installation.prefix / "opt/invest/current"
    probe = (
        "import importlib.util as u, sys; "
        "sys.exit(any(u.find_spec(m) for m in "
        "('pip', 'setuptools', 'numpy.tests', 'pandas.tests', 'matplotlib.tests')))"
    )
    result = run([venv / "bin/python", "-c", probe])
    assert result.returncode == 0, "pip, setuptools or a test suite is still in the base venv"
    assert not list(venv.glob("lib/python3*/site-packages/numpy/*/tests"))
    assert not list(venv.glob("lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*"))
    site = next(venv.glob("lib/python3*/site-packages"))
    assert not list(site.glob("fontTools/**/*.c"))
    twins = [
        so
        for so in site.glob("fontTools/**/*.so")
        if so.with_name(so.name.split(".")[0] + ".py").is_file()
    ]
    assert twins == []
    # What the runtime needs of them still works (the demo test runs the rest): the
    # reports extra draws a tearsheet chart (SVG) and an alert chart (PNG), and the
    # pure-Python twin of a removed fontTools accelerator imports.
    probe = (
        "import numpy as np, numpy.testing, pandas, exchange_calendars, fontTools.cu2qu.cu2qu\n"
        "from invest.runtime.reports import charts\n"
        "with charts.style():\n"
        "    fig = charts.new_figure()\n"
        "    fig.axes[0].plot(np.arange(5), np.arange(5))\n"
        "assert charts.figure_svg(fig).startswith('<svg')\n"
        "assert charts.figure_png(fig, 1080)[:4] == bytes.fromhex('89504e47')\n"
    )
    result = run([venv / "bin/python", "-c", probe])
    assert result.returncode == 0, explain(result)


def test_rerun_upgrades_into_a_new_venv_and_keeps_the_edited_config(
    installation: Installation, upgraded: Installation
) -> None:
    assert len(upgraded.venvs) == 2
    assert upgraded.previous == installation.current
    assert upgraded.current != installation.current
    assert (upgraded.prefix / "opt/invest" / upgraded.current / "bin/invest").is_file()
    config = (upgraded.prefix / "etc/invest/config.toml").read_text()
    assert "# edited by hand: an upgrade must keep this line" in config
    assert "keeping" in upgraded.output
    secrets = (upgraded.prefix / "etc/invest/secrets.env").read_text()
    for key, value in upgraded.secrets.items():
        assert f"{key}={value}" in secrets


def _rollback_with_the_cli_or_the_installer(upgraded: Installation) -> str:
    if upgraded.has_command("update"):
        result = upgraded.cli("update", "--rollback")
        how = "invest update --rollback"
    else:
        result = run_installer(upgraded.prefix, "--rollback")
        how = "install.sh --rollback"
    assert result.returncode == 0, explain(result)
    return how


def test_rollback_restores_the_previous_venv_and_back_again(upgraded: Installation) -> None:
    root = upgraded.prefix / "opt/invest"
    _rollback_with_the_cli_or_the_installer(upgraded)
    assert (root / "current").readlink() == Path(upgraded.previous)
    assert (root / "previous").readlink() == Path(upgraded.current)
    assert upgraded.cli("--version").returncode == 0

    result = run_installer(upgraded.prefix, "--rollback")
    assert result.returncode == 0, explain(result)
    assert (root / "current").readlink() == Path(upgraded.current)
    assert (root / "previous").readlink() == Path(upgraded.previous)


def test_uninstall_keeps_data_and_purge_removes_it(
    installation: Installation, tmp_path: Path
) -> None:
    # A copy of the layout without the (large) venvs is enough: uninstall only deletes.
    prefix = tmp_path / "copy"
    shutil.copytree(
        installation.prefix, prefix, symlinks=True, ignore=shutil.ignore_patterns("venvs")
    )
    (prefix / "var/lib/invest/ledger.sqlite").write_bytes(b"")
    env = clean_env()
    argv = ["bash", str(REPO / "install.sh"), "--no-system", "--prefix", str(prefix)]

    result = run([*argv, "--uninstall"], env=env)
    assert result.returncode == 0, explain(result)
    assert not (prefix / "opt/invest").exists()
    assert not (prefix / "usr/local/bin/invest").exists()
    assert not (prefix / "etc/supervisor/conf.d/invest.conf").exists()
    assert (prefix / "etc/invest/config.toml").is_file()
    assert (prefix / "etc/invest/secrets.env").is_file()
    assert (prefix / "var/lib/invest/ledger.sqlite").is_file()

    result = run([*argv, "--uninstall", "--purge"], env=env)
    assert result.returncode == 0, explain(result)
    for gone in ("etc/invest", "var/lib/invest", "var/log/invest"):
        assert not (prefix / gone).exists(), gone
