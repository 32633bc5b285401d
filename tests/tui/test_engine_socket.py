"""The TUI against the real control service and socket, with a recording engine behind them.

The pilot tests use a fake endpoint; this one proves that what the TUI sends is
what the engine's control service accepts (roles, the flatten token), over the
Unix socket the engine really listens on.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("invest.runtime.control.socket")

from invest.runtime.control.access import user_name
from invest.runtime.control.api import Reply, Request
from invest.runtime.control.service import ControlService
from invest.runtime.control.socket import SOCKET_NAME, ControlServer
from invest.runtime.paths import Paths, example_config
from invest.tui.app import InvestApp
from invest.tui.screens.confirm import TypedConfirmScreen

from .conftest import FIXTURE, NOW, settle


class RecordingEngine:
    """An EngineHandle that records what reaches the engine's thread."""

    def __init__(self) -> None:
        self.submitted: list[Request] = []

    def submit(self, request: Request) -> Future[Reply]:
        """Record and answer at once."""
        self.submitted.append(request)
        done: Future[Reply] = Future()
        done.set_result(Reply(True, {"message": f"{request.op} done"}))
        return done

    def live(self) -> dict[str, Any]:
        """Nothing scheduled."""
        return {}


@pytest.fixture
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Paths, RecordingEngine]]:
    """The demo ledger served by a ControlService on INVEST_HOME/engine.sock."""
    home = tmp_path_factory.mktemp("sock")
    shutil.copyfile(FIXTURE, home / "ledger.sqlite")
    engine = RecordingEngine()
    server = ControlServer(home / SOCKET_NAME, ControlService(home / "ledger.sqlite", engine))
    server.start()
    yield Paths(example_config(), "test", home, "test"), engine
    server.stop()


@pytest.mark.anyio
async def test_the_tui_finds_the_engine_socket_and_its_flatten_reaches_the_engine(
    served: tuple[Paths, RecordingEngine],
) -> None:
    paths, engine = served
    app = InvestApp(paths, now=lambda: NOW, live=False)  # the default socket client
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert app.engine.running, app.engine.label
        await pilot.press("f")  # defensive-weekly, the first row
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmScreen)
        await pilot.press(*"defensive-weekly", "enter")
        await settle(pilot)
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
    # The socket names the peer by its kernel-reported uid, whatever the client claims.
    me = f"tui (uid {os.geteuid()} {user_name(os.geteuid())})"
    assert [(r.op, r.args, r.actor, r.role) for r in engine.submitted] == [
        ("flatten", {"account": "defensive-weekly", "confirmed": True}, me, "trader"),
        ("pause", {"account": "defensive-weekly"}, me, "trader"),
    ]


@pytest.mark.anyio
async def test_without_the_socket_the_tui_is_read_only(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURE, tmp_path / "ledger.sqlite")
    app = InvestApp(Paths(example_config(), "test", tmp_path, "test"), now=lambda: NOW, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert not app.engine.running
        assert app.engine.label.startswith("engine not running")
