"""Who may steer the engine over the control socket: the peer's uid, never its claim.

The socket server reads the connecting process's uid from the kernel (``SO_PEERCRED``)
and maps it to a role here. root and the service user (the uid the engine runs as)
are traders; any other uid is denied unless ``[control] users`` names it (by user
name or uid) with a role. A client's own ``"role"`` field is ignored: before this,
any member of the socket's group could halt or flatten by claiming ``trader``.
"""

from __future__ import annotations

import os
import pwd
import socket
import struct
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from invest.runtime.control.api import TRADER

__all__ = ["ControlAccess", "Peer", "peer_of", "user_name"]

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class ControlAccess(BaseModel):
    """The ``[control]`` section: local users allowed on the control socket besides root and the service user."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    users: dict[str, Literal["viewer", "trader"]] = Field(default_factory=dict)
    """User name or uid -> role, e.g. {alice = "viewer", "1001" = "trader"}. The user must also be in the socket's group to connect (the socket is mode 0660)."""

    @field_validator("users")
    @classmethod
    def _known_users(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not key.isdigit() and not _uid_of(key):
                raise ValueError(f"no local user named {key!r} (use a user name or a numeric uid)")
        return v

    def role_of(self, uid: int, service_uid: int | None = None) -> str | None:
        """The role of ``uid``; None when it is denied."""
        if uid == 0 or uid == (os.geteuid() if service_uid is None else service_uid):
            return TRADER
        for key, role in self.users.items():
            if (int(key) if key.isdigit() else _uid_of(key)) == uid:
                return role
        return None


def _uid_of(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


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
