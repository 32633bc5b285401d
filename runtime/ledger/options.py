"""The ledger's option tables: option orders (the outbox), option fills and option positions.

Pure serialisation of :class:`~invest.runtime.options.structures.Structure`,
:class:`~invest.runtime.options.book.OptionPosition`,
:class:`~invest.runtime.options.book.OptionFill` and
:class:`~invest.runtime.options.plan.OptionOrder` to and from rows (``*_row`` /
``*_from_row``), and the writes and reads over a connection that
:class:`~invest.runtime.ledger.store.LedgerSink` and reconciliation use.

The outbox rule is the stocks': an option order is committed ``pending`` under its
unique client id before it is sent (a second insert of the id is refused, so a
retry never sends twice), and the broker's answer is recorded in a second step.

Rows keep what rebuilding needs exactly: money as ``str(Decimal)``, the float
premium and leg prices as their ``repr`` (JSON floats round-trip in Python), and
each structure leg's multiplier and exercise style beside its OCC symbol (the OCC
symbol carries neither). :func:`load_book` loads open AND closed positions with
their fills, so realised P&L survives a restart.

This module imports the options package (numpy, through pricing): the ledger's
store imports it lazily, so the ledger package stays standard-library only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from invest.runtime.domain import OPEN_SQL, UNANSWERED, Ack, OrderStatus
from invest.runtime.errors import ConfigError, LedgerError
from invest.runtime.options.book import (
    LegFill,
    OptionAction,
    OptionBook,
    OptionFill,
    OptionPosition,
)
from invest.runtime.options.contracts import Leg, OptionContract, Style
from invest.runtime.options.marks import OptionMark
from invest.runtime.options.plan import OptionOrder, OrderAction
from invest.runtime.options.structures import Structure, StructureKind

__all__ = [
    "StoredOptionOrder",
    "answer_option_order",
    "cancel_option_order",
    "fill_from_row",
    "fill_row",
    "leg_fills_from_json",
    "leg_fills_json",
    "legs_from_json",
    "legs_json",
    "load_book",
    "open_option_orders",
    "option_order_status",
    "order_from_row",
    "order_row",
    "position_from_row",
    "position_row",
    "record_option_fill",
    "record_option_order",
    "save_marks",
    "save_positions",
]

_UNANSWERED_SQL = ",".join(f"'{s}'" for s in UNANSWERED)

_ORDER_COLS = (
    "client_order_id, account, cycle_id, day, action, position_id, kind, underlying, legs_json, "
    "contracts, limit_premium, rule, reason, status, broker_order_id, detail, created_at, "
    "updated_at"
)
_FILL_COLS = "client_order_id, account, position_id, action, legs_json, fees, day, reason"
_POSITION_COLS = (
    "account, id, kind, underlying, expiry, legs_json, contracts, opened, open_premium, "
    "collateral, reserved, shares_reserved, premium_in, premium_out, settlement, fees, closed, "
    "outcome"
)


# -- structures and legs ----------------------------------------------------------------------
def legs_json(structure: Structure) -> str:
    """A structure's legs as JSON: OCC symbol, quantity per unit, multiplier, style."""
    return json.dumps(
        [
            {
                "symbol": leg.contract.symbol,
                "quantity": leg.quantity,
                "multiplier": leg.contract.multiplier,
                "style": leg.contract.style.value,
            }
            for leg in structure.legs
        ],
        separators=(",", ":"),
    )


def legs_from_json(kind: str, text: str) -> Structure:
    """The :class:`Structure` of ``kind`` whose legs :func:`legs_json` wrote.

    Raises:
        LedgerError: the row is not a valid structure (names the kind and the problem).
    """
    try:
        legs = tuple(
            Leg(
                OptionContract.from_occ(
                    str(d["symbol"]), multiplier=int(d["multiplier"]), style=Style(d["style"])
                ),
                int(d["quantity"]),
            )
            for d in json.loads(text)
        )
        return Structure(StructureKind(kind), legs)
    except (ConfigError, ValueError, KeyError, TypeError) as e:
        raise LedgerError(f"the ledger holds a {kind} whose legs cannot be read: {e}") from e


