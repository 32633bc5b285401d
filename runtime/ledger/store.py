"""The SQLite ledger's writer (plain sqlite3, WAL): one writer at a time (see ``lock.py``).

Readers (TUI, Telegram, ``invest status``) open it read-only. Writes of one
cycle happen in one transaction, and orders go out through an outbox: the
cycle's transaction commits each order row (``pending``, under its unique client
order id) *before* the broker is called, and the broker's answer (``submitted``
with the broker's id, ``rejected``, or ``unknown`` when the answer was lost) is
recorded in a second transaction. A retry or a restart finds the row, asks the
broker by client id, and never sends a second order.

Durability: WAL with ``synchronous=FULL`` (each commit is fsynced before it
returns), so a power loss after a COMMIT, an order sent to the broker on the
strength of it, cannot roll the order row back. See docs/architecture.md.

The connection is in autocommit mode (``isolation_level=None``): a write outside
:meth:`Ledger.transaction` commits at once, a write inside it commits with the block.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invest.runtime.domain import (
    OPEN_SQL,
    UNANSWERED,
    AccountState,
    Ack,
    Fill,
    HaltState,
    OrderIntent,
    OrderStatus,
    Position,
    Side,
)
from invest.runtime.errors import LedgerError
from invest.runtime.faults import storage_fault
from invest.runtime.ledger import reads, schema
from invest.runtime.ledger.reads import DEMO_EVENT

if TYPE_CHECKING:  # config loads pydantic: the ledger only reads an account's fields
    from invest.runtime.config import AccountConfig
    from invest.runtime.ledger.options import StoredOptionOrder
    from invest.runtime.options.book import OptionBook, OptionFill, OptionPosition
    from invest.runtime.options.marks import OptionMark
    from invest.runtime.options.plan import MarksSink, OptionOrder, OptionsSink

__all__ = [
    "DEMO_EVENT",
    "DEMO_NAME",
    "Ledger",
    "LedgerSink",
    "demo_ledger_at",
    "remove_ledger",
    "set_aside_demo",
]

Now = Callable[[], datetime]

#: Where a demo ledger goes when real trading needs the ledger's place (see :func:`set_aside_demo`).
DEMO_NAME = "demo-ledger.sqlite"
_SIDECARS = ("", "-wal", "-shm")
_UNANSWERED_SQL = ",".join(f"'{s}'" for s in UNANSWERED)


def _utcnow() -> datetime:
    from invest.runtime.clock import utcnow  # lazy: the clock module loads numpy (the calendar)

    return utcnow()


def _rollback(conn: sqlite3.Connection, savepoint: str | None) -> None:
    """Undo a failed block: to its savepoint, or the whole transaction (no-op when an error
    already rolled the transaction back)."""
    if not conn.in_transaction:
        return
    if savepoint is None:
        conn.execute("ROLLBACK")
    else:
        conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
        conn.execute(f"RELEASE SAVEPOINT {savepoint}")


class Ledger:
    """Connection plus repositories over the ledger file."""

    def __init__(self, path: Path | str, *, now: Now = _utcnow, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._now = now
        try:
            if readonly:
                if not self.path.exists():
                    raise LedgerError(
                        f"no ledger at {self.path}: run `invest demo` or start the engine"
                    )
                conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro",
                    uri=True,
                    check_same_thread=False,
                    isolation_level=None,
                )
            else:
                from invest.runtime.paths import private_file  # lazy: platformdirs

                self.path.parent.mkdir(parents=True, exist_ok=True)
                private_file(self.path)  # 0640 before SQLite makes -wal and -shm from it
                conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except (sqlite3.Error, OSError) as e:
            fault = storage_fault(e, self.path)
            if fault is None and isinstance(e, OSError):
                raise
            raise fault or LedgerError(f"cannot open ledger {self.path}: {e}") from e
        self.conn = conn
        try:
            if not readonly:
                conn.execute("PRAGMA journal_mode=wal")
                # FULL: a COMMIT is on disk before the broker is called on its strength.
                conn.execute("PRAGMA synchronous=FULL")
                schema.migrate(conn, self.path)
            else:
                schema.check_version(conn, self.path)
                if schema.version(conn) == 0:
                    raise LedgerError(
                        f"{self.path} is not an invest ledger (no schema): "
                        "run `invest demo` or start the engine"
                    )
            conn.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, LedgerError) as e:
            conn.close()  # do not leak the handle of a ledger we refuse
            if isinstance(e, LedgerError):
                raise
            fault = storage_fault(e, self.path)
            raise fault or LedgerError(f"cannot open ledger {self.path}: {e}") from e

    def is_demo(self) -> bool:
        """Whether ``invest demo`` wrote this ledger (it carries a ``demo`` event)."""
        return reads.is_demo(self.conn)

    def is_empty(self) -> bool:
        """No account, order or fill recorded yet."""
        return not any(
            self.conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()  # noqa: S608 - fixed names
            for t in ("accounts", "orders", "fills")
        )

    def latest_day(self) -> str | None:
        """The latest session of any account with an equity mark or a decision (ISO date)."""
        row = self.conn.execute(
            "SELECT max(d) FROM (SELECT max(day) AS d FROM equity UNION ALL "
            "SELECT max(day) FROM decisions)"
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def engine_ever_ran(self) -> bool:
        """Whether an engine ever wrote its heartbeat here."""
        return self.conn.execute("SELECT 1 FROM engine_heartbeat LIMIT 1").fetchone() is not None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all or nothing (a nested call is a savepoint)."""
        # Not ``with conn:``: the connection commits every write made outside an explicit
        # transaction at once (autocommit), so only an explicit BEGIN makes the block atomic.
        conn = self.conn
        savepoint = f"ledger_{secrets.token_hex(8)}" if conn.in_transaction else None
        conn.execute(f"SAVEPOINT {savepoint}" if savepoint else "BEGIN")
        try:
            yield
        except BaseException:
            _rollback(conn, savepoint)
            raise
        try:
            conn.execute(f"RELEASE SAVEPOINT {savepoint}" if savepoint else "COMMIT")
        except BaseException:
            _rollback(conn, savepoint)
            raise

    def ts(self) -> str:
        """Current time from the injected clock, ISO 8601 UTC."""
        return self._now().isoformat(timespec="seconds")

    # -- accounts and state ---------------------------------------------------------------
    def ensure_account(self, name: str, cfg: AccountConfig) -> None:
        """Create the account row and its initial state on first sight."""
        if self.conn.execute("SELECT 1 FROM accounts WHERE name = ?", [name]).fetchone():
            return
        with self.transaction():
            self.conn.execute(
                "INSERT INTO accounts (name, strategy, start_cash, config_json, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [name, cfg.strategy, str(cfg.cash), cfg.model_dump_json(), self.ts()],
            )
            self.conn.execute(
                "INSERT INTO account_state (account, cash, halt, updated_at) VALUES (?, ?, ?, ?)",
                [
                    name,
                    str(Decimal(str(cfg.cash)).quantize(Decimal("0.01"))),
                    HaltState.ACTIVE.value,
                    self.ts(),
                ],
            )

    def load_state(self, name: str) -> AccountState:
        """The persisted :class:`AccountState` of ``name``.

        Raises:
            LedgerError: the account was never created.
        """
        r = self.conn.execute(
            "SELECT cash, halt, peak_equity, realised_pnl, brake FROM account_state "
            "WHERE account = ?",
            [name],
        ).fetchone()
        if r is None:
            raise LedgerError(f"account {name!r} is not in the ledger {self.path}")
        state = AccountState(
            name,
            Decimal(r[0]),
            halt=HaltState(r[1]),
            peak_equity=r[2],
            realised_pnl=Decimal(r[3]),
            brake=bool(r[4]),
        )
        for sym, qty, cost, opened, stop, take, days in self.conn.execute(
            "SELECT symbol, quantity, avg_cost, opened, stop_loss_pct, take_profit_pct, "
            "time_stop_days FROM positions WHERE account = ?",
            [name],
        ):
            state.positions[sym] = Position(
                sym, Decimal(qty), Decimal(cost), date.fromisoformat(opened), stop, take, days
            )
        return state

    def last_day(self, name: str) -> str | None:
        """The last session this account was marked on."""
        row = self.conn.execute(
            "SELECT last_day FROM account_state WHERE account = ?", [name]
        ).fetchone()
        return row[0] if row else None

    def save_state(self, state: AccountState, last_day: str | None = None) -> None:
        """Persist cash, halt state and the positions snapshot (call inside a transaction)."""
        self.conn.execute(
            "INSERT INTO account_state (account, cash, halt, peak_equity, brake, realised_pnl, "
            "last_day, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(account) DO UPDATE "
            "SET cash = excluded.cash, halt = excluded.halt, peak_equity = excluded.peak_equity, "
            "brake = excluded.brake, realised_pnl = excluded.realised_pnl, "
            "last_day = excluded.last_day, updated_at = excluded.updated_at",
            [
                state.name,
                str(state.cash),
                state.halt.value,
                state.peak_equity,
                int(state.brake),
                str(state.realised_pnl),
                last_day,
                self.ts(),
            ],
        )
        self.conn.execute("DELETE FROM positions WHERE account = ?", [state.name])
        self.conn.executemany(
            "INSERT INTO positions (account, symbol, quantity, avg_cost, opened, stop_loss_pct, "
            "take_profit_pct, time_stop_days) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    state.name,
                    p.symbol,
                    str(p.quantity),
                    str(p.avg_cost),
                    p.opened.isoformat(),
                    p.stop_loss_pct,
                    p.take_profit_pct,
                    p.time_stop_days,
                )
                for p in state.positions.values()
            ],
        )

    def set_halt(self, account: str, halt: HaltState, reason: str) -> None:
        """Persist a halt state change and its event."""
        with self.transaction():
            self.conn.execute(
                "UPDATE account_state SET halt = ?, updated_at = ? WHERE account = ?",
                [halt.value, self.ts(), account],
            )
            self.event(account, "halt", {"state": halt.value, "reason": reason})

    # -- orders and fills -------------------------------------------------------------------
    def record_order(
        self, intent: OrderIntent, day: str, status: OrderStatus = OrderStatus.PENDING
    ) -> bool:
        """Insert an order in the outbox (``pending``), before it is sent.

        False when the client id exists already. Reconciliation records orders the
        broker has already with ``status=SUBMITTED``.
        """
        try:
            self.conn.execute(
                "INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    intent.client_order_id,
                    intent.account,
                    intent.cycle_id,
                    day,
                    intent.symbol,
                    intent.side.value,
                    str(intent.quantity),
                    str(intent.ref_price),
                    intent.reason,
                    status.value,
                    None,
                    self.ts(),
                    self.ts(),
                ],
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def open_orders(self, account: str) -> list[tuple[OrderIntent, date]]:
        """Orders sent and not yet filled, cancelled or rejected, with their session."""
        return [(i, d) for i, d, _ in self._orders(account, OPEN_SQL)]

    def unanswered(self, account: str) -> list[tuple[OrderIntent, date, OrderStatus]]:
        """The outbox of ``account``: orders recorded with no answer from the broker yet."""
        return self._orders(account, _UNANSWERED_SQL)

    def _orders(self, account: str, statuses: str) -> list[tuple[OrderIntent, date, OrderStatus]]:
        rows = self.conn.execute(
            "SELECT account, cycle_id, symbol, side, quantity, ref_price, reason, client_order_id, "  # noqa: S608 - fixed status names
            f"day, status FROM orders WHERE account = ? AND status IN ({statuses})",
            [account],
        )
        return [
            (
                OrderIntent(a, cycle, sym, Side(side), Decimal(qty), Decimal(ref), why, coid),
                date.fromisoformat(day),
                OrderStatus(status),
            )
            for a, cycle, sym, side, qty, ref, why, coid, day, status in rows
        ]

    def order_status(self, client_order_id: str) -> str | None:
        """The ledger's status of an order; None when there is no such row."""
        row = self.conn.execute(
            "SELECT status FROM orders WHERE client_order_id = ?", [client_order_id]
        ).fetchone()
        return None if row is None else str(row[0])

    def record_answer(self, ack: Ack) -> None:
        """Record the broker's answer to an order of the outbox (its own transaction).

        Only an unanswered order takes it (an answer never undoes a fill or a
        cancellation recorded since); a rejection or a cancellation gets an audit event.
        """
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE orders SET status = ?, broker_order_id = coalesce(?, broker_order_id), "  # noqa: S608 - fixed status names
                f"updated_at = ? WHERE client_order_id = ? AND status IN ({_UNANSWERED_SQL})",
                [ack.status.value, ack.broker_order_id, self.ts(), ack.client_order_id],
            )
            if cur.rowcount and ack.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
                self.event(
                    None,
                    "order_cancelled",
                    {"client_order_id": ack.client_order_id, "reason": ack.detail or ack.status},
                )
            elif cur.rowcount and ack.status is OrderStatus.UNKNOWN:
                self.event(
                    None,
                    "order_unknown",
                    {"client_order_id": ack.client_order_id, "reason": ack.detail},
                )

    def set_order_status(self, client_order_id: str, status: OrderStatus) -> None:
        """Update an order's status."""
        self.conn.execute(
            "UPDATE orders SET status = ?, updated_at = ? WHERE client_order_id = ?",
            [status.value, self.ts(), client_order_id],
        )

    def record_fill(self, fill: Fill) -> None:
        """Insert a fill and mark its order filled."""
        seq = self.conn.execute(
            "SELECT COUNT(*) FROM fills WHERE client_order_id = ?", [fill.client_order_id]
        ).fetchone()[0]
        self.conn.execute(
            "INSERT INTO fills (client_order_id, seq, account, symbol, side, quantity, price, "
            "fees, day, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                fill.client_order_id,
                seq,
                fill.account,
                fill.symbol,
                fill.side.value,
                str(fill.quantity),
                str(fill.price),
                str(fill.fees),
                fill.day.isoformat(),
                fill.reason,
            ],
        )
        self.set_order_status(fill.client_order_id, OrderStatus.FILLED)

    def record_assignment(self, stock: Fill, cycle_id: str) -> bool:
        """Record the stock fill of an option settled into shares, with its order row.

        A put assigned or a call called away moves shares at the strike with no order
        sent; the order row (``filled``, under the settlement's own client id,
        ``book.option_fill_id``) keeps the rule that every fill belongs to an order,
        which the fills table's foreign key enforces. False (nothing written) when it is
        recorded already: a rerun never moves the shares twice.
        """
        intent = OrderIntent(
            stock.account,
            cycle_id,
            stock.symbol,
            stock.side,
            stock.quantity,
            stock.price,
            stock.reason,
            stock.client_order_id,
        )
        if not self.record_order(intent, stock.day.isoformat(), OrderStatus.FILLED):
            return False
        self.record_fill(stock)
        return True

    # -- records ------------------------------------------------------------------------------
    def fills(self, account: str) -> list[Fill]:
        """Every fill of ``account``, in the order recorded."""
        rows = self.conn.execute(
            "SELECT client_order_id, account, symbol, side, quantity, price, fees, day, reason "
            "FROM fills WHERE account = ? ORDER BY id",
            [account],
        ).fetchall()
        return [
            Fill(
                r[0],
                r[1],
                r[2],
                Side(r[3]),
                Decimal(r[4]),
                Decimal(r[5]),
                Decimal(r[6]),
                date.fromisoformat(r[7]),
                r[8],
            )
            for r in rows
        ]

    def record_decision(self, rec: dict[str, Any]) -> None:
        """Insert an explanation record (once per cycle id)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO decisions (account, cycle_id, day, regime, record_json) VALUES (?,?,?,?,?)",
            [
                rec["account"],
                rec["cycle_id"],
                rec["day"],
                rec["regime"],
                json.dumps(rec, separators=(",", ":")),
            ],
        )

    def has_decision(self, cycle_id: str) -> bool:
        """True when an explanation record exists for ``cycle_id``."""
        row = self.conn.execute("SELECT 1 FROM decisions WHERE cycle_id = ?", [cycle_id]).fetchone()
        return row is not None

    def record_equity(self, account: str, day: str, equity: float, cash: float) -> None:
        """Upsert the end-of-day equity."""
        self.conn.execute(
            "INSERT OR REPLACE INTO equity VALUES (?,?,?,?)",
            [account, day, round(equity, 2), round(cash, 2)],
        )

    def event(self, account: str | None, kind: str, detail: dict[str, Any]) -> None:
        """Append an audit event."""
        self.conn.execute(
            "INSERT INTO events (ts, account, kind, detail_json) VALUES (?, ?, ?, ?)",
            [self.ts(), account, kind, json.dumps(detail)],
        )

    # -- reads ----------------------------------------------------------------------------------
    def accounts(self) -> list[str]:
        """Account names in the ledger."""
        return reads.account_names(self.conn)

    def decisions(self, account: str, limit: int = 50) -> list[dict[str, Any]]:
        """The latest explanation records of ``account``, newest first."""
        return reads.decisions(self.conn, account, limit)

    def equity_curve(self, account: str) -> list[tuple[str, float]]:
        """(day, equity) rows of ``account`` in order."""
        return reads.equity_curve(self.conn, account)

    # -- options ----------------------------------------------------------------------------
    # ledger.options imports the options package (numpy, through pricing): lazily, so that
    # importing the ledger stays standard-library only (``invest status``, the TUI).
    def load_book(self, account: str) -> OptionBook:
        """The option book of ``account``: open and closed positions with their fills."""
        from invest.runtime.ledger import options
        from invest.runtime.options.book import OptionBook

        if not schema.has_option_tables(self.conn):  # a read-only ledger of an older schema
            return OptionBook(account)
        return options.load_book(self.conn, account)

    def open_option_orders(
        self, account: str, *, unanswered_only: bool = False
    ) -> list[StoredOptionOrder]:
        """Option orders of ``account`` still open; the outbox with ``unanswered_only``."""
        from invest.runtime.ledger import options

        if not schema.has_option_tables(self.conn):
            return []
        return options.open_option_orders(self.conn, account, unanswered_only=unanswered_only)


class LedgerSink:
    """The cycle's :class:`~invest.runtime.cycle.Sink` over a :class:`Ledger`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def order(self, intent: OrderIntent) -> bool:
        """Record in the outbox, before sending; False when the id exists (a retry)."""
        return self.ledger.record_order(intent, intent.cycle_id.split(":")[1])

    def answer(self, ack: Ack) -> None:
        """Record the broker's answer (its own transaction: the send is after the cycle's commit)."""
        self.ledger.record_answer(ack)

    def fill(self, fill: Fill) -> None:
        """Record a fill."""
        self.ledger.record_fill(fill)

    def decision(self, record: dict[str, Any]) -> None:
        """Record an explanation record."""
        self.ledger.record_decision(record)

    def equity(self, account: str, day: str, equity: float, cash: float) -> None:
        """Record end-of-day equity."""
        self.ledger.record_equity(account, day, equity, cash)

    def cancel(self, client_order_id: str, reason: str) -> None:
        """Mark the order cancelled, with an audit event (once: a cancelled order stays so)."""
        if self.ledger.order_status(client_order_id) in ("cancelled", "rejected"):
            return
        self.ledger.set_order_status(client_order_id, OrderStatus.CANCELLED)
        self.ledger.event(
            None, "order_cancelled", {"client_order_id": client_order_id, "reason": reason}
        )

    def done(self, cycle_id: str) -> bool:
        """True when the cycle's decision is in the ledger."""
        return self.ledger.has_decision(cycle_id)

    # -- options (plan.OptionsSink) ------------------------------------------------------------
    def option_order(self, order: OptionOrder) -> bool:
        """Record an option order in the outbox, before sending; False when the id exists."""
        from invest.runtime.ledger import options

        day = order.cycle_id.split(":")[1]
        return options.record_option_order(self.ledger.conn, order, day, self.ledger.ts())

    def option_answer(self, ack: Ack) -> None:
        """Record the broker's answer to an option order (its own transaction, like ``answer``)."""
        from invest.runtime.ledger import options

        with self.ledger.transaction():
            took = options.answer_option_order(self.ledger.conn, ack, self.ledger.ts())
            if took and ack.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
                self.ledger.event(
                    None,
                    "option_order_cancelled",
                    {"client_order_id": ack.client_order_id, "reason": ack.detail or ack.status},
                )
            elif took and ack.status is OrderStatus.UNKNOWN:
                self.ledger.event(
                    None,
                    "option_order_unknown",
                    {"client_order_id": ack.client_order_id, "reason": ack.detail},
                )

    def assignment(self, stock: Fill, cycle_id: str) -> bool:
        """Record the stock fill of a settlement into shares (see :meth:`Ledger.record_assignment`)."""
        return self.ledger.record_assignment(stock, cycle_id)

    def option_cancel(self, client_order_id: str, reason: str) -> None:
        """Mark an open option order cancelled, with an audit event (once, like ``cancel``)."""
        from invest.runtime.ledger import options

        if options.cancel_option_order(self.ledger.conn, client_order_id, self.ledger.ts()):
            self.ledger.event(
                None,
                "option_order_cancelled",
                {"client_order_id": client_order_id, "reason": reason},
            )

    def option_fill(self, fill: OptionFill) -> None:
        """Record an option fill (an open, a close, or a settlement at expiry)."""
        from invest.runtime.ledger import options

        options.record_option_fill(self.ledger.conn, fill, self.ledger.ts())

    def option_positions(self, account: str, positions: Sequence[OptionPosition]) -> None:
        """Store the current state of ``positions`` (upsert)."""
        from invest.runtime.ledger import options

        options.save_positions(self.ledger.conn, account, positions, self.ledger.ts())

    def option_marks(self, account: str, day: date, marks: Sequence[OptionMark]) -> None:
        """Replace the account's marks of its open option positions (plan.MarksSink)."""
        from invest.runtime.ledger import options

        options.save_marks(self.ledger.conn, account, day, marks, self.ledger.ts())


