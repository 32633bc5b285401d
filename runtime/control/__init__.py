"""The one control channel: the TUI and Telegram steer the engine only through it.

:mod:`~invest.runtime.control.api` holds the request/reply types (light to import);
:mod:`~invest.runtime.control.service` the ``ControlService`` that answers them;
:mod:`~invest.runtime.control.socket` the Unix-socket server and ``ControlClient``.
"""

from invest.runtime.control.api import (
    READ_OPS,
    ROLES,
    TRADER,
    VIEWER,
    WRITE_OPS,
    Control,
    EngineNotRunning,
    Reply,
    Request,
)

__all__ = [
    "READ_OPS",
    "ROLES",
    "TRADER",
    "VIEWER",
    "WRITE_OPS",
    "Control",
    "EngineNotRunning",
    "Reply",
    "Request",
]
