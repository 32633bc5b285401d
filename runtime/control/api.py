"""The control API shared by the engine (server), Telegram (in-process) and the TUI (client).

Every state-changing request goes through :class:`Control`; readers never write the
ledger (invariant 4: the engine is the single writer). The transport is a Unix socket
carrying one JSON object per line: ``{"op": "...", "args": {...}, "actor": "...",
"role": "..."}`` -> ``{"ok": true, "data": {...}}`` or ``{"ok": false, "error": "..."}``.

Roles: ``viewer`` may call the read ops; ``trader`` may also call the write ops.
A role is never taken from the wire: :func:`decode_request` drops it, and the
socket server sets it from the peer's uid (see ``access``); chat front ends set
it from their own allowlist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from invest.runtime.errors import InvestError

READ_OPS = frozenset(
    {
        "status",
        "positions",
        "pnl",
        "trades",
        "options",
        "risk",
        "regime",
        "why",
        "report",
        "ping",
        "preview",
    }
)
WRITE_OPS = frozenset({"pause", "resume", "halt", "resume_all", "flatten", "run"})
VIEWER = "viewer"
TRADER = "trader"
ROLES = frozenset({VIEWER, TRADER})


class EngineNotRunning(InvestError):
    """No engine answers on the control socket (not started, stopped, or hung).

    Commands that need the engine say so and exit; nothing was changed.
    """


@dataclass(frozen=True, slots=True)
class Request:
    """One control request.

    Attributes:
        op: one of READ_OPS or WRITE_OPS.
        args: op arguments, e.g. {"account": "trend-daily"}; ``flatten`` needs
            {"account": ..., "confirm": <the token returned by a first flatten call>}.
        actor: who asked (``tui``, ``telegram:<user id>``, ``cli``), for the audit log.
        role: ``viewer`` (read ops only, the default) or ``trader`` (every op).
    """

    op: str
    args: dict[str, Any] = field(default_factory=dict)
    actor: str = "cli"
    role: str = VIEWER


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a request."""

    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class Control(Protocol):
    """What the engine offers to its steering clients."""

    def handle(self, request: Request) -> Reply:
        """Execute one request and answer; never raises for a bad request."""
        ...


def allowed(role: str, op: str) -> bool:
    """True when ``role`` may call ``op``."""
    if role == TRADER:
        return op in READ_OPS or op in WRITE_OPS
    return role == VIEWER and op in READ_OPS


def encode_request(request: Request) -> bytes:
    """One JSON line."""
    body = {"op": request.op, "args": request.args, "actor": request.actor, "role": request.role}
    return (json.dumps(body, default=str) + "\n").encode()


def decode_request(line: bytes | str) -> Request:
    """Parse one JSON line; a ``"role"`` in it is ignored (the receiver decides the role).

    Raises:
        ValueError: not a JSON object with a string ``op`` and an object ``args``.
    """
    body = json.loads(line)
    if not isinstance(body, dict) or not isinstance(body.get("op"), str):
        raise ValueError('a request is a JSON object with a string "op"')
    args = body.get("args") or {}
    if not isinstance(args, dict):
        raise ValueError('"args" must be a JSON object')
    return Request(body["op"], args, str(body.get("actor") or "socket"))


def encode_reply(reply: Reply) -> bytes:
    """One JSON line."""
    body = {"ok": reply.ok, "data": reply.data, "error": reply.error}
    return (json.dumps(body, default=str) + "\n").encode()


def decode_reply(line: bytes | str) -> Reply:
    """Parse one JSON line.

    Raises:
        ValueError: not a reply object.
    """
    body = json.loads(line)
    if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
        raise ValueError('a reply is a JSON object with a boolean "ok"')
    return Reply(body["ok"], dict(body.get("data") or {}), str(body.get("error") or ""))