def leg_fills_json(legs: Iterable[LegFill]) -> str:
    """A fill's legs as JSON: OCC symbol, contracts (+ bought, - sold), price per share."""
    return json.dumps(
        [{"symbol": x.symbol, "contracts": x.contracts, "price": x.price} for x in legs],
        separators=(",", ":"),
    )


def leg_fills_from_json(text: str) -> tuple[LegFill, ...]:
    """The legs :func:`leg_fills_json` wrote."""
    return tuple(
        LegFill(str(d["symbol"]), int(d["contracts"]), float(d["price"])) for d in json.loads(text)
    )


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


# -- fills ------------------------------------------------------------------------------------
def fill_row(fill: OptionFill) -> tuple[Any, ...]:
    """The row of ``fill`` in the order of :data:`_FILL_COLS`."""
    return (
        fill.client_order_id,
        fill.account,
        fill.position_id,
        fill.action.value,
        leg_fills_json(fill.legs),
        str(fill.fees),
        fill.day.isoformat(),
        fill.reason,
    )


def fill_from_row(row: Sequence[Any]) -> OptionFill:
    """The :class:`OptionFill` of a row in the order of :func:`fill_row`."""
    coid, account, pos_id, action, legs, fees, day, reason = row
    return OptionFill(
        str(coid),
        str(account),
        str(pos_id),
        OptionAction(action),
        leg_fills_from_json(legs),
        Decimal(fees),
        date.fromisoformat(day),
        str(reason),
    )


def record_option_fill(conn: sqlite3.Connection, fill: OptionFill, ts: str) -> None:
    """Insert an option fill and mark its order filled.

    A settlement at expiry has no order row (its client id is ``book.option_fill_id``):
    the update then changes nothing.
    """
    seq = conn.execute(
        "SELECT COUNT(*) FROM option_fills WHERE client_order_id = ?", [fill.client_order_id]
    ).fetchone()[0]
    conn.execute(
        f"INSERT INTO option_fills (seq, {_FILL_COLS}) VALUES (?,?,?,?,?,?,?,?,?)",  # noqa: S608 - fixed columns
        [seq, *fill_row(fill)],
    )
    conn.execute(
        "UPDATE option_orders SET status = ?, updated_at = ? WHERE client_order_id = ?",
        [OrderStatus.FILLED.value, ts, fill.client_order_id],
    )


# -- positions --------------------------------------------------------------------------------
def position_row(pos: OptionPosition) -> tuple[Any, ...]:
    """The row of ``pos`` in the order of :data:`_POSITION_COLS` (its fills are rows of their own)."""
    return (
        pos.account,
        pos.id,
        pos.structure.kind.value,
        pos.structure.underlying,
        pos.expiry.isoformat(),
        legs_json(pos.structure),
        pos.contracts,
        pos.opened.isoformat(),
        repr(float(pos.open_premium)),
        str(pos.collateral),
        str(pos.reserved),
        pos.shares_reserved,
        str(pos.premium_in),
        str(pos.premium_out),
        str(pos.settlement),
        str(pos.fees),
        None if pos.closed is None else pos.closed.isoformat(),
        None if pos.outcome is None else pos.outcome.value,
    )


def position_from_row(row: Sequence[Any], fills: Iterable[OptionFill] = ()) -> OptionPosition:
    """The :class:`OptionPosition` of a row in the order of :func:`position_row`."""
    (account, pos_id, kind, _underlying, _expiry, legs, contracts, opened, premium) = row[:9]
    (collateral, reserved, shares, p_in, p_out, settlement, fees, closed, outcome) = row[9:]
    return OptionPosition(
        str(pos_id),
        str(account),
        legs_from_json(kind, legs),
        int(contracts),
        date.fromisoformat(opened),
        float(premium),
        Decimal(collateral),
        Decimal(reserved),
        int(shares),
        premium_in=Decimal(p_in),
        premium_out=Decimal(p_out),
        settlement=Decimal(settlement),
        fees=Decimal(fees),
        closed=_day(closed),
        outcome=None if outcome is None else OptionAction(outcome),
        fills=list(fills),
    )


