"""Fixtures of the TUI tests: the fixed demo ledger, a fixed clock, a fake engine."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.control.api import EngineNotRunning, Reply, Request
from invest.runtime.paths import Paths, example_config
from invest.tui.app import InvestApp

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ledger" / "demo.sqlite"
#: Thursday after the fixture's last session (2022-12-28), 12:00 New York.
NOW = datetime(2022, 12, 29, 17, 0, tzinfo=UTC)
#: Snapshots show the ledger path, so they use the same folder on every machine.
SNAPSHOT_HOME = Path("/tmp/invest-tui-snapshots/home")
#: The options screen's snapshots: a ledger with option positions, also in a fixed folder.
OPTIONS_SNAPSHOT_HOME = Path("/tmp/invest-tui-snapshots/options")


class FakeEngine:
    """An engine endpoint that records every request and answers like the real one.

    Args:
        running: False makes every request raise ``EngineNotRunning``.
    """

    def __init__(self, running: bool = True) -> None:
        self.running = running
        self.requests: list[Request] = []

    def request(self, request: Request, timeout: float | None = None) -> Reply:
        """Record and answer one request (``timeout`` is accepted as the socket client's)."""
        if not self.running:
            raise EngineNotRunning("no engine listens on the control socket")
        self.requests.append(request)
        if request.op == "ping":
            return Reply(True, {"pong": True, "engine": True, "pid": 4242, "version": "0.1.0"})
        if request.op == "status":  # the shape of invest.runtime.control.status.collect_status
            return Reply(
                True,
                {
                    "engine": {
                        "halt": "ACTIVE",
                        "reason": "",
                        "heartbeat": {"age_s": 4.0, "stopped_at": None},
                    },
                    "accounts": [
                        {"account": "trend-daily", "paused": True, "effective": "ACTIVE"},
                        {"account": "hybrid-daily", "paused": False, "effective": "ACTIVE"},
                    ],
                },
            )
        if request.op == "flatten" and "confirm" not in request.args:
            return Reply(True, {"confirm": "tok-42", "message": "send flatten again"})
        return Reply(True, {"message": f"{request.op} accepted"})

    @property
    def writes(self) -> list[Request]:
        """The steering requests (everything but ping and status)."""
        return [r for r in self.requests if r.op not in ("ping", "status")]


def _home(root: Path) -> Paths:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURE, root / "ledger.sqlite")
    return Paths(example_config(), "test", root, "test")


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    """A data folder holding a copy of the fixed demo ledger."""
    return _home(tmp_path / "home")


@pytest.fixture
def snapshot_paths() -> Paths:
    """The demo ledger in a fixed folder (its path is on screen)."""
    return _home(SNAPSHOT_HOME)


@pytest.fixture
def options_snapshot_paths() -> Paths:
    """A ledger with option positions (a short options backtest) in a fixed folder."""
    from tests.runtime.options_ledger_support import VIEWS_END, build_options_ledger

    shutil.rmtree(OPTIONS_SNAPSHOT_HOME, ignore_errors=True)
    OPTIONS_SNAPSHOT_HOME.mkdir(parents=True)
    build_options_ledger(OPTIONS_SNAPSHOT_HOME / "ledger.sqlite", VIEWS_END)
    return Paths(example_config(), "test", OPTIONS_SNAPSHOT_HOME, "test")


@pytest.fixture
def engine() -> FakeEngine:
    """A running fake engine."""
    return FakeEngine()


@pytest.fixture
def make_app(paths: Paths) -> Callable[..., InvestApp]:
    """Build the app on the demo ledger with a fixed clock, no timers, a fake engine."""

    def make(control: Any = None, **kw: Any) -> InvestApp:
        kw.setdefault("now", lambda: NOW)
        kw.setdefault("live", False)
        kw.setdefault("paths", paths)
        return InvestApp(control=control or FakeEngine(running=False), **kw)

    return make


@pytest.fixture
def anyio_backend() -> str:
    """Textual runs on asyncio."""
    return "asyncio"


async def settle(pilot: Any) -> None:
    """Let every worker finish and every message land."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
