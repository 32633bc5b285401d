"""The oracle's :class:`~invest.runtime.oracle.store.Store` over the SQLite ledger.

Tables (ledger migration 4): ``llm_cache`` (answers by prompt hash), ``llm_audit``
(every prompt, response, parse result and verdict, per cycle) and ``llm_usage``
(tokens and cost per account and day). The per-cycle JSON file that people read
is written by :class:`~invest.runtime.oracle.client.audit.AuditTrail` next to it.

Writes join the caller's open transaction (the cycle's, in ``invest run``) and
commit on their own otherwise. A read-only ledger (``invest run --dry-run``)
keeps its writes in memory: the dry run reads cached answers and leaves no trace.

The same migration holds ``exit_plans``: exits the LLM manager set for buys that
have not filled yet (:func:`save_exit_plans`, :func:`load_exit_plans`), so a
restart between the order and its fill keeps them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import sqlite_utils

from invest.runtime.domain import ExitPlan
from invest.runtime.errors import LedgerError
from invest.runtime.oracle.store import (
    AuditRecord,
    JsonDict,
    MemoryStore,
    UsageTotals,
    to_jsonable,
)

TABLES = ("llm_cache", "llm_audit", "llm_usage", "exit_plans")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _database(db: sqlite_utils.Database | sqlite3.Connection) -> sqlite_utils.Database:
    return db if isinstance(db, sqlite_utils.Database) else sqlite_utils.Database(db)


def _dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"))


def _check_schema(db: sqlite_utils.Database) -> None:
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [t for t in TABLES if t not in names]
    if missing:
        raise LedgerError(
            f"the ledger has no {', '.join(missing)} table: open it once with the engine "
            "(or `invest run`) to apply the schema migrations"
        )


class LedgerOracleStore:
    """A :class:`~invest.runtime.oracle.store.Store` in the ledger's SQLite file.

    Args:
        db: the ledger's database (``Ledger.db``) or a raw connection to it.
        readonly: keep writes in memory (reads see them, the file never does).
        now: the clock, for the ``created`` and ``ts`` columns of new rows.

    Raises:
        LedgerError: the ledger predates the oracle tables (not migrated).
    """

    def __init__(
        self,
        db: sqlite_utils.Database | sqlite3.Connection,
        *,
        readonly: bool = False,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.db = _database(db)
        _check_schema(self.db)
        self._now = now
        self._overlay = MemoryStore() if readonly else None

    def cache_get(self, key: str) -> JsonDict | None:
        """The cached answer stored under a prompt hash, or None."""
        if self._overlay is not None and (hit := self._overlay.cache_get(key)) is not None:
            return hit
        row = self.db.execute("SELECT json FROM llm_cache WHERE key = ?", [key]).fetchone()
        if row is None:
            return None
        value: JsonDict = json.loads(row[0])
        return value

    def cache_put(self, key: str, value: JsonDict) -> None:
        """Store an answer under a prompt hash (last write wins)."""
        if self._overlay is not None:
            self._overlay.cache_put(key, value)
            return
        self.db.execute(
            "INSERT OR REPLACE INTO llm_cache (key, json, created) VALUES (?, ?, ?)",
            [key, _dumps(value), self._ts()],
        )

    def audit_append(self, record: AuditRecord) -> None:
        """Append one audit record."""
        if self._overlay is not None:
            self._overlay.audit_append(record)
            return
        self.db.execute(
            "INSERT INTO llm_audit (cycle_id, account, ts, kind, json) VALUES (?, ?, ?, ?, ?)",
            [
                record.cycle_id,
                record.account,
                record.at.isoformat(),
                record.kind,
                _dumps(record.data),
            ],
        )

    def audit_records(self, cycle_id: str) -> list[AuditRecord]:
        """All audit records of a cycle, in the order they were written."""
        rows = self.db.execute(
            "SELECT cycle_id, account, ts, kind, json FROM llm_audit WHERE cycle_id = ? ORDER BY id",
            [cycle_id],
        ).fetchall()
        out = [
            AuditRecord(r[0], r[1], r[3], datetime.fromisoformat(r[2]), json.loads(r[4]))
            for r in rows
        ]
        if self._overlay is not None:
            out += self._overlay.audit_records(cycle_id)
        return out

    def usage_add(self, account: str, day: date, tokens: int, cost_usd: float) -> None:
        """Add spent tokens and cost to an account's day."""
        if self._overlay is not None:
            self._overlay.usage_add(account, day, tokens, cost_usd)
            return
        self.db.execute(
            "INSERT INTO llm_usage (account, day, tokens, cost_usd) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account, day) DO UPDATE SET "
            "tokens = tokens + excluded.tokens, cost_usd = cost_usd + excluded.cost_usd",
            [account, day.isoformat(), int(tokens), float(cost_usd)],
        )

    def usage_get(self, account: str, day: date) -> UsageTotals:
        """Tokens and cost an account spent on a day."""
        row = self.db.execute(
            "SELECT tokens, cost_usd FROM llm_usage WHERE account = ? AND day = ?",
            [account, day.isoformat()],
        ).fetchone()
        saved = UsageTotals() if row is None else UsageTotals(int(row[0]), float(row[1]))
        if self._overlay is None:
            return saved
        extra = self._overlay.usage_get(account, day)
        return UsageTotals(saved.tokens + extra.tokens, saved.cost_usd + extra.cost_usd)

    def usage_days(self, account: str) -> list[tuple[date, UsageTotals]]:
        """Every day ``account`` spent tokens on, oldest first (for reports and the TUI)."""
        rows = self.db.execute(
            "SELECT day, tokens, cost_usd FROM llm_usage WHERE account = ? ORDER BY day",
            [account],
        ).fetchall()
        return [(date.fromisoformat(r[0]), UsageTotals(int(r[1]), float(r[2]))) for r in rows]

    def audit_cycles(self, account: str, limit: int = 50) -> list[str]:
        """The latest cycle ids with audit records for ``account``, newest first."""
        rows = self.db.execute(
            "SELECT cycle_id FROM llm_audit WHERE account = ? GROUP BY cycle_id "
            "ORDER BY MAX(id) DESC LIMIT ?",
            [account, limit],
        ).fetchall()
        return [r[0] for r in rows]

    def _ts(self) -> str:
        return self._now().isoformat(timespec="seconds")


def save_exit_plans(
    db: sqlite_utils.Database | sqlite3.Connection, account: str, plans: Mapping[str, ExitPlan]
) -> None:
    """Replace ``account``'s pending exit plans (call inside the cycle's transaction)."""
    database = _database(db)
    database.execute("DELETE FROM exit_plans WHERE account = ?", [account])
    for symbol, plan in sorted(plans.items()):
        database.execute(
            "INSERT INTO exit_plans (account, symbol, stop_loss_pct, take_profit_pct, "
            "time_stop_days) VALUES (?, ?, ?, ?, ?)",
            [account, symbol, plan.stop_loss_pct, plan.take_profit_pct, plan.time_stop_days],
        )


def load_exit_plans(
    db: sqlite_utils.Database | sqlite3.Connection, account: str
) -> dict[str, ExitPlan]:
    """``account``'s pending exit plans (symbol -> plan); empty when there are none."""
    rows = (
        _database(db)
        .execute(
            "SELECT symbol, stop_loss_pct, take_profit_pct, time_stop_days FROM exit_plans "
            "WHERE account = ? ORDER BY symbol",
            [account],
        )
        .fetchall()
    )
    return {r[0]: ExitPlan(r[1], r[2], r[3]) for r in rows}
