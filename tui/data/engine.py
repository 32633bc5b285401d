"""The TUI's side of the control channel: engine status and steering requests.

The engine serves :class:`~invest.runtime.control.api.Request` over a Unix socket
(``invest.runtime.control.socket.ControlClient`` at ``INVEST_HOME/engine.sock``).
The TUI only needs something with ``request(Request) -> Reply``; tests inject a
fake. When nothing listens the client raises ``EngineNotRunning`` and the TUI goes
read-only. Like the CLI, the TUI is trusted by the socket's file mode (0660), so
it asks with the ``trader`` role for the steering ops and ``viewer`` for reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from invest.runtime.control.api import (
    TRADER,
    VIEWER,
    WRITE_OPS,
    EngineNotRunning,
    Reply,
    Request,
)
from invest.runtime.errors import InvestError
from invest.runtime.ledger.views import LedgerReader
from invest.runtime.paths import Paths

ACTOR = "tui"
#: Set by ``invest web`` for the TUI process it spawns per browser session, so
#: the audit log says ``web (session ab12cd34 from 127.0.0.1)`` instead of ``tui``.
ACTOR_ENV = "INVEST_ACTOR"
NOT_RUNNING = "engine not running"


class ControlPort(Protocol):
    """Anything that answers control requests (the socket client, or a fake)."""

    def request(self, request: Request, timeout: float | None = None) -> Reply:
        """Send one request and return the engine's reply (``timeout``: seconds to wait
        for the answer, None for the client's default).

        Raises:
            EngineNotRunning: no engine listens (an ``InvestError``).
        """
        ...


class EngineDownError(Exception):
    """No engine answered; the TUI shows it and stays read-only."""


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """What the header shows about the engine.

    Attributes:
        running: an engine answered on the control socket.
        detail: the line shown when it did not.
        heartbeat_age: seconds since its last heartbeat, when known.
        halt: the engine-wide halt state (ACTIVE, REDUCING, HALTED).
        reason: why it is halted.
        accounts: the engine's view of each account (``paused``, ``effective``,
            ``next_cycle``...), from its ``status`` reply.
    """

    running: bool
    detail: str = NOT_RUNNING
    heartbeat_age: float | None = None
    halt: str = "ACTIVE"
    reason: str = ""
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """One short line for the header."""
        text = self.detail
        if self.running:
            text = "engine running"
            if self.heartbeat_age is not None:
                text += f", heartbeat {age(self.heartbeat_age)} ago"
        if self.halt != "ACTIVE":
            text += f", {self.halt}" + (f" ({self.reason})" if self.reason else "")
        if data := self.data_label:
            text += f"; {data}"
        return text

    @property
    def data_label(self) -> str:
        """The oldest account data's last bar and age, from the status reply ("" if none).

        ``data 2022-12-28, 990 sessions old (stale), demo data``: the same age that
        ``invest status`` shows (:mod:`invest.runtime.freshness`).
        """
        rows = [a for a in self.accounts.values() if isinstance(a.get("data_age"), int)]
        if not rows:
            return ""
        oldest = max(rows, key=lambda a: int(a["data_age"]))
        n = int(oldest["data_age"])
        text = f"data {oldest.get('last_bar')}, {n} session{'' if n == 1 else 's'} old"
        if oldest.get("data_stale"):
            text += " (stale)"
        if any(a.get("demo_data") for a in rows):
            text += ", demo data"
        return text


UNKNOWN = EngineStatus(False, "engine: checking…")


def age(seconds: float) -> str:
    """``42s``, ``5m``, ``3h`` or ``2d``."""
    s = max(int(seconds), 0)
    for limit, unit, size in ((120, "s", 1), (7200, "m", 60), (172800, "h", 3600)):
        if s < limit:
            return f"{s // size}{unit}"
    return f"{s // 86400}d"


def actor(environ: Mapping[str, str] | None = None) -> str:
    """Who this TUI is in the audit log: ``$INVEST_ACTOR`` (printable, 80 characters at most), else ``tui``.

    The engine's socket appends the peer's uid, so the variable can only add a
    label, never hide which account on the box sent the request.
    """
    raw = (os.environ if environ is None else environ).get(ACTOR_ENV, "")
    label = "".join(c for c in raw if c.isprintable())[:80].strip()
    return label or ACTOR


def is_not_running(exc: BaseException) -> bool:
    """True when ``exc`` means that no engine listens on the control socket."""
    return isinstance(exc, EngineNotRunning | ConnectionError | FileNotFoundError | EngineDownError)


def default_client(paths: Paths) -> ControlPort:
    """The engine's socket client, on ``INVEST_HOME/engine.sock``."""
    from invest.runtime.control.socket import SOCKET_NAME, ControlClient  # first use, in a worker

    return ControlClient(paths.home / SOCKET_NAME)


