"""Read queries over a ledger connection: the one place that reads the ledger's tables.

Plain functions over a :class:`sqlite3.Connection`, so that ``invest status``
(a Docker HEALTHCHECK), the control service and the TUI read with the standard
library only, on a read-only connection (:func:`connect_readonly`), while the
engine passes its writer's ``Ledger.conn`` inside its own transactions.
:class:`~invest.runtime.ledger.store.Ledger`'s read methods and the TUI's
:class:`~invest.runtime.ledger.views.LedgerReader` use the same queries.

The engine tables arrive with migration 3; on an older ledger the readers answer
with defaults (no marks) instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from invest.runtime.domain import OPEN_SQL, Fill, Side
from invest.runtime.errors import LedgerError
from invest.runtime.ledger.schema import has_engine_tables, has_mark_table, has_option_tables
from invest.runtime.ledger.trades import (
    ClosedTrade,
    PeriodPnl,
    closed_trades,
    period_pnl,
)

__all__ = [
    "DEMO_EVENT",
    "AccountStatusRow",
    "OptionLegRow",
    "OptionMarkRow",
    "OptionPositionRow",
    "PnlRow",
    "ReportRow",
    "TriggerRow",
    "account_names",
    "account_status_row",
    "closed_trade_rows",
    "connect_readonly",
    "daily_report_sent",
    "decision_json",
    "decisions",
    "equity_curve",
    "equity_rows",
    "fill_totals",
    "filled_quantities",
    "flatten_cycles",
    "is_demo",
    "last_cycle",
    "latest_equity_day",
    "latest_regime",
    "marks",
    "missing_ledger",
    "option_counts",
    "option_flatten_cycles",
    "option_marks",
    "option_outcomes",
    "option_positions",
    "order_rows",
    "period_rows",
    "pnl_row",
    "position_quantities",
    "positions",
    "recent_fills",
    "report_row",
    "require_account",
    "trade_fills",
]

#: Event kind that marks a ledger written by ``invest demo``: replayed history, not trading.
DEMO_EVENT = "demo"


def missing_ledger(path: Path) -> LedgerError:
    """The error for a ledger file that does not exist."""
    return LedgerError(f"no ledger at {path}: run `invest demo` or start the engine")


def connect_readonly(path: Path) -> sqlite3.Connection:
    """Open the ledger read-only, rows as :class:`sqlite3.Row` (WAL readers never block the engine).

    Raises:
        LedgerError: there is no ledger at ``path`` or it cannot be opened.
    """
    if not path.exists():
        raise missing_ledger(path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        conn.row_factory = sqlite3.Row
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error as e:
        raise LedgerError(f"cannot open ledger {path}: {e}") from e
    return conn


def _one(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> Any:
    row = conn.execute(sql, args).fetchone()
    return None if row is None else row[0]


# -- accounts, decisions, equity ---------------------------------------------------------------


def account_names(conn: sqlite3.Connection) -> list[str]:
    """Account names in the ledger, sorted."""
    return [str(r[0]) for r in conn.execute("SELECT name FROM accounts ORDER BY name")]


def is_demo(conn: sqlite3.Connection) -> bool:
    """Whether ``invest demo`` wrote this ledger (it carries a ``demo`` event)."""
    row = conn.execute("SELECT 1 FROM events WHERE kind = ? LIMIT 1", (DEMO_EVENT,))
    return row.fetchone() is not None


def decision_json(
    conn: sqlite3.Connection, account: str | None, limit: int, *, with_orders: bool = False
) -> list[str]:
    """The latest explanation records as JSON text (of one account or all), newest first.

    Args:
        with_orders: only the records that placed orders.
    """
    where, args = ("WHERE account = ?", (account,)) if account else ("", ())
    if with_orders:
        where = "WHERE json_array_length(json_extract(record_json, '$.orders')) > 0"
    rows = conn.execute(
        f"SELECT record_json FROM decisions {where} ORDER BY day DESC, id DESC LIMIT ?",  # noqa: S608 - fixed fragments
        (*args, limit),
    )
    return [str(r[0]) for r in rows]


def decisions(conn: sqlite3.Connection, account: str | None, limit: int) -> list[dict[str, Any]]:
    """The latest explanation records (of one account or all), newest first."""
    return [json.loads(r) for r in decision_json(conn, account, limit)]


def last_cycle(conn: sqlite3.Connection, account: str) -> tuple[str, str | None] | None:
    """(day, regime) of the account's latest cycle: its latest decision, monitor runs aside.

    Every cycle writes a decision, whoever ran it (the engine, ``invest run``, the demo),
    so ``invest status`` and the TUI both read this, not the engine's own bookkeeping.
    """
    row = conn.execute(
        "SELECT day, regime FROM decisions WHERE account = ? AND cycle_id NOT LIKE '%:monitor' "
        "ORDER BY day DESC, id DESC LIMIT 1",
        (account,),
    ).fetchone()
    return (row[0], row[1]) if row else None


def latest_regime(conn: sqlite3.Connection, account: str) -> tuple[str, str] | None:
    """(day, regime) of the account's latest decision that names a regime."""
    row = conn.execute(
        "SELECT day, regime FROM decisions WHERE account = ? AND regime IS NOT NULL "
        "ORDER BY day DESC, id DESC LIMIT 1",
        (account,),
    ).fetchone()
    return (row[0], row[1]) if row else None


