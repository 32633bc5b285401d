"""A real supervisord runs the generated program and brings it back after a SIGKILL."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.conftest import Installation
from tests.packaging.support import bash_lib, explain, require_tool, run

pytestmark = pytest.mark.installs

STATE_WAIT_S = 60.0
APT_HINT = "apt-get install -y supervisor"


class Supervisor:
    """supervisord started from a config file, driven through supervisorctl."""

    def __init__(self, conf: Path) -> None:
        self.conf = conf
        self.ctl = require_tool("supervisorctl", APT_HINT)

    def ctl_run(self, *args: str) -> str:
        result = run([self.ctl, "-c", self.conf, *args], timeout=30)
        return result.stdout + result.stderr

    def status(self) -> tuple[str, int | None]:
        """The program's state and pid (None when it has none)."""
        out = self.ctl_run("status", "invest-engine")
        match = re.search(r"invest-engine\s+(\w+)(?:\s+pid (\d+))?", out)
        if not match:
            return out.strip() or "UNKNOWN", None
        return match.group(1), int(match.group(2)) if match.group(2) else None

    def wait_running(self, other_than: int | None = None) -> int:
        """Wait (bounded) until the program is RUNNING with a pid other than ``other_than``."""
        deadline = time.monotonic() + STATE_WAIT_S
        state, pid = self.status()
        while time.monotonic() < deadline:
            state, pid = self.status()
            if state == "RUNNING" and pid is not None and pid != other_than:
                return pid
            time.sleep(0.5)
        raise AssertionError(f"invest-engine not RUNNING after {STATE_WAIT_S}s: {state} {pid}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.2)
    return not _pid_alive(pid)


@contextlib.contextmanager
def _supervisord(conf: Path, pidfile: Path) -> Iterator[Supervisor]:
    daemon = require_tool("supervisord", APT_HINT)
    result = run([daemon, "-c", conf], timeout=30)
    assert result.returncode == 0, explain(result)
    supervisor = Supervisor(conf)
    try:
        yield supervisor
    finally:
        _, child = supervisor.status()
        supervisor.ctl_run("shutdown")
        main = int(pidfile.read_text()) if pidfile.is_file() else None
        for pid in (main, child):
            if pid is not None and not _wait_gone(pid, 20):
                os.kill(pid, signal.SIGKILL)


def _program(installation: Installation) -> tuple[str, str]:
    """The installed program file, with a stand-in command when `invest engine` is missing."""
    text = (installation.prefix / "etc/supervisor/conf.d/invest.conf").read_text()
    if installation.has_command("engine"):
        return text, "invest engine"
    stand_in = f"{shlex.quote(sys.executable)} -c 'import time; time.sleep(3600)'"
    return re.sub(r"^command=.*$", f"command={stand_in}", text, flags=re.M), "a stand-in"


def test_supervisor_restarts_the_engine_after_a_sigkill(installation: Installation) -> None:
    # A short folder: the control socket's path must stay under 108 bytes.
    with tempfile.TemporaryDirectory(prefix="sv-", dir="/tmp") as tmp:
        root = Path(tmp)
        rendered = bash_lib(
            f"INV_PREFIX={shlex.quote(tmp)}; INV_USER=$(id -un); "
            "inv_render appliance/supervisor/supervisord.conf"
        )
        assert rendered.returncode == 0, explain(rendered)
        for folder in ("run", "var/log/invest", "etc/supervisor/conf.d"):
            (root / folder).mkdir(parents=True)
        conf = root / "etc/supervisor/supervisord.conf"
        conf.write_text(rendered.stdout)
        program, what = _program(installation)
        (root / "etc/supervisor/conf.d/invest.conf").write_text(program)

        with _supervisord(conf, root / "run/supervisord.pid") as supervisor:
            first = supervisor.wait_running()
            os.kill(first, signal.SIGKILL)
            second = supervisor.wait_running(other_than=first)
            assert second != first, what

        log = (root / "var/log/invest/supervisord.log").read_text()
        restarts = [line for line in log.splitlines() if "invest-engine" in line]
        assert any("SIGKILL" in line for line in restarts), log[-2000:]
