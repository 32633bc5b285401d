"""Who may steer the engine over the control socket: the peer's uid, never its claim.

The socket server reads the connecting process's uid from the kernel (``SO_PEERCRED``)
and maps it to a role with the ``[control]`` settings
(:class:`~invest.runtime.config.control.ControlAccess`). root and the service user (the uid the engine runs as)
are traders; any other uid is denied unless ``[control] users`` names it (by user
name or uid) with a role. A client's own ``"role"`` field is ignored: before this,
any member of the socket's group could halt or flatten by claiming ``trader``.
"""

from __future__ import annotations

import pwd
import socket
import struct
from dataclasses import dataclass

__all__ = ["Peer", "peer_of", "user_name"]

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def user_name(uid: int) -> str:
    """The login name of ``uid``, or ``?`` when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "?"


@dataclass(frozen=True, slots=True)
class Peer:
    """The process at the other end of a Unix socket, as the kernel reports it."""

    pid: int
    uid: int
    gid: int

    def label(self) -> str:
        """``uid 1000 alice``: how the audit log names this peer."""
        return f"uid {self.uid} {user_name(self.uid)}"


def peer_of(conn: socket.socket) -> Peer:
    """The credentials of the process connected on ``conn`` (Linux ``SO_PEERCRED``)."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return Peer(pid, uid, gid)
