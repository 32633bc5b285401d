"""systemd notify: READY=1 and WATCHDOG=1 reach NOTIFY_SOCKET; nothing is sent without it."""

from __future__ import annotations

import socket
from pathlib import Path

from invest.runtime.engine.sdnotify import SystemdNotifier


def test_ready_watchdog_and_stopping_reach_the_notify_socket(home: Path) -> None:
    path = home / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(2)
        sd = SystemdNotifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "20000000"})
        assert sd.enabled
        assert sd.watchdog_s == 10.0
        assert sd.ready()
        assert sd.watchdog()
        assert not sd.watchdog()  # at most every half interval
        assert sd.stopping()
        got = [server.recv(64) for _ in range(3)]
    assert got == [b"READY=1", b"WATCHDOG=1", b"STOPPING=1"]


def test_without_notify_socket_nothing_is_sent() -> None:
    sd = SystemdNotifier({})
    assert not sd.enabled
    assert not sd.ready()
    assert not sd.watchdog()