def equity_curve(conn: sqlite3.Connection, account: str) -> list[tuple[str, float]]:
    """(day, equity) rows of ``account`` in order."""
    return [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT day, equity FROM equity WHERE account = ? ORDER BY day", (account,)
        ).fetchall()
    ]


def equity_rows(
    conn: sqlite3.Connection, account: str, limit: int = 2
) -> list[tuple[str, float, float]]:
    """The last ``limit`` (day, equity, cash) rows of the account, newest first."""
    return [
        (str(r[0]), float(r[1]), float(r[2]))
        for r in conn.execute(
            "SELECT day, equity, cash FROM equity WHERE account = ? ORDER BY day DESC LIMIT ?",
            (account, limit),
        )
    ]


def latest_equity_day(conn: sqlite3.Connection) -> str | None:
    """The latest session any account was marked on (ISO date), or None."""
    day = _one(conn, "SELECT MAX(day) FROM equity")
    return str(day) if day else None


# -- positions, marks, fills, orders -------------------------------------------------------------


def marks(conn: sqlite3.Connection, account: str) -> dict[str, float]:
    """The account's last prices by symbol (empty on an older ledger)."""
    if not has_engine_tables(conn):
        return {}
    rows = conn.execute("SELECT symbol, price FROM marks WHERE account = ?", (account,))
    return {str(r[0]): float(r[1]) for r in rows}


def positions(conn: sqlite3.Connection, account: str) -> list[dict[str, Any]]:
    """The account's holdings with their last price, value and unrealised P&L."""
    last = marks(conn, account)
    out = []
    for sym, qty, cost, opened in conn.execute(
        "SELECT symbol, quantity, avg_cost, opened FROM positions WHERE account = ? ORDER BY symbol",
        (account,),
    ):
        q, c = float(qty), float(cost)
        price = last.get(sym, c)
        out.append(
            {
                "symbol": sym,
                "quantity": qty,
                "avg_cost": round(c, 4),
                "price": round(price, 4),
                "value": round(q * price, 2),
                "unrealised": round(q * (price - c), 2),
                "opened": opened,
            }
        )
    return out


def position_quantities(conn: sqlite3.Connection, account: str) -> dict[str, Decimal]:
    """Quantity of each position of the account, as the positions table holds it."""
    return {
        str(s): Decimal(q)
        for s, q in conn.execute(
            "SELECT symbol, quantity FROM positions WHERE account = ?", (account,)
        )
    }


def fill_totals(conn: sqlite3.Connection, account: str) -> dict[str, Decimal]:
    """Quantity held per symbol according to the fills (buys minus sells); zeros left out."""
    total: dict[str, Decimal] = {}
    for sym, side, qty in conn.execute(
        "SELECT symbol, side, quantity FROM fills WHERE account = ? ORDER BY id", (account,)
    ):
        q = Decimal(qty)
        total[sym] = total.get(sym, Decimal(0)) + (q if side == Side.BUY.value else -q)
    return {s: q for s, q in total.items() if q != 0}


def filled_quantities(conn: sqlite3.Connection, account: str) -> dict[str, Decimal]:
    """Shares filled per client order id of the account (every fill summed)."""
    out: dict[str, Decimal] = {}
    for coid, qty in conn.execute(
        "SELECT client_order_id, quantity FROM fills WHERE account = ?", (account,)
    ):
        out[str(coid)] = out.get(str(coid), Decimal(0)) + Decimal(qty)
    return out


