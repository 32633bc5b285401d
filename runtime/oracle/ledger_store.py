"""The oracle's :class:`~invest.runtime.oracle.store.Store` over the SQLite ledger.

The SQL lives in :mod:`invest.runtime.ledger.llm` (tables ``llm_cache``,
``llm_audit``, ``llm_usage`` of ledger migration 4); this adapter turns its JSON
text into the oracle's types. The per-cycle JSON file that people read is written
by :class:`~invest.runtime.oracle.client.audit.AuditTrail` next to it.

Writes join the caller's open transaction (the cycle's, in ``invest run``) and
commit on their own otherwise. A read-only ledger (``invest run --dry-run``)
keeps its writes in memory: the dry run reads cached answers and leaves no trace.

The exit plans of the same migration are in :mod:`invest.runtime.ledger.exit_plans`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from invest.runtime.clock import utcnow
from invest.runtime.ledger import llm
from invest.runtime.oracle.store import (
    AuditRecord,
    JsonDict,
    MemoryStore,
    UsageTotals,
    to_jsonable,
)


def _dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"))


class LedgerOracleStore:
    """A :class:`~invest.runtime.oracle.store.Store` in the ledger's SQLite file.

    Args:
        conn: the ledger's connection (``Ledger.conn``).
        readonly: keep writes in memory (reads see them, the file never does).
        now: the clock, for the ``created`` and ``ts`` columns of new rows.

    Raises:
        LedgerError: the ledger predates the oracle tables (not migrated).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        readonly: bool = False,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.conn = conn
        llm.check_tables(conn)
        self._now = now
        self._overlay = MemoryStore() if readonly else None

    def cache_get(self, key: str) -> JsonDict | None:
        """The cached answer stored under a prompt hash, or None."""
        if self._overlay is not None and (hit := self._overlay.cache_get(key)) is not None:
            return hit
        text = llm.cache_get(self.conn, key)
        if text is None:
            return None
        value: JsonDict = json.loads(text)
        return value

    def cache_put(self, key: str, value: JsonDict) -> None:
        """Store an answer under a prompt hash (last write wins)."""
        if self._overlay is not None:
            self._overlay.cache_put(key, value)
            return
        llm.cache_put(self.conn, key, _dumps(value), self._ts())

    def audit_append(self, record: AuditRecord) -> None:
        """Append one audit record."""
        if self._overlay is not None:
            self._overlay.audit_append(record)
            return
        llm.audit_append(
            self.conn,
            record.cycle_id,
            record.account,
            record.at.isoformat(),
            record.kind,
            _dumps(record.data),
        )

    def audit_records(self, cycle_id: str) -> list[AuditRecord]:
        """All audit records of a cycle, in the order they were written."""
        rows = llm.audit_rows(self.conn, cycle_id)
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
        llm.usage_add(self.conn, account, day.isoformat(), tokens, cost_usd)

    def usage_get(self, account: str, day: date) -> UsageTotals:
        """Tokens and cost an account spent on a day."""
        row = llm.usage_get(self.conn, account, day.isoformat())
        saved = UsageTotals() if row is None else UsageTotals(*row)
        if self._overlay is None:
            return saved
        extra = self._overlay.usage_get(account, day)
        return UsageTotals(saved.tokens + extra.tokens, saved.cost_usd + extra.cost_usd)

    def usage_days(self, account: str) -> list[tuple[date, UsageTotals]]:
        """Every day ``account`` spent tokens on, oldest first (for reports and the TUI)."""
        rows = llm.usage_days(self.conn, account)
        return [(date.fromisoformat(d), UsageTotals(tokens, cost)) for d, tokens, cost in rows]

    def audit_cycles(self, account: str, limit: int = 50) -> list[str]:
        """The latest cycle ids with audit records for ``account``, newest first."""
        return llm.audit_cycles(self.conn, account, limit)

    def _ts(self) -> str:
        return self._now().isoformat(timespec="seconds")