def _parse_age(value: Any, now: datetime) -> float | None:
    if isinstance(value, int | float):
        return now.timestamp() - float(value)
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (now - (at if at.tzinfo else at.replace(tzinfo=UTC))).total_seconds()
    return None


def heartbeat_age(data: dict[str, Any], now: datetime) -> float | None:
    """The heartbeat's age from a ``status`` or ``ping`` reply (either shape), or None."""
    hb = (
        (data.get("engine") or {}).get("heartbeat")
        if isinstance(data.get("engine"), dict)
        else None
    )
    if isinstance(hb, dict):
        if isinstance(hb.get("age_s"), int | float):
            return float(hb["age_s"])
        return _parse_age(hb.get("beat_at"), now)
    for key in ("heartbeat_age", "age_s"):
        if isinstance(data.get(key), int | float):
            return float(data[key])
    for key in ("heartbeat", "beat_at"):
        found = _parse_age(data.get(key), now)
        if found is not None:
            return found
    return None


def _accounts(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = data.get("accounts")
    if isinstance(raw, list):
        return {str(a["account"]): a for a in raw if isinstance(a, dict) and "account" in a}
    if isinstance(raw, dict):
        return {str(k): v for k, v in raw.items() if isinstance(v, dict)}
    return {}


class EngineLink:
    """Status and steering over one :class:`ControlPort` (None: no channel at all).

    Args:
        client: the control client, or None (every request raises ``EngineDownError``).
        now: the injected clock.
    """

    def __init__(self, client: ControlPort | None, now: Callable[[], datetime]) -> None:
        self.client = client
        self.now = now
        self.actor = actor()

    def send(self, op: str, *, timeout: float | None = None, **args: Any) -> Reply:
        """Send ``op`` with ``args`` as the TUI (trader role for the steering ops);
        ``timeout``: seconds to wait for a slow answer (None: the client's default).

        Raises:
            EngineDownError: no engine listens.
        """
        if self.client is None:
            raise EngineDownError(f"{NOT_RUNNING} (no control channel in this install)")
        role = TRADER if op in WRITE_OPS else VIEWER
        try:
            request = Request(op, dict(args), self.actor, role)
            if timeout is None:
                return self.client.request(request)
            return self.client.request(request, timeout=timeout)
        except Exception as e:
            if is_not_running(e):
                raise EngineDownError(f"{NOT_RUNNING}: {e}") from e
            raise

    def status(self) -> EngineStatus:
        """Ping the engine, then ask for its status (heartbeat, halt, accounts)."""
        try:
            ping = self.send("ping")
        except EngineDownError:
            return EngineStatus(False)
        except Exception as e:  # a broken channel must not take the TUI down
            return EngineStatus(False, f"engine unreachable: {e}")
        if not ping.ok:
            return EngineStatus(False, f"engine error: {ping.error}")
        if ping.data.get("engine") is False:
            return EngineStatus(False, f"{NOT_RUNNING} (the control service has no engine)")
        try:
            status = self.send("status")
        except Exception:  # status only decorates the header; the engine answered the ping
            status = Reply(False)
        data = status.data if status.ok else {}
        found = data.get("engine")
        engine: dict[str, Any] = found if isinstance(found, dict) else {}
        return EngineStatus(
            True,
            "engine running",
            heartbeat_age(data, self.now()) or heartbeat_age(ping.data, self.now()),
            str(engine.get("halt") or "ACTIVE"),
            str(engine.get("reason") or ""),
            _accounts(data),
        )

    def flatten(self, account: str) -> Reply:
        """Flatten ``account``: ask for a token, then confirm with it.

        Raises:
            EngineDownError: no engine listens.
        """
        first = self.send("flatten", account=account)
        if not first.ok:
            return first
        token = first.data.get("confirm") or first.data.get("token")
        if not token:
            return first  # an engine that flattens in one step
        return self.send("flatten", account=account, confirm=token)


def stale_status(status: EngineStatus, reader: LedgerReader, now: datetime) -> EngineStatus:
    """A down engine's status completed from the ledger: last heartbeat, halt, pauses."""
    try:
        info = reader.engine()
    except InvestError:
        return status
    detail = status.detail
    if info.stopped_at:
        detail += f" (stopped {info.stopped_at[:16].replace('T', ' ')})"
    elif info.beat_at:
        last = _parse_age(info.beat_at, now)
        detail += f" (last heartbeat {age(last)} ago)" if last is not None else ""
    return EngineStatus(
        False,
        detail,
        None,
        info.halt,
        info.reason,
        {name: {"paused": True} for name in info.paused},
    )