if TYPE_CHECKING:

    def _options_sink(sink: LedgerSink) -> OptionsSink:
        """mypy checks here that LedgerSink implements the options' sink protocol."""
        return sink

    def _marks_sink(sink: LedgerSink) -> MarksSink:
        """mypy checks here that LedgerSink implements the marks' sink protocol."""
        return sink


def remove_ledger(path: Path) -> None:
    """Delete the ledger file at ``path`` and its WAL sidecars."""
    for suffix in _SIDECARS:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def demo_ledger_at(path: Path) -> bool:
    """Whether the file at ``path`` is a ledger that ``invest demo`` wrote."""
    if not path.exists():
        return False
    try:
        ledger = Ledger(path, readonly=True)
    except LedgerError:
        return False
    try:
        return ledger.is_demo()
    finally:
        ledger.close()


def set_aside_demo(path: Path) -> Path | None:
    """Move the demo's ledger away from ``path`` before real trading writes there.

    A first ``invest demo`` writes the default ledger so that the TUI shows
    something; the engine and ``invest run`` must not trade on from the demo's
    replayed positions. The demo ledger is renamed :data:`DEMO_NAME` beside it
    (replacing an older one) and the caller starts a fresh ledger.

    Returns:
        The new path of the demo ledger, or None when ``path`` is not one.
    """
    if not demo_ledger_at(path):
        return None
    target = path.with_name(DEMO_NAME)
    remove_ledger(target)
    for suffix in _SIDECARS:
        src = Path(f"{path}{suffix}")
        if src.exists():
            src.replace(Path(f"{target}{suffix}"))
    return target
