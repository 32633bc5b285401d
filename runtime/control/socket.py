"""The control channel's transport: JSON lines over a Unix socket at ``INVEST_HOME/engine.sock``.

:class:`ControlServer` runs in the engine (a thread per connection; each line is
one request, answered by one line). :class:`ControlClient` is what the TUI and
the CLI use; it raises :class:`~invest.runtime.control.api.EngineNotRunning`
when nothing listens or nothing answers in time. The socket file is mode 0660,
so only its owner and group can connect at all; among those, the role of each
connection comes from the peer's uid (``SO_PEERCRED``, see
:mod:`~invest.runtime.control.access`), never from the request, and the actor
in the audit log carries that uid.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from invest.runtime.control.api import (
    Control,
    EngineNotRunning,
    Reply,
    Request,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
)
from invest.runtime.errors import InvestError

if TYPE_CHECKING:
    # pydantic, needed by the server only: a client (`invest halt`) starts without it.
    from invest.runtime.config.control import ControlAccess

__all__ = ["SOCKET_NAME", "ControlClient", "ControlServer"]

logger = logging.getLogger(__name__)

SOCKET_NAME = "engine.sock"
_MAX_LINE = 1 << 20
_MAX_PATH = 100  # sun_path is 108 bytes on Linux, minus the NUL and some margin


def _check_path(path: Path) -> None:
    if len(os.fsencode(path)) > _MAX_PATH:
        raise InvestError(
            f"control socket path {path} is too long for a Unix socket: use a shorter INVEST_HOME"
        )


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        from invest.runtime.control.access import peer_of

        peer = peer_of(self.request)
        role = self.server.access.role_of(peer.uid, self.server.service_uid)
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            if not line:
                return
            if len(line) > _MAX_LINE:
                self.wfile.write(encode_reply(Reply(False, error="request too long")))
                return
            if not line.strip():
                continue
            try:
                request = decode_request(line)
            except ValueError as e:
                reply = Reply(False, error=f"bad request: {e}")
            else:
                reply = self._answer(request, peer.label(), role)
            try:
                self.wfile.write(encode_reply(reply))
                self.wfile.flush()
            except OSError:
                return

    def _answer(self, request: Request, who: str, role: str | None) -> Reply:
        if role is None:
            logger.warning("control: %s refused (%s is not allowed)", request.op, who)
            return Reply(
                False,
                error=f"denied: {who} may not use the control socket "
                "(list it under [control] users in the config)",
            )
        return self.server.control.handle(
            replace(request, actor=f"{request.actor} ({who})", role=role)
        )


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(
        self, path: str, control: Control, access: ControlAccess, service_uid: int
    ) -> None:
        self.control = control
        self.access = access
        self.service_uid = service_uid
        super().__init__(path, _Handler)


class ControlServer:
    """Serves ``control`` on a Unix socket from a background thread.

    Args:
        path: the socket file.
        control: what answers the requests (a ControlService).
        mode: permissions of the socket file.
        access: the ``[control]`` section: which other uids may connect, with which role.
        service_uid: the uid treated like root (default: the uid running the engine).
    """

    def __init__(
        self,
        path: Path,
        control: Control,
        *,
        mode: int = 0o660,
        access: ControlAccess | None = None,
        service_uid: int | None = None,
    ) -> None:
        from invest.runtime.config.control import ControlAccess

        self.path = Path(path)
        self.control = control
        self.mode = mode
        self.access = access or ControlAccess()
        self.service_uid = os.geteuid() if service_uid is None else service_uid
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind (replacing a stale socket file) and serve.

        Raises:
            InvestError: another engine answers on the socket, or the path is unusable.
        """
        _check_path(self.path)
        if self.path.exists() or self.path.is_symlink():
            if _answers(self.path):
                raise InvestError(f"another engine listens on {self.path}")
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._server = _Server(str(self.path), self.control, self.access, self.service_uid)
        except OSError as e:
            raise InvestError(f"cannot listen on {self.path}: {e}") from e
        self.path.chmod(self.mode)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="control", daemon=True
        )
        self._thread.start()
        logger.info("control socket listening on %s", self.path)

    def stop(self) -> None:
        """Stop serving and remove the socket file."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


class ControlClient:
    """Sends requests to the engine's control socket.

    Args:
        path: the socket file (``INVEST_HOME/engine.sock``).
        timeout: seconds to wait for a connection and for each answer.
    """

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def request(self, request: Request, timeout: float | None = None) -> Reply:
        """Send one request and return the reply.

        Args:
            request: what to ask.
            timeout: seconds to wait for the answer (``run`` takes longer than a read).

        Raises:
            EngineNotRunning: nothing listens on the socket, or it did not answer in time.
        """
        wait = self.timeout if timeout is None else timeout
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(self.timeout)
            try:
                s.connect(str(self.path))
            except (FileNotFoundError, ConnectionRefusedError) as e:
                raise EngineNotRunning(
                    f"no engine is listening on {self.path} (start it with `invest start` or `invest engine`)"
                ) from e
            except OSError as e:
                raise EngineNotRunning(f"cannot reach the engine on {self.path}: {e}") from e
            s.settimeout(wait)
            try:
                s.sendall(encode_request(request))
                with s.makefile("rb") as fh:
                    line = fh.readline(_MAX_LINE + 1)
            except TimeoutError as e:
                raise EngineNotRunning(
                    f"the engine did not answer {request.op} within {wait:g} s"
                ) from e
            except OSError as e:
                raise EngineNotRunning(f"the engine closed the connection: {e}") from e
        if not line:
            raise EngineNotRunning("the engine closed the connection without an answer")
        try:
            return decode_reply(line)
        except ValueError as e:
            raise EngineNotRunning(f"the engine answered garbage: {e}") from e