def save_positions(
    conn: sqlite3.Connection, account: str, positions: Iterable[OptionPosition], ts: str
) -> None:
    """Upsert ``positions`` of ``account`` (the ones a cycle opened, closed or settled).

    Raises:
        LedgerError: a position belongs to another account.
    """
    rows = []
    for pos in positions:
        if pos.account != account:
            raise LedgerError(
                f"option position {pos.id} belongs to {pos.account}, not {account}: "
                "save each account's positions under its own name"
            )
        rows.append((*position_row(pos), ts))
    keys = [c.strip() for c in _POSITION_COLS.split(",")]
    update = ", ".join(f"{k} = excluded.{k}" for k in (*keys[2:], "updated_at"))
    conn.executemany(
        f"INSERT INTO option_positions ({_POSITION_COLS}, updated_at) "  # noqa: S608 - fixed columns
        f"VALUES ({','.join('?' * (len(keys) + 1))}) "
        f"ON CONFLICT(account, id) DO UPDATE SET {update}",
        rows,
    )


def save_marks(
    conn: sqlite3.Connection, account: str, day: date, marks: Sequence[OptionMark], ts: str
) -> None:
    """Replace the marks of ``account`` by ``marks`` (every open position, marked on ``day``).

    A position not in ``marks`` is no longer open: its row goes.

    Raises:
        LedgerError: a mark belongs to another account or another day.
    """
    for m in marks:
        if m.account != account or m.day != day:
            raise LedgerError(
                f"option mark of {m.position_id} is for {m.account} on {m.day}, not {account} "
                f"on {day}: save each account's marks of one session together"
            )
    conn.execute("DELETE FROM option_marks WHERE account = ?", (account,))
    conn.executemany(
        "INSERT INTO option_marks (account, position_id, day, kind, underlying, contracts, dte, "
        "value, unrealised, delta, gamma, theta, vega, spot, priced, triggers_json, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                account,
                m.position_id,
                day.isoformat(),
                m.kind,
                m.underlying,
                m.contracts,
                m.dte,
                m.value,
                m.unrealised,
                m.delta,
                m.gamma,
                m.theta,
                m.vega,
                m.spot,
                int(m.priced),
                json.dumps([t.as_dict() for t in m.triggers]),
                ts,
            )
            for m in marks
        ],
    )


def load_book(conn: sqlite3.Connection, account: str) -> OptionBook:
    """The :class:`OptionBook` of ``account``: open and closed positions with their fills."""
    fills: dict[str, list[OptionFill]] = {}
    for row in conn.execute(
        f"SELECT {_FILL_COLS} FROM option_fills WHERE account = ? ORDER BY id",  # noqa: S608 - fixed columns
        [account],
    ):
        fill = fill_from_row(tuple(row))
        fills.setdefault(fill.position_id, []).append(fill)
    rows = conn.execute(
        f"SELECT {_POSITION_COLS} FROM option_positions WHERE account = ? "  # noqa: S608 - fixed columns
        "ORDER BY opened, rowid",
        [account],
    ).fetchall()
    return OptionBook(
        account, [position_from_row(tuple(r), fills.get(str(r[1]), ())) for r in rows]
    )


# -- orders -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StoredOptionOrder:
    """An option order as the ledger holds it: the order, its session, status and broker id."""

    order: OptionOrder
    day: date
    status: OrderStatus
    broker_order_id: str | None = None
    detail: str = ""


def order_row(
    order: OptionOrder, day: str, ts: str, status: OrderStatus = OrderStatus.PENDING
) -> tuple[Any, ...]:
    """The row of ``order`` in the order of :data:`_ORDER_COLS` (no broker id yet)."""
    limit = None if order.limit_premium is None else repr(float(order.limit_premium))
    s = order.structure
    return (
        order.client_order_id,
        order.account,
        order.cycle_id,
        day,
        order.action.value,
        order.position_id,
        s.kind.value,
        s.underlying,
        legs_json(s),
        order.contracts,
        limit,
        order.rule,
        order.reason,
        status.value,
        None,
        "",
        ts,
        ts,
    )


