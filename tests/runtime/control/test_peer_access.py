"""The control socket's role comes from the peer's uid (SO_PEERCRED), tried with a real second uid.

Issue 11, finding 6: any member of the socket's group could halt or flatten by
claiming ``"role": "trader"``. Here a process running as ``nobody`` (uid 65534),
put in the socket's group so that it can connect, claims trader every time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.clock import FixedClock
from invest.runtime.config.control import ControlAccess
from invest.runtime.control.api import Request
from invest.runtime.control.service import ControlService
from invest.runtime.control.socket import SOCKET_NAME, ControlClient, ControlServer
from invest.runtime.domain import HaltState
from invest.runtime.engine.engine import Engine
from invest.runtime.ledger import engine_state as repo
from tests.runtime.engine.support import make_engine, ny, settings

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching to a second uid needs root")

# Runs as the second uid with the system Python, isolated (-I -S): it reads no file of ours.
_CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rwb")
out = []
for line in sys.argv[2:]:
    f.write(line.encode() + b"\\n"); f.flush()
    out.append(json.loads(f.readline()))
print(json.dumps(out))
"""


def _as_nobody(sock: Path, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    gid = sock.stat().st_gid
    lines = [json.dumps({"actor": "tui", "role": "trader", **r}) for r in requests]
    done = subprocess.run(
        ["/usr/bin/python3", "-I", "-S", "-c", _CLIENT, str(sock), *lines],
        user=NOBODY,
        group=gid,
        extra_groups=[gid],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    replies: list[dict[str, Any]] = json.loads(done.stdout)
    return replies


def _serve(home: Path, access: ControlAccess) -> Iterator[tuple[Engine, Path]]:
    clock = FixedClock(ny("2022-06-04", "12:00"))  # a Saturday: nothing is due
    engine, _ = make_engine(home, clock)
    service = ControlService(home / "ledger.sqlite", engine, settings=settings(), clock=clock)
    folder = Path(tempfile.mkdtemp(prefix="ctl"))
    folder.chmod(0o755)  # the second uid must reach the socket; the socket itself stays 0660
    server = ControlServer(folder / SOCKET_NAME, service, access=access)
    server.start()
    loop = threading.Thread(target=engine.run, name="engine")
    loop.start()
    try:
        yield engine, folder / SOCKET_NAME
    finally:
        engine.request_stop()
        loop.join(5)
        server.stop()
        engine.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def unlisted(home: Path) -> Iterator[tuple[Engine, Path]]:
    yield from _serve(home, ControlAccess())


@pytest.fixture
def viewer(home: Path) -> Iterator[tuple[Engine, Path]]:
    yield from _serve(home, ControlAccess(users={"nobody": "viewer"}))


def test_an_unlisted_uid_in_the_group_cannot_halt_by_claiming_trader(
    unlisted: tuple[Engine, Path],
) -> None:
    engine, sock = unlisted
    halt, status = _as_nobody(sock, {"op": "halt", "args": {}}, {"op": "status", "args": {}})
    assert not halt["ok"]
    assert halt["error"].startswith("denied: uid 65534 nobody may not use the control socket")
    assert not status["ok"]
    assert repo.engine_halt(engine.ledger.conn)[0] is HaltState.ACTIVE


def test_root_may_halt_and_the_audit_log_names_its_uid(unlisted: tuple[Engine, Path]) -> None:
    engine, sock = unlisted
    reply = ControlClient(sock).request(Request("halt", {}, actor="tui"))
    assert reply.ok, reply.error
    assert repo.engine_halt(engine.ledger.conn) == (
        HaltState.HALTED,
        "halted by tui (uid 0 root)",
    )


def test_a_listed_viewer_reads_status_but_cannot_halt_or_flatten(
    viewer: tuple[Engine, Path],
) -> None:
    engine, sock = viewer
    status, halt, flatten = _as_nobody(
        sock,
        {"op": "status", "args": {}},
        {"op": "halt", "args": {}},
        {"op": "flatten", "args": {"account": "daily"}},
    )
    assert status["ok"], status["error"]
    assert {a["account"] for a in status["data"]["accounts"]} == {"daily", "weekly"}
    for denied in (halt, flatten):
        assert not denied["ok"]
        assert denied["error"].startswith("denied: ")
        assert "is viewer" in denied["error"]
    assert repo.engine_halt(engine.ledger.conn)[0] is HaltState.ACTIVE
    assert repo.account_halt(engine.ledger.conn, "daily") is HaltState.ACTIVE


def test_an_unknown_user_name_in_the_config_is_a_one_line_error() -> None:
    with pytest.raises(ValueError, match="no local user named 'nosuchuser'"):
        ControlAccess(users={"nosuchuser": "viewer"})
