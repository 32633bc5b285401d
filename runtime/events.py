"""What the engine tells people: typed events, the :class:`Notifier` protocol and a safe fan-out.

Notifiers (Telegram, Discord, the log) implement one method, ``notify(event)``.
The engine hands every event to a :class:`FanOut`, which delivers it from its own
thread: a notifier that raises, hangs or is slow never delays or breaks a cycle.

Every event is a frozen dataclass with a ``kind`` (``order_sent``, ``halted``...),
a ``severity`` (``info``, ``warning``, ``critical``), ``text()`` for a one-line
human message and ``as_dict()`` for JSON.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, Protocol, runtime_checkable

from invest.runtime.domain import HaltState, OrderIntent

__all__ = [
    "AccountReport",
    "CycleSummary",
    "DailyReport",
    "ErrorEvent",
    "Event",
    "FanOut",
    "Halted",
    "LogNotifier",
    "MemoryNotifier",
    "Notifier",
    "OptionOrderSent",
    "OrderFilled",
    "OrderRejected",
    "OrderSent",
    "Resumed",
    "StopTriggered",
    "WeeklySummary",
]

logger = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every engine event.

    Attributes:
        at: when it happened (the engine clock, UTC).
        account: the account it is about; None for engine-wide events.
    """

    kind: ClassVar[str] = "event"
    severity: ClassVar[str] = "info"

    at: datetime
    account: str | None = None

    def text(self) -> str:
        """One line for a chat message or a log."""
        return f"{self.kind} {self.account or 'engine'}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict, with ``kind`` and ``severity``."""
        out: dict[str, Any] = {"kind": self.kind, "severity": self.severity}
        out.update(_plain(self))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSent(Event):
    """An order was recorded in the ledger and handed to the broker."""

    kind: ClassVar[str] = "order_sent"
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    ref_price: Decimal
    reason: str
    cycle_id: str = ""

    @classmethod
    def of(cls, intent: OrderIntent, at: datetime) -> OrderSent:
        """The event for an order intent sent at ``at``."""
        return cls(
            at=at,
            account=intent.account,
            client_order_id=intent.client_order_id,
            symbol=intent.symbol,
            side=intent.side.value,
            quantity=intent.quantity,
            ref_price=intent.ref_price,
            reason=intent.reason,
            cycle_id=intent.cycle_id,
        )

    def text(self) -> str:
        """E.g. ``trend-daily: BUY 3.5 AAPL @~150.00 (target 20.0%)``."""
        return (
            f"{self.account}: {self.side.upper()} {self.quantity} {self.symbol} "
            f"@~{self.ref_price} ({self.reason})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionOrderSent(Event):
    """An option order (a whole structure) was recorded in the ledger and handed to the broker.

    Plain fields, not the options package's ``OptionOrder``: this module sits below it.
    """

    kind: ClassVar[str] = "option_order_sent"
    client_order_id: str
    action: str
    structure: str
    legs: str
    contracts: int
    limit_premium: float | None
    reason: str
    cycle_id: str = ""

    def text(self) -> str:
        """E.g. ``wheel-weekly: CLOSE 2 cash_secured_put (-1 KO160311P00040000) at market (...)``."""
        price = "at market" if self.limit_premium is None else f"limit {self.limit_premium:+.2f}"
        return (
            f"{self.account}: {self.action.upper()} {self.contracts} {self.structure} "
            f"({self.legs}) {price} ({self.reason})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilled(Event):
    """The broker executed an order (fully, for the paper broker)."""

    kind: ClassVar[str] = "order_filled"
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fees: Decimal
    day: date
    reason: str = ""

    def text(self) -> str:
        """E.g. ``trend-daily: filled BUY 3.5 AAPL at 150.12``."""
        return (
            f"{self.account}: filled {self.side.upper()} {self.quantity} {self.symbol} "
            f"at {self.price} on {self.day}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejected(Event):
    """The broker refused or cancelled an order (no cash at fill, invalid symbol...)."""

    kind: ClassVar[str] = "order_rejected"
    severity: ClassVar[str] = "warning"
    client_order_id: str
    symbol: str
    reason: str

    def text(self) -> str:
        """E.g. ``trend-daily: order AAPL rejected: not enough cash``."""
        return f"{self.account}: order {self.symbol} rejected: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StopTriggered(Event):
    """A position monitor (stop-loss, take-profit, time stop) sent an exit."""

    kind: ClassVar[str] = "stop_triggered"
    severity: ClassVar[str] = "warning"
    symbol: str
    rule: str
    reason: str
    client_order_id: str = ""

    def text(self) -> str:
        """E.g. ``trend-daily: stop_loss AAPL: down 15.2% from cost``."""
        return f"{self.account}: {self.rule} {self.symbol}: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleSummary(Event):
    """A cycle (or a monitor run) finished; ``record`` is its explanation record (may be empty)."""

    kind: ClassVar[str] = "cycle_summary"
    cycle_id: str
    day: date
    equity: float
    monitor_only: bool = False
    record: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The record's headline, or the equity when the cycle left no record."""
        orders = self.record.get("orders", [])
        what = ", ".join(f"{o['side'].upper()} {o['qty']} {o['symbol']}" for o in orders)
        return f"{self.account} {self.day}: equity {self.equity:,.2f}; {what or 'no trade'}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Halted(Event):
    """An account (or the engine, ``account`` None) went to REDUCING or HALTED."""

    kind: ClassVar[str] = "halted"
    severity: ClassVar[str] = "critical"
    state: HaltState
    reason: str
    actor: str = "engine"

    def text(self) -> str:
        """E.g. ``trend-daily HALTED: daily loss 6.1% >= 5%``."""
        return f"{self.account or 'engine'} {self.state.value}: {self.reason} (by {self.actor})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Resumed(Event):
    """A command lifted a halt or a pause."""

    kind: ClassVar[str] = "resumed"
    actor: str
    reason: str = ""

    def text(self) -> str:
        """E.g. ``trend-daily resumed by telegram:42``."""
        return f"{self.account or 'engine'} resumed by {self.actor}" + (
            f": {self.reason}" if self.reason else ""
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorEvent(Event):
    """A cycle or a job failed; ``consecutive`` counts failures of the same kind in a row."""

    kind: ClassVar[str] = "error"
    severity: ClassVar[str] = "warning"
    error: str
    message: str
    consecutive: int = 1

    def text(self) -> str:
        """E.g. ``trend-daily: DataUnavailableError (2 in a row): timeout``."""
        return f"{self.account or 'engine'}: {self.error} ({self.consecutive} in a row): {self.message}"


@dataclass(frozen=True, slots=True)
class AccountReport:
    """One account's line in a daily report or a weekly summary."""

    account: str
    equity: float
    change: float
    change_pct: float
    trades: int
    positions: int
    halt: str
    regime: str | None = None

    def text(self) -> str:
        """E.g. ``trend-daily 10,234.50 (+1.20%, 2 trades, 5 positions) ACTIVE``."""
        return (
            f"{self.account} {self.equity:,.2f} ({self.change_pct:+.2%}, {self.trades} trades, "
            f"{self.positions} positions) {self.halt}" + (f" {self.regime}" if self.regime else "")
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyReport(Event):
    """After the close of a session: each account's equity and change over the session."""

    kind: ClassVar[str] = "daily_report"
    day: date
    accounts: tuple[AccountReport, ...]

    def text(self) -> str:
        """A header line and one line per account."""
        return "\n".join([f"Daily report {self.day}", *(a.text() for a in self.accounts)])


@dataclass(frozen=True, slots=True, kw_only=True)
class WeeklySummary(Event):
    """After the week's last session: each account's change over the week."""

    kind: ClassVar[str] = "weekly_summary"
    week_ending: date
    accounts: tuple[AccountReport, ...]

    def text(self) -> str:
        """A header line and one line per account."""
        return "\n".join(
            [f"Weekly summary to {self.week_ending}", *(a.text() for a in self.accounts)]
        )


@runtime_checkable
class Notifier(Protocol):
    """Something that tells people about events (Telegram, Discord, the log)."""

    def notify(self, event: Event) -> None:
        """Deliver one event. May raise or block: the :class:`FanOut` shields the engine."""
        ...


class LogNotifier:
    """Writes every event to the log: warnings and worse at WARNING, the rest at INFO."""

    def notify(self, event: Event) -> None:
        """Log ``event.text()`` with its kind."""
        level = logging.INFO if event.severity == "info" else logging.WARNING
        logger.log(level, "%s", event.text(), extra={"kv": {"event": event.kind}})


class MemoryNotifier:
    """Keeps events in a list (tests, and the TUI's recent-events view)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def notify(self, event: Event) -> None:
        """Append the event."""
        self.events.append(event)

    def kinds(self) -> list[str]:
        """The kinds received, in order."""
        return [e.kind for e in self.events]


_STOP = object()


class FanOut:
    """Delivers each event to every notifier; a notifier failure never reaches the caller.

    Args:
        notifiers: where events go.
        threaded: deliver from a background thread (the engine); False delivers inline
            (tests). Either way exceptions are logged and swallowed.
        maxsize: events waiting beyond this are dropped (with a warning), so a stuck
            notifier cannot grow the engine's memory.
    """

    def __init__(
        self, notifiers: Sequence[Notifier] = (), *, threaded: bool = True, maxsize: int = 1000
    ) -> None:
        self.notifiers: list[Notifier] = list(notifiers)
        self._failures: dict[tuple[str, str], int] = {}
        self._dropped = 0
        self._queue: queue.Queue[object] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=maxsize)
            self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
            self._thread.start()

    def add(self, notifier: Notifier) -> None:
        """Add a notifier (before events flow, preferably)."""
        self.notifiers.append(notifier)

    def notify(self, event: Event) -> None:
        """Queue ``event`` for every notifier (or deliver it now when not threaded)."""
        if self._queue is None:
            self._deliver(event)
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._dropped += 1
            if self._dropped in (1, 10, 100) or self._dropped % 1000 == 0:
                logger.warning("notifier queue full: %d events dropped so far", self._dropped)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout`` seconds) and stop the thread."""
        if self._queue is None or self._thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, Event):
                self._deliver(item)

    def _deliver(self, event: Event) -> None:
        for n in list(self.notifiers):
            try:
                n.notify(event)
            except Exception as e:  # a notifier must never break the engine
                key = (type(n).__name__, type(e).__name__)
                count = self._failures[key] = self._failures.get(key, 0) + 1
                if count in (1, 10, 100) or count % 1000 == 0:
                    logger.warning(
                        "notifier %s failed on %s (%d times): %s: %s",
                        key[0],
                        event.kind,
                        count,
                        key[1],
                        e,
                    )
