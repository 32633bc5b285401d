"""Fixtures of the packaging tests: one real install into a temporary prefix, shared.

The install pip-installs the checkout with its dependencies into a fresh venv (about a
minute with a warm pip cache), so it happens once per session and every install test
uses it. Deselect those tests with ``-m "not installs"``.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.packaging.support import REPO, clean_env, explain, run

INSTALL_TIMEOUT_S = 900


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "installs: runs install.sh for real into a temporary prefix (pip-installs the "
        "project with its dependencies, about a minute with a warm pip cache); in the "
        "default run, deselect with -m 'not installs'",
    )


def _source() -> Path:
    return Path(os.environ.get("INVEST_TEST_SOURCE", REPO)).resolve()


def _pip_args() -> str:
    # The pip cache is kept (the product's default is --no-cache-dir) so reruns are fast.
    return os.environ.get("INVEST_TEST_PIP_ARGS", "--quiet --progress-bar off")


def run_installer(prefix: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run install.sh from the checkout into ``prefix`` without touching the system."""
    argv = [
        "bash",
        str(REPO / "install.sh"),
        "--non-interactive",
        "--no-system",
        "--prefix",
        str(prefix),
        "--source",
        str(_source()),
        *args,
    ]
    return run(argv, env=clean_env(INVEST_PIP_ARGS=_pip_args(), **env), timeout=INSTALL_TIMEOUT_S)


def _venvs(prefix: Path) -> tuple[str, ...]:
    return tuple(sorted(p.name for p in (prefix / "opt/invest/venvs").iterdir()))


def _link(prefix: Path, name: str) -> str:
    link = prefix / "opt/invest" / name
    return str(link.readlink()) if link.is_symlink() else ""


@dataclass(frozen=True)
class Installation:
    """A finished install under ``prefix`` and what it looked like right after."""

    prefix: Path
    output: str = field(repr=False)
    venvs: tuple[str, ...]
    current: str
    previous: str
    secrets: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def invest(self) -> Path:
        """The `invest` wrapper that the installer put on the prefix's PATH."""
        return self.prefix / "usr/local/bin/invest"

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run the installed `invest` as a person would (the wrapper sets the paths)."""
        return run([self.invest, *args], env=clean_env(), timeout=timeout)

    def has_command(self, *words: str) -> bool:
        """Whether the installed CLI knows a subcommand (its --help succeeds)."""
        return self.cli(*words, "--help", timeout=60).returncode == 0


def _snapshot(
    prefix: Path, result: subprocess.CompletedProcess[str], **kw: dict[str, str]
) -> Installation:
    return Installation(
        prefix=prefix,
        output=result.stdout + result.stderr,
        venvs=_venvs(prefix),
        current=_link(prefix, "current"),
        previous=_link(prefix, "previous"),
        **kw,
    )


@pytest.fixture(scope="session")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Installation:
    """install.sh --non-interactive --no-system --prefix TMP --source CHECKOUT, once."""
    source = _source()
    if not (source / "runtime/cli.py").is_file():
        pytest.skip("runtime/cli.py does not exist yet: the installer's smoke test needs `invest`")
    prefix = tmp_path_factory.mktemp("appliance") / "prefix"
    token = uuid.uuid4().hex
    secrets = {
        "ALPACA_API_KEY": f"PKTEST{token[:12].upper()}",
        "ALPACA_SECRET_KEY": f"secret-{token}",
        "TELEGRAM_BOT_TOKEN": f"123456:tok-{token[::-1]}",
    }
    result = run_installer(prefix, **secrets)
    assert result.returncode == 0, explain(result)
    return _snapshot(prefix, result, secrets=secrets)


@pytest.fixture(scope="session")
def upgraded(installation: Installation) -> Installation:
    """The same prefix after a second run, with the config edited in between."""
    config = installation.prefix / "etc/invest/config.toml"
    with config.open("a", encoding="utf-8") as handle:
        handle.write("\n# edited by hand: an upgrade must keep this line\n")
    result = run_installer(installation.prefix)
    assert result.returncode == 0, explain(result)
    return _snapshot(installation.prefix, result, secrets=installation.secrets)