def recent_fills(conn: sqlite3.Connection, account: str | None, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` fills (of one account or all), newest first."""
    where, args = ("WHERE account = ?", (account,)) if account else ("", ())
    cols = "account, day, symbol, side, quantity, price, fees, reason, client_order_id"
    sql = f"SELECT {cols} FROM fills {where} ORDER BY id DESC LIMIT ?"  # noqa: S608 - fixed fragments
    rows = conn.execute(sql, (*args, limit))
    keys = (
        "account",
        "day",
        "symbol",
        "side",
        "quantity",
        "price",
        "fees",
        "reason",
        "client_order_id",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def order_rows(conn: sqlite3.Connection, account: str) -> dict[str, dict[str, Any]]:
    """Every order of the account by client order id: status, symbol, side, quantity, day."""
    rows = conn.execute(
        "SELECT client_order_id, status, symbol, side, quantity, day, cycle_id FROM orders "
        "WHERE account = ?",
        (account,),
    )
    keys = ("status", "symbol", "side", "quantity", "day", "cycle_id")
    return {str(r[0]): dict(zip(keys, r[1:], strict=True)) for r in rows}


def flatten_cycles(conn: sqlite3.Connection, account: str, prefix: str) -> int:
    """How many distinct cycles of the account have orders under cycle ids starting ``prefix``."""
    return int(
        _one(
            conn,
            "SELECT COUNT(DISTINCT cycle_id) FROM orders WHERE account = ? AND cycle_id LIKE ?",
            (account, prefix + "%"),
        )
    )


def daily_report_sent(conn: sqlite3.Connection, day: date) -> bool:
    """Whether the daily report of session ``day`` was sent (its event is in the ledger)."""
    row = conn.execute(
        "SELECT 1 FROM events WHERE kind = 'daily_report' AND json_extract(detail_json, '$.day') = ?",
        (day.isoformat(),),
    ).fetchone()
    return row is not None


# -- status, P&L and reports ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountStatusRow:
    """What ``invest status`` reads of one account besides its halt and engine rows."""

    last_day: str | None
    positions: int
    open_orders: int
    #: An options account's open option positions and open option orders (0 for stocks).
    option_positions: int = 0
    open_option_orders: int = 0


def account_status_row(conn: sqlite3.Connection, account: str) -> AccountStatusRow:
    """The account's last marked session, its position count and its open order count.

    With the option counts too (open option positions, open option orders): an options
    account's stock rows hold only the shares an assignment brought.
    """
    last_day = conn.execute(
        "SELECT last_day FROM account_state WHERE account = ?", (account,)
    ).fetchone()
    count = _one(conn, "SELECT COUNT(*) FROM positions WHERE account = ?", (account,))
    opened = _one(
        conn,
        f"SELECT COUNT(*) FROM orders WHERE account = ? AND status IN ({OPEN_SQL})",  # noqa: S608 - fixed status names
        (account,),
    )
    held, working = option_counts(conn, account)
    return AccountStatusRow(
        last_day[0] if last_day else None, int(count), int(opened), held, working
    )


def option_counts(conn: sqlite3.Connection, account: str) -> tuple[int, int]:
    """The account's open option positions and open option orders ((0, 0) before migration 5)."""
    if not has_option_tables(conn):
        return 0, 0
    held = _one(
        conn,
        "SELECT COUNT(*) FROM option_positions WHERE account = ? AND closed IS NULL",
        (account,),
    )
    working = _one(
        conn,
        f"SELECT COUNT(*) FROM option_orders WHERE account = ? AND status IN ({OPEN_SQL})",  # noqa: S608 - fixed status names
        (account,),
    )
    return int(held), int(working)


def option_flatten_cycles(conn: sqlite3.Connection, account: str, prefix: str) -> int:
    """How many distinct cycles of the account have option orders under ids starting ``prefix``."""
    if not has_option_tables(conn):
        return 0
    return int(
        _one(
            conn,
            "SELECT COUNT(DISTINCT cycle_id) FROM option_orders "
            "WHERE account = ? AND cycle_id LIKE ?",
            (account, prefix + "%"),
        )
    )


@dataclass(frozen=True, slots=True)
class PnlRow:
    """An account's starting cash, realised P&L and equity peak (None: no state row)."""

    start_cash: float
    realised: float | None
    peak_equity: float | None


def pnl_row(conn: sqlite3.Connection, account: str) -> PnlRow:
    """The account's start cash and persisted P&L state.

    Raises:
        TypeError: the account is not in the ledger.
    """
    start = conn.execute("SELECT start_cash FROM accounts WHERE name = ?", (account,)).fetchone()
    state = conn.execute(
        "SELECT realised_pnl, peak_equity FROM account_state WHERE account = ?", (account,)
    ).fetchone()
    return PnlRow(
        float(start[0]),
        float(state[0]) if state else None,
        state[1] if state else None,
    )


@dataclass(frozen=True, slots=True)
class ReportRow:
    """An account's equity at a session against a base, its trades, holdings and regime."""

    equity: float
    before: float
    trades: int
    held: int
    regime: str | None


def report_row(conn: sqlite3.Connection, account: str, day: date, since: date) -> ReportRow:
    """The account at the mark of ``day`` (or the latest before), against the mark before ``since``.

    With no mark, the start cash stands in (0 for an unknown account); the trades
    are the fills from ``since`` to ``day``; the regime is the latest of the last
    five decisions that names one.
    """
    rows = conn.execute(
        "SELECT day, equity FROM equity WHERE account = ? AND day <= ? ORDER BY day DESC LIMIT 1",
        (account, day.isoformat()),
    ).fetchone()
    base = conn.execute(
        "SELECT equity FROM equity WHERE account = ? AND day < ? ORDER BY day DESC LIMIT 1",
        (account, since.isoformat()),
    ).fetchone()
    start = conn.execute("SELECT start_cash FROM accounts WHERE name = ?", (account,)).fetchone()
    equity = float(rows[1]) if rows else float(start[0]) if start else 0.0
    before = float(base[0]) if base else (float(start[0]) if start else equity)
    trades = _one(
        conn,
        "SELECT COUNT(*) FROM fills WHERE account = ? AND day >= ? AND day <= ?",
        (account, since.isoformat(), day.isoformat()),
    )
    held = _one(conn, "SELECT COUNT(*) FROM positions WHERE account = ?", (account,))
    latest = decisions(conn, account, 5)
    regime = next((r.get("regime") for r in latest if r.get("regime")), None)
    return ReportRow(equity, before, int(trades), int(held), regime)


# -- closed trades and per-period P&L ------------------------------------------------------------


def require_account(conn: sqlite3.Connection, account: str) -> str:
    """``account`` when the ledger has it.

    Raises:
        LedgerError: it does not, naming the accounts it has.
    """
    names = account_names(conn)
    if account not in names:
        raise LedgerError(
            f"no account {account!r} in the ledger (accounts: {', '.join(names) or 'none'})"
        )
    return account


def trade_fills(conn: sqlite3.Connection, account: str | None = None) -> list[Fill]:
    """Every fill (of one account or all) in the order recorded; the order's reason when the
    fill has none."""
    where, args = ("WHERE f.account = ?", (account,)) if account else ("", ())
    cols = "f.client_order_id, f.account, f.symbol, f.side, f.quantity, f.price, f.fees, f.day"
    reason = "COALESCE(NULLIF(f.reason, ''), o.reason, '')"
    join = "LEFT JOIN orders o ON o.client_order_id = f.client_order_id"
    sql = f"SELECT {cols}, {reason} FROM fills f {join} {where} ORDER BY f.id"  # noqa: S608 - fixed fragments
    rows = conn.execute(sql, args)
    return [
        Fill(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            Side(r[3]),
            Decimal(r[4]),
            Decimal(r[5]),
            Decimal(r[6]),
            date.fromisoformat(r[7]),
            str(r[8]),
        )
        for r in rows
    ]


def closed_trade_rows(
    conn: sqlite3.Connection, account: str | None = None, limit: int | None = None
) -> list[ClosedTrade]:
    """The closed (and partly closed) trades of one account or all, newest exit first.

    Raises:
        LedgerError: ``account`` is not in the ledger, or its fills sell more than they buy.
    """
    if account:
        require_account(conn, account)
    try:
        trades = closed_trades(trade_fills(conn, account))
    except ValueError as e:
        raise LedgerError(str(e)) from e
    trades.sort(key=lambda t: t.exit_day, reverse=True)  # stable: same day keeps fill order
    return trades if limit is None else trades[: max(limit, 0)]


def period_rows(
    conn: sqlite3.Connection, period: str, account: str | None = None, limit: int | None = None
) -> list[PeriodPnl]:
    """P&L per day, ISO week or month of one account or all, with the portfolio total,
    newest period first (see :func:`~invest.runtime.ledger.trades.period_pnl`).

    Raises:
        LedgerError: ``account`` is not in the ledger.
        ValueError: an unknown ``period``.
    """
    names = [require_account(conn, account)] if account else account_names(conn)
    start = {str(r[0]): float(r[1]) for r in conn.execute("SELECT name, start_cash FROM accounts")}
    curves = {name: equity_curve(conn, name) for name in names}
    return period_pnl(curves, {n: start[n] for n in names}, period, limit)


# -- option positions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OptionLegRow:
    """One leg of an option position: its OCC symbol and contracts held (+ long, - short)."""

    symbol: str
    contracts: int


@dataclass(frozen=True, slots=True)
class OptionPositionRow:
    """An option position as the views show it (``invest trades``, the TUI, Telegram).

    Money is the ledger's ``Decimal``; ``realised`` is premiums in - out + settlement
    - fees once the position is closed, None while it is open.
    """

    account: str
    id: str
    kind: str
    underlying: str
    expiry: str
    legs: tuple[OptionLegRow, ...]
    contracts: int
    opened: str
    open_premium: float
    collateral: Decimal
    reserved: Decimal
    shares_reserved: int
    premium_in: Decimal
    premium_out: Decimal
    settlement: Decimal
    fees: Decimal
    closed: str | None
    outcome: str | None
    realised: Decimal | None

    def legs_text(self) -> str:
        """Legs as ``"-7 KO160617P00035000"`` (contracts held, OCC symbol), space-separated."""
        return " ".join(f"{leg.contracts:+d} {leg.symbol}" for leg in self.legs)

    def closed_dict(self, outcome: str) -> dict[str, Any]:
        """A closed position for JSON (``invest trades --json``, the ``options`` op): money
        as decimal strings, ``outcome`` as :func:`option_outcomes` names it."""
        return {
            "type": "option",
            "account": self.account,
            "id": self.id,
            "kind": self.kind,
            "underlying": self.underlying,
            "legs": self.legs_text(),
            "contracts": self.contracts,
            "opened": self.opened,
            "closed": self.closed,
            "premium_in": str(self.premium_in),
            "premium_out": str(self.premium_out),
            "settlement": str(self.settlement),
            "fees": str(self.fees),
            "realised": str(self.realised),
            "outcome": outcome,
        }


def option_positions(
    conn: sqlite3.Connection, account: str | None = None, *, closed: bool = False
) -> list[OptionPositionRow]:
    """The open option positions (oldest first), or with ``closed`` the closed ones with
    their realised P&L (newest close first), of one account or all.

    Plain SQL and JSON, no options package (numpy): the views read it on the read-only
    connection. An older ledger without the option tables has none.
    """
    if not has_option_tables(conn):
        return []
    where = ["closed IS NOT NULL" if closed else "closed IS NULL"]
    args: tuple[Any, ...] = ()
    if account:
        where.append("account = ?")
        args = (account,)
    order = "closed DESC, opened DESC, rowid DESC" if closed else "opened, rowid"
    rows = conn.execute(
        "SELECT account, id, kind, underlying, expiry, legs_json, contracts, opened, "  # noqa: S608 - fixed fragments
        "open_premium, collateral, reserved, shares_reserved, premium_in, premium_out, "
        f"settlement, fees, closed, outcome FROM option_positions WHERE {' AND '.join(where)} "
        f"ORDER BY {order}",
        args,
    )
    out = []
    for r in rows:
        n = int(r[6])
        legs = tuple(
            OptionLegRow(str(leg["symbol"]), int(leg["quantity"]) * n) for leg in json.loads(r[5])
        )
        p_in, p_out, settled, fees = (Decimal(r[i]) for i in (12, 13, 14, 15))
        out.append(
            OptionPositionRow(
                str(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                str(r[4]),
                legs,
                n,
                str(r[7]),
                float(r[8]),
                Decimal(r[9]),
                Decimal(r[10]),
                int(r[11]),
                p_in,
                p_out,
                settled,
                fees,
                None if r[16] is None else str(r[16]),
                None if r[17] is None else str(r[17]),
                None if r[16] is None else p_in - p_out + settled - fees,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class TriggerRow:
    """How far one exit rule of an open option position is from firing (see options.marks)."""

    rule: str
    at: float | None
    distance: float
    unit: str
    remaining: float

    def text(self) -> str:
        """Short words for a table cell: ``"TP 30.00 away"``, ``"DTE close in 4d"``, ``"stop due"``."""
        name = {"take_profit": "TP", "stop_loss": "stop", "auto_close": "DTE close"}.get(
            self.rule, self.rule
        )
        if self.distance <= 0:
            return f"{name} due"
        if self.unit == "days":
            return f"{name} in {self.distance:.0f}d"
        return f"{name} {self.distance:,.2f} away"


@dataclass(frozen=True, slots=True)
class OptionMarkRow:
    """The latest mark of an open option position (``option_marks``): money at mid, greeks
    of the option legs x contracts x multiplier (theta per day, vega per vol point)."""

    account: str
    position_id: str
    day: str
    kind: str
    underlying: str
    contracts: int
    dte: int
    value: float | None
    unrealised: float | None
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    spot: float | None
    priced: bool
    triggers: tuple[TriggerRow, ...]

    @property
    def nearest(self) -> TriggerRow | None:
        """The trigger with the least of its way left (the one to watch)."""
        return min(self.triggers, key=lambda t: t.remaining, default=None)


def option_marks(conn: sqlite3.Connection, account: str | None = None) -> list[OptionMarkRow]:
    """The latest marks of the open option positions, of one account or all (by account,
    then expiry soonest). An older ledger without the table has none."""
    if not has_mark_table(conn):
        return []
    where, args = ("WHERE account = ?", (account,)) if account else ("", ())
    rows = conn.execute(
        "SELECT account, position_id, day, kind, underlying, contracts, dte, value, unrealised, "  # noqa: S608 - fixed fragments
        "delta, gamma, theta, vega, spot, priced, triggers_json FROM option_marks "
        f"{where} ORDER BY account, dte, position_id",
        args,
    )
    out = []
    for r in rows:
        triggers = tuple(
            TriggerRow(
                str(t["rule"]),
                None if t["at"] is None else float(t["at"]),
                float(t["distance"]),
                str(t["unit"]),
                float(t["remaining"]),
            )
            for t in json.loads(r[15])
        )
        f = [None if r[i] is None else float(r[i]) for i in range(7, 14)]
        out.append(
            OptionMarkRow(
                account=str(r[0]),
                position_id=str(r[1]),
                day=str(r[2]),
                kind=str(r[3]),
                underlying=str(r[4]),
                contracts=int(r[5]),
                dte=int(r[6]),
                value=f[0],
                unrealised=f[1],
                delta=f[2],
                gamma=f[3],
                theta=f[4],
                vega=f[5],
                spot=f[6],
                priced=bool(r[14]),
                triggers=triggers,
            )
        )
    return out


def option_outcomes(conn: sqlite3.Connection, account: str | None = None) -> dict[str, str]:
    """How each closed option position ended, by position id, as the reports name it: the
    closing order's rule (``take_profit``, ``stop_loss``, ``auto_close``, ``roll``,
    ``strategy``), ``expiry``, ``assignment`` or ``called away``."""
    if not has_option_tables(conn):
        return {}
    where, args = ("AND p.account = ?", (account,)) if account else ("", ())
    rows = conn.execute(
        "SELECT p.id, p.kind, p.outcome, "  # noqa: S608 - fixed fragments
        "(SELECT o.rule FROM option_orders o WHERE o.account = p.account "
        "AND o.position_id = p.id AND o.action = 'close' AND o.status = 'filled' "
        "ORDER BY o.updated_at DESC LIMIT 1) "
        f"FROM option_positions p WHERE p.closed IS NOT NULL {where}",
        args,
    )
    out = {}
    for pid, kind, outcome, rule in rows:
        if outcome == "close":
            out[str(pid)] = str(rule or "strategy")
        elif outcome == "expire":
            out[str(pid)] = "expiry"
        elif outcome == "assign":
            out[str(pid)] = "called away" if kind == "covered_call" else "assignment"
        else:
            out[str(pid)] = str(outcome)
    return out
