"""Finding 7: ``invest doctor`` tells a read-only home, a full one and a corrupt ledger apart.

A healthy ledger on a read-only disk must never get the advice to restore a backup
over it; a full home must FAIL even where ``df`` still shows space (a quota, a file
size limit); only a failed integrity check advises the restore.
"""

from __future__ import annotations

from tests.faults.conftest import FaultHome, assert_safe


def _checks(out: str) -> dict[str, str]:
    """The check lines of ``child.py ... doctor-checks``, by check name."""
    lines = [ln for ln in out.splitlines() if ln.startswith(("OK ", "FAIL ", "WARN "))]
    return {ln.split(":")[0].split()[1]: ln for ln in lines}


def test_doctor_names_a_read_only_home_and_does_not_advise_a_restore(
    fault_home: FaultHome,
) -> None:
    before = fault_home.counts()
    proc = fault_home.child("readonly", "doctor-checks")
    assert proc.returncode == 0, proc.stderr[-2000:]
    checks = _checks(proc.stdout)
    assert checks["home"].startswith("FAIL home: home is read-only"), proc.stdout
    assert checks["ledger"].startswith("OK ledger:"), proc.stdout
    assert "restore" not in checks["ledger"], proc.stdout
    assert "do not restore a backup" in checks["home"], proc.stdout
    assert_safe(fault_home, before)


def test_doctor_fails_a_full_home_that_disk_usage_misses(fault_home: FaultHome) -> None:
    before = fault_home.counts()
    proc = fault_home.child("fsize", "8192", "doctor-checks")
    assert proc.returncode == 0, proc.stderr[-2000:]
    checks = _checks(proc.stdout)
    assert checks["home"].startswith("FAIL home:"), proc.stdout
    assert "is full" in checks["home"], proc.stdout
    assert "GiB free" in checks["disk"], proc.stdout
    assert "restore" not in checks["ledger"], proc.stdout
    assert_safe(fault_home, before)


def test_doctor_advises_a_restore_only_for_a_corrupt_ledger(fault_home: FaultHome) -> None:
    for side in ("-wal", "-shm"):  # the fixture's run may leave its WAL behind
        fault_home.ledger.with_name(fault_home.ledger.name + side).unlink(missing_ok=True)
    fault_home.ledger.write_bytes(b"not a database" * 300)  # damaged, on a sound disk
    proc = fault_home.child("plain", "doctor-checks")
    checks = _checks(proc.stdout)
    assert checks["home"].startswith("OK home:"), proc.stdout
    assert checks["ledger"].startswith("FAIL ledger:"), proc.stdout
    assert "restore" in checks["ledger"], proc.stdout
