"""Finding 7: a full disk, a read-only home or a locked ledger is one clear line, never a traceback.

Each case runs ``invest run`` in a child process under the fault and ends with the
ledger's integrity check and the account's rows unchanged: the cycle rolled back.
"""

from __future__ import annotations

import sqlite3

from tests.faults.conftest import ACCOUNT, FaultHome, assert_safe, one_line_error


def test_a_full_disk_mid_cycle_is_one_line_and_rolls_back(fault_home: FaultHome) -> None:
    before = fault_home.counts()
    proc = fault_home.child("fsize", "8192", "run", ACCOUNT)
    line = one_line_error(proc)
    assert "is full" in line, line
    assert "free space" in line, line
    assert_safe(fault_home, before)


def test_a_read_only_home_is_one_line_that_does_not_advise_a_restore(
    fault_home: FaultHome,
) -> None:
    before = fault_home.counts()
    proc = fault_home.child("readonly", "run", ACCOUNT)
    line = one_line_error(proc)
    assert "is read-only" in line, line
    assert "do not restore a backup" in line, line
    assert_safe(fault_home, before)


def test_a_ledger_locked_by_another_writer_is_one_line(fault_home: FaultHome) -> None:
    before = fault_home.counts()
    holder = sqlite3.connect(fault_home.ledger, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        proc = fault_home.child("plain", "run", ACCOUNT)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    line = one_line_error(proc)
    assert "locked by another writer" in line, line
    assert_safe(fault_home, before)
