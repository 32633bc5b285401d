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
    engine.ledger.conn.execute("PRAGMA busy_timeout = 50")
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


def test_a_cycle_that_met_a_locked_ledger_is_retried_with_backoff_the_same_session(
    tmp_path: Path,
) -> None:
    """The retry comes minutes later (60 s, then 120 s...), not at the next scheduled cycle.

    On main a faulted daily cycle waited for the next day's fire: a locked or full ledger
    at 16:30 lost the day's trading even when it cleared a minute later.
    """
    clock = FixedClock(ny("2022-06-06", "16:29"))
    engine, _ = make_engine(tmp_path, clock)
    engine.ledger.conn.execute("PRAGMA busy_timeout = 50")
    job = next(j for j in engine._jobs if j.kind == "cycle" and j.account == "daily")
    assert job.next_at == ny("2022-06-06", "16:30")
    holder = sqlite3.connect(tmp_path / "ledger.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        clock.set(ny("2022-06-06", "16:30"))
        engine.step(wait=False)  # the cycle meets the lock
        assert engine.faults["daily"] >= 1
        assert job.next_at == ny("2022-06-06", "16:31")
        engine._beat(force=True)  # on main this raised out of the loop (a crash loop)
        assert "locked" in engine.beat_fault
        clock.set(ny("2022-06-06", "16:31"))
        engine.step(wait=False)  # still locked: the wait doubles
        assert job.next_at == ny("2022-06-06", "16:33")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    clock.set(ny("2022-06-06", "16:33"))
    engine.step(wait=False)
    assert "daily" not in engine.faults
    engine._beat(force=True)
    assert engine.beat_fault == ""
    assert job.next_at == ny("2022-06-07", "16:30")  # back on the schedule
    assert engine.ledger.has_decision("daily:2022-06-06")  # the session was traded after all
    engine.shutdown()
    assert check_integrity(tmp_path / "ledger.sqlite") == []


def test_the_retry_never_waits_past_the_next_scheduled_cycle(tmp_path: Path) -> None:
    engine, _ = make_engine(tmp_path, FixedClock(ny("2022-06-06", "08:00")))
    engine.faults["daily"] = 40  # a very long outage: the wait is capped
    now = ny("2022-06-06", "16:30")
    retry = engine.fault_retry_at("daily", now)
    assert retry == now + timedelta(seconds=engine.options.loop.fault_retry_max_s)
    assert engine.fault_retry_at("weekly", now) is None
    engine.shutdown()
