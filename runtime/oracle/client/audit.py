"""The audit trail of one oracle run: every prompt, response, parse result and verdict.

Each record goes to the :class:`~invest.runtime.oracle.store.Store` at once,
and :meth:`AuditTrail.flush` also writes the cycle's records to
``<directory>/<cycle_id>.json`` for people to read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from invest.runtime.oracle.store import AuditRecord, Store, safe_name, write_json_atomic

logger = logging.getLogger(__name__)


class AuditTrail:
    """Collect and persist the audit records of one cycle.

    Args:
        store: where every record is appended.
        cycle_id: the cycle these records belong to.
        account: the account the oracle runs for.
        now: the clock.
        directory: folder for the per-cycle JSON file, or None for none.
    """

    def __init__(
        self,
        store: Store,
        *,
        cycle_id: str,
        account: str,
        now: Callable[[], datetime],
        directory: Path | None = None,
    ) -> None:
        self.store = store
        self.cycle_id = cycle_id
        self.account = account
        self.directory = directory
        self._now = now
        self.records: list[AuditRecord] = []

    def record(self, kind: str, **data: Any) -> AuditRecord:
        """Write one record (``kind`` is prompt, response, parse, error, verdict, ...)."""
        rec = AuditRecord(self.cycle_id, self.account, kind, self._now(), data)
        self.store.audit_append(rec)
        self.records.append(rec)
        return rec

    def flush(self) -> Path | None:
        """Append this trail's records to the cycle's JSON file; return its path.

        A file that cannot be written is logged, not raised: the store already
        holds every record.
        """
        if self.directory is None or not self.records:
            return None
        path = self.directory / f"{safe_name(self.cycle_id)}.json"
        try:
            existing: list[Any] = []
            if path.exists():
                existing = json.loads(path.read_text(encoding="utf-8"))
            write_json_atomic(path, existing + [r.as_dict() for r in self.records])
        except (OSError, ValueError) as e:
            logger.error("could not write oracle audit file %s: %s", path, e)
            return None
        self.records = []
        return path