def order_from_row(row: Sequence[Any]) -> StoredOptionOrder:
    """The :class:`StoredOptionOrder` of a row in the order of :func:`order_row`."""
    (coid, account, cycle, day, action, pos_id, kind, _underlying, legs, contracts) = row[:10]
    (limit, rule, reason, status, broker_id, detail) = row[10:16]
    order = OptionOrder(
        str(account),
        str(cycle),
        OrderAction(action),
        str(pos_id),
        legs_from_json(kind, legs),
        int(contracts),
        None if limit is None else float(limit),
        str(reason),
        str(coid),
        str(rule),
    )
    return StoredOptionOrder(
        order,
        date.fromisoformat(day),
        OrderStatus(status),
        None if broker_id is None else str(broker_id),
        str(detail),
    )


def record_option_order(
    conn: sqlite3.Connection,
    order: OptionOrder,
    day: str,
    ts: str,
    status: OrderStatus = OrderStatus.PENDING,
) -> bool:
    """Insert an option order in the outbox (``pending``), before it is sent.

    False when the client id exists already (a retry: never send it twice).
    Reconciliation records orders the broker has already with ``status=SUBMITTED``.
    """
    try:
        conn.execute(
            f"INSERT INTO option_orders ({_ORDER_COLS}) VALUES ({','.join('?' * 18)})",  # noqa: S608 - fixed columns
            order_row(order, day, ts, status),
        )
    except sqlite3.IntegrityError:
        return False
    return True


def answer_option_order(conn: sqlite3.Connection, ack: Ack, ts: str) -> bool:
    """Record the broker's answer to an unanswered option order; True when it took it.

    Only an order with no answer yet takes it: an answer never undoes a fill or a
    cancellation recorded since.
    """
    cur = conn.execute(
        "UPDATE option_orders SET status = ?, broker_order_id = coalesce(?, broker_order_id), "  # noqa: S608 - fixed status names
        f"detail = ?, updated_at = ? WHERE client_order_id = ? AND status IN ({_UNANSWERED_SQL})",
        [ack.status.value, ack.broker_order_id, ack.detail, ts, ack.client_order_id],
    )
    return cur.rowcount > 0


def cancel_option_order(conn: sqlite3.Connection, client_order_id: str, ts: str) -> bool:
    """Mark an open option order cancelled (the broker dropped it, or reconciliation did).

    True when it was open; a filled, rejected or cancelled order stays as it is.
    """
    cur = conn.execute(
        "UPDATE option_orders SET status = ?, updated_at = ? "  # noqa: S608 - fixed status names
        f"WHERE client_order_id = ? AND status IN ({OPEN_SQL})",
        [OrderStatus.CANCELLED.value, ts, client_order_id],
    )
    return cur.rowcount > 0


def option_order_status(conn: sqlite3.Connection, client_order_id: str) -> OrderStatus | None:
    """The ledger's status of an option order; None when there is no such row."""
    row = conn.execute(
        "SELECT status FROM option_orders WHERE client_order_id = ?", [client_order_id]
    ).fetchone()
    return None if row is None else OrderStatus(row[0])


def open_option_orders(
    conn: sqlite3.Connection, account: str, *, unanswered_only: bool = False
) -> list[StoredOptionOrder]:
    """Option orders of ``account`` still open (unanswered, accepted or partly filled).

    With ``unanswered_only``: the outbox proper, the orders with no broker answer yet
    (``pending``, or ``unknown`` when the answer was lost), for reconciliation to look
    up by client id.
    """
    statuses = _UNANSWERED_SQL if unanswered_only else OPEN_SQL
    rows = conn.execute(
        f"SELECT {_ORDER_COLS} FROM option_orders WHERE account = ? "  # noqa: S608 - fixed names
        f"AND status IN ({statuses}) ORDER BY created_at, rowid",
        [account],
    )
    return [order_from_row(tuple(r)) for r in rows]
