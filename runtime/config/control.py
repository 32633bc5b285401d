"""The ``[control]`` section: who, besides root and the service user, may use the control socket.

The socket server (:mod:`invest.runtime.control.socket`) reads the connecting
process's uid from the kernel and asks :meth:`ControlAccess.role_of` for its role.
"""

from __future__ import annotations

import os
import pwd
from typing import Literal

from pydantic import Field, field_validator

from invest.runtime.config.base import Frozen

__all__ = ["ControlAccess"]


class ControlAccess(Frozen):
    """The ``[control]`` section: local users allowed on the control socket besides root and the service user."""

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
        """The role of ``uid`` (``viewer`` or ``trader``); None when it is denied."""
        if uid == 0 or uid == (os.geteuid() if service_uid is None else service_uid):
            return "trader"
        for key, role in self.users.items():
            if (int(key) if key.isdigit() else _uid_of(key)) == uid:
                return role
        return None


def _uid_of(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None
