"""Finding 7: a locked ledger pauses the engine's account, alerts once, and never crashes it.

On main the failure count itself could not be written, so the error escaped the
job wrapper (a chained traceback, a crash loop under Supervisor).
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from invest.runtime.clock import FixedClock
from invest.runtime.ledger.integrity import check_integrity
from tests.runtime.engine.support import make_engine, ny


def test_a_locked_ledger_pauses_the_account_alerts_once_and_resumes(tmp_path: Path) -> None:
    clock = FixedClock(ny("2022-06-06", "08:00"))
    engine, events = make_engine(tmp_path, clock)
    engine.ledger.db.conn.execute("PRAGMA busy_timeout = 50")
    holder = sqlite3.connect(tmp_path / "ledger.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for _ in range(3):
            out, why = engine.run_account("daily")
            assert out is None
            assert "locked by another writer" in why
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert events.kinds().count("error") == 1
    assert engine.faults == {"daily": 3}
    clock.set(clock.now() + timedelta(hours=1))
    out, why = engine.run_account("daily")
    assert out is not None, why
    assert engine.faults == {}
    engine.shutdown()
    assert check_integrity(tmp_path / "ledger.sqlite") == []
