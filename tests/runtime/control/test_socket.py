"""The control socket: JSON lines round trip, EngineNotRunning, and write ops queued to the engine's thread."""

from __future__ import annotations

import argparse
import json
import os
import pwd
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from invest.runtime.clock import FixedClock
from invest.runtime.control.api import (
    TRADER,
    EngineNotRunning,
    Request,
    decode_request,
    encode_request,
)
from invest.runtime.control.service import ControlService
from invest.runtime.control.socket import SOCKET_NAME, ControlClient, ControlServer
from invest.runtime.domain import HaltState
from invest.runtime.engine.cli import add_engine_commands
from invest.runtime.engine.engine import Engine
from invest.runtime.errors import InvestError
from invest.runtime.ledger import engine_state as repo
from tests.runtime.engine.support import make_engine, ny, paths, settings


@pytest.fixture
def running(home: Path) -> Iterator[tuple[Engine, ControlClient]]:
    """An engine looping on its own thread, serving its socket."""
    clock = FixedClock(ny("2022-06-04", "12:00"))  # a Saturday: nothing is due
    engine, _ = make_engine(home, clock)
    service = ControlService(home / "ledger.sqlite", engine, settings=settings(), clock=clock)
    server = ControlServer(home / SOCKET_NAME, service)
    server.start()
    loop = threading.Thread(target=engine.run, name="engine")
    loop.start()
    yield engine, ControlClient(home / SOCKET_NAME, timeout=5)
    engine.request_stop()
    loop.join(5)
    server.stop()
    engine.shutdown()


def test_a_request_round_trips_over_the_socket(running: tuple[Engine, ControlClient]) -> None:
    _, client = running
    reply = client.request(Request("status", actor="tui"))
    assert reply.ok
    assert {a["account"] for a in reply.data["accounts"]} == {"daily", "weekly"}
    assert client.request(Request("ping")).data["pong"] is True


def test_a_write_over_the_socket_runs_on_the_engine_thread(
    running: tuple[Engine, ControlClient],
) -> None:
    engine, client = running
    reply = client.request(Request("halt", {"account": "daily"}, actor="tui", role=TRADER))
    assert reply.ok, reply.error
    assert repo.account_halt(engine.ledger.conn, "daily") is HaltState.HALTED
    # the role comes from the peer's uid (root here), not from the request
    claimed_viewer = client.request(Request("resume", {"account": "daily"}, actor="tui"))
    assert claimed_viewer.ok, claimed_viewer.error


def test_the_cli_halt_and_resume_commands_talk_to_the_engine(
    running: tuple[Engine, ControlClient], home: Path
) -> None:
    engine, _ = running
    parser = argparse.ArgumentParser()
    add_engine_commands(parser.add_subparsers())
    for argv in (["halt"], ["resume", "--all"]):
        args = parser.parse_args(argv)
        assert args.handler(args, paths(home)) == 0
    assert repo.engine_halt(engine.ledger.conn)[0] is HaltState.ACTIVE
    events = [
        r[0]
        for r in engine.ledger.conn.execute("SELECT detail_json FROM events WHERE kind = 'control'")
    ]
    assert len(events) == 2
    assert all('"actor": "cli (uid 0 root)"' in e for e in events)


def test_the_cli_control_commands_print_one_human_line_or_json(
    running: tuple[Engine, ControlClient], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name  # the user the engine's audit event names
    parser = argparse.ArgumentParser()
    add_engine_commands(parser.add_subparsers())

    def cli(*argv: str) -> str:
        args = parser.parse_args(list(argv))
        assert args.handler(args, paths(home)) == 0
        return capsys.readouterr().out

    assert cli("pause", "daily") == (
        f"paused daily: its scheduled cycles are skipped, its stops still run (by {me})\n"
    )
    assert cli("halt", "daily") == f"halted daily: 0 open order(s) cancelled (by {me})\n"
    assert cli("resume", "daily") == f"resumed daily: ACTIVE, not paused (by {me})\n"
    assert cli("halt") == f"halted the engine: 0 open order(s) cancelled (by {me})\n"
    assert cli("resume", "--all") == (
        f"resumed the engine and every account (daily, weekly): ACTIVE (by {me})\n"
    )
    assert json.loads(cli("pause", "weekly", "--json")) == {"account": "weekly", "paused": True}


def test_the_socket_is_private_to_its_owner_and_group(
    running: tuple[Engine, ControlClient], home: Path
) -> None:
    assert stat.S_IMODE((home / SOCKET_NAME).stat().st_mode) == 0o660


def test_a_bad_line_gets_an_error_reply_and_the_connection_stays_usable(
    running: tuple[Engine, ControlClient], home: Path
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(home / SOCKET_NAME))
        s.sendall(b"not json\n" + encode_request(Request("ping")))
        with s.makefile("rb") as fh:
            bad, good = fh.readline(), fh.readline()
    assert b'"ok": false' in bad
    assert b"bad request" in bad
    assert b'"pong": true' in good


def test_no_socket_means_the_engine_is_not_running(home: Path) -> None:
    with pytest.raises(EngineNotRunning, match="no engine is listening"):
        ControlClient(home / SOCKET_NAME, timeout=0.5).request(Request("status"))
    assert issubclass(EngineNotRunning, InvestError)


def test_a_stale_socket_file_means_not_running_and_a_new_server_replaces_it(home: Path) -> None:
    path = home / SOCKET_NAME
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: a killed engine
    with pytest.raises(EngineNotRunning):
        ControlClient(path, timeout=0.5).request(Request("status"))
    server = ControlServer(path, ControlService(home / "ledger.sqlite"))
    server.start()
    try:
        reply = ControlClient(path).request(Request("ping"))
        assert reply.ok
        with pytest.raises(InvestError, match="another engine listens"):
            ControlServer(path, ControlService(home / "ledger.sqlite")).start()
    finally:
        server.stop()
    assert not path.exists()


def test_requests_decode_with_a_viewer_role_by_default() -> None:
    req = decode_request(b'{"op": "status", "args": {}}')
    assert req.role == "viewer"
    assert req.actor == "socket"
    with pytest.raises(ValueError, match="string"):
        decode_request(b'{"args": {}}')


def test_the_status_command_asks_the_running_engine_first(
    running: tuple[Engine, ControlClient], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_engine_commands(parser.add_subparsers())
    args = parser.parse_args(["status", "--json"])
    assert args.handler(args, paths(home)) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["engine"]["running"] is True
    daily = next(a for a in data["accounts"] if a["account"] == "daily")
    assert daily["next_cycle"] == ny("2022-06-06", "16:30").isoformat()  # the engine's own clock
