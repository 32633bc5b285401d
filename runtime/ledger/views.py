"""Typed read-only views of the ledger for the TUI: accounts, summaries, the account screen.

The TUI must draw its first frame in under a second, so this module and the
queries it shares with the writer (:mod:`invest.runtime.ledger.reads`) use the
standard library only. The engine is the only writer (invariant 4); this module
opens the file with ``mode=ro``, one short connection per call.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invest.runtime.domain import OPEN_SQL
from invest.runtime.errors import LedgerError
from invest.runtime.ledger import engine_state, reads
from invest.runtime.ledger.schema import has_engine_tables

__all__ = [
    "AccountDetail",
    "AccountInfo",
    "AccountSummary",
    "EngineInfo",
    "LedgerReader",
    "OrderRow",
    "PositionRow",
]

_TABLES = ("accounts", "account_state", "decisions", "equity", "orders", "positions")
_RL_STRATEGIES = ("rl_ensemble", "hybrid")


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """An account row with its persisted state."""

    name: str
    strategy: str
    start_cash: float
    config: dict[str, Any]
    halt: str
    cash: float
    last_day: str | None

    @property
    def model(self) -> str | None:
        """The model pack an RL strategy reads, or None for rules-only strategies."""
        if self.strategy not in _RL_STRATEGIES:
            return None
        return str((self.config.get("rl") or {}).get("pack", "default"))

    @property
    def schedule(self) -> str:
        """The account's cron."""
        return str(self.config.get("schedule", "0 16 * * mon-fri"))

    @property
    def benchmark(self) -> str:
        """The benchmark symbol."""
        return str(self.config.get("benchmark", "SP500"))

    @property
    def data(self) -> str | None:
        """The account's own data source, when it has one."""
        value = self.config.get("data")
        return str(value) if value else None

    @property
    def risk(self) -> str:
        """The risk profile's name."""
        return str(self.config.get("risk", "balanced"))


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """One overview row: the account, its equity and its latest cycle."""

    info: AccountInfo
    equity: float | None = None
    prev_equity: float | None = None
    peak: float | None = None
    first_day: str | None = None
    last_day: str | None = None
    regime: str | None = None
    last_cycle: str | None = None

    @property
    def name(self) -> str:
        """Account name."""
        return self.info.name

    @property
    def day_pnl(self) -> float | None:
        """Equity change since the previous mark."""
        if self.equity is None or self.prev_equity is None:
            return None
        return self.equity - self.prev_equity

    @property
    def day_pnl_pct(self) -> float | None:
        """Equity change since the previous mark, as a fraction."""
        if self.day_pnl is None or not self.prev_equity:
            return None
        return self.day_pnl / self.prev_equity

    @property
    def total_return(self) -> float | None:
        """Equity over the starting cash, minus one."""
        if self.equity is None or not self.info.start_cash:
            return None
        return self.equity / self.info.start_cash - 1

    @property
    def drawdown(self) -> float | None:
        """Distance of the latest equity from its peak (zero or negative)."""
        if self.equity is None or not self.peak:
            return None
        return min(self.equity / self.peak - 1, 0.0)


@dataclass(frozen=True, slots=True)
class PositionRow:
    """A held position as persisted by the engine."""

    symbol: str
    quantity: float
    avg_cost: float
    opened: str
    stop_loss_pct: float | None
    take_profit_pct: float | None
    time_stop_days: int | None


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order the engine sent and has not seen finished."""

    client_order_id: str
    day: str
    symbol: str
    side: str
    quantity: float
    ref_price: float
    reason: str
    status: str


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """What the engine left in the ledger (tables of schema 3; empty on older ledgers)."""

    beat_at: str | None = None
    stopped_at: str | None = None
    halt: str = "ACTIVE"
    reason: str = ""
    paused: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AccountDetail:
    """Everything the account screen shows from the ledger."""

    summary: AccountSummary
    curve: list[tuple[str, float]] = field(default_factory=list)
    positions: list[PositionRow] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)


class LedgerReader:
    """Read-only queries over one ledger file; one short connection per call.

    Args:
        path: the ledger file.

    Raises:
        LedgerError: from every method, when the file is missing or not a ledger.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():
            raise reads.missing_ledger(self.path)
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        except sqlite3.Error as e:
            raise LedgerError(f"cannot open ledger {self.path}: {e}") from e
        conn.row_factory = sqlite3.Row
        try:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            missing = [t for t in _TABLES if t not in names]
            if missing:
                raise LedgerError(
                    f"{self.path} is not an invest ledger (no {', '.join(missing)} table): "
                    "run `invest demo` or start the engine"
                )
            yield conn
        except sqlite3.Error as e:
            raise LedgerError(f"cannot read ledger {self.path}: {e}") from e
        finally:
            conn.close()

    def is_demo(self) -> bool:
        """Whether ``invest demo`` wrote this ledger (False when there is none)."""
        try:
            with self._connect() as conn:
                return reads.is_demo(conn)
        except LedgerError:
            return False

    def accounts(self) -> list[AccountInfo]:
        """Every account with its state, by name."""
        with self._connect() as conn:
            return _accounts(conn)

    def summaries(self) -> list[AccountSummary]:
        """One :class:`AccountSummary` per account, by name."""
        with self._connect() as conn:
            return [_summary(conn, info) for info in _accounts(conn)]

    def detail(self, account: str, decisions: int = 250) -> AccountDetail:
        """The account screen's data for ``account``.

        Raises:
            LedgerError: the account is not in the ledger.
        """
        with self._connect() as conn:
            info = next((a for a in _accounts(conn) if a.name == account), None)
            if info is None:
                raise LedgerError(f"account {account!r} is not in the ledger {self.path}")
            return AccountDetail(
                _summary(conn, info),
                _curve(conn, account),
                _positions(conn, account),
                _orders(conn, account),
                _decisions(conn, account, decisions),
                reads.marks(conn, account),
            )

    def engine(self) -> EngineInfo:
        """The engine's heartbeat, global halt and paused accounts, as last written."""
        with self._connect() as conn:
            if not has_engine_tables(conn):
                return EngineInfo()
            beat_at, stopped_at = engine_state.heartbeat_times(conn)
            halt, reason = engine_state.engine_halt(conn)
            return EngineInfo(
                beat_at, stopped_at, halt.value, reason, engine_state.paused_accounts(conn)
            )

    def recent_trades(self, limit: int = 30) -> list[dict[str, Any]]:
        """The latest explanation records that placed orders, of every account, newest first."""
        with self._connect() as conn:
            return _records(reads.decision_json(conn, None, limit, with_orders=True))

    def equity_curve(self, account: str) -> list[tuple[str, float]]:
        """(day, equity) rows of ``account`` in order."""
        with self._connect() as conn:
            return _curve(conn, account)

    def decisions(self, account: str, limit: int = 50) -> list[dict[str, Any]]:
        """The latest explanation records of ``account``, newest first."""
        with self._connect() as conn:
            return _decisions(conn, account, limit)


def _accounts(conn: sqlite3.Connection) -> list[AccountInfo]:
    rows = conn.execute(
        "SELECT a.name, a.strategy, a.start_cash, a.config_json, s.halt, s.cash, s.last_day "
        "FROM accounts a LEFT JOIN account_state s ON s.account = a.name ORDER BY a.name"
    )
    out = []
    for r in rows:
        try:
            config = json.loads(r["config_json"] or "{}")
        except json.JSONDecodeError:
            config = {}
        out.append(
            AccountInfo(
                r["name"],
                r["strategy"],
                float(r["start_cash"]),
                config if isinstance(config, dict) else {},
                r["halt"] or "ACTIVE",
                float(r["cash"] or 0),
                r["last_day"],
            )
        )
    return out


def _summary(conn: sqlite3.Connection, info: AccountInfo) -> AccountSummary:
    last_two = reads.equity_rows(conn, info.name, 2)
    stats = conn.execute(
        "SELECT MIN(day), MAX(equity) FROM equity WHERE account = ?", [info.name]
    ).fetchone()
    cycle = reads.last_cycle(conn, info.name)
    return AccountSummary(
        info,
        equity=float(last_two[0][1]) if last_two else None,
        prev_equity=float(last_two[1][1]) if len(last_two) > 1 else None,
        peak=float(stats[1]) if stats and stats[1] is not None else None,
        first_day=stats[0] if stats else None,
        last_day=last_two[0][0] if last_two else None,
        regime=cycle[1] if cycle else None,
        last_cycle=cycle[0] if cycle else None,
    )


def _curve(conn: sqlite3.Connection, account: str) -> list[tuple[str, float]]:
    return [(day, float(equity)) for day, equity in reads.equity_curve(conn, account)]


def _positions(conn: sqlite3.Connection, account: str) -> list[PositionRow]:
    rows = conn.execute("SELECT * FROM positions WHERE account = ? ORDER BY symbol", [account])
    return [
        PositionRow(
            r["symbol"],
            float(r["quantity"]),
            float(r["avg_cost"]),
            r["opened"],
            r["stop_loss_pct"],
            r["take_profit_pct"],
            r["time_stop_days"],
        )
        for r in rows
    ]


def _orders(conn: sqlite3.Connection, account: str) -> list[OrderRow]:
    rows = conn.execute(
        f"SELECT * FROM orders WHERE account = ? AND status IN ({OPEN_SQL}) "  # noqa: S608
        "ORDER BY day, created_at",
        [account],
    )
    return [
        OrderRow(
            r["client_order_id"],
            r["day"],
            r["symbol"],
            r["side"],
            float(r["quantity"]),
            float(r["ref_price"]),
            r["reason"],
            r["status"],
        )
        for r in rows
    ]


def _decisions(conn: sqlite3.Connection, account: str, limit: int) -> list[dict[str, Any]]:
    return _records(reads.decision_json(conn, account, limit))


def _records(texts: Iterable[str]) -> list[dict[str, Any]]:
    """The records that parse as JSON objects (a damaged one is skipped, not fatal)."""
    out = []
    for text in texts:
        try:
            rec = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out
