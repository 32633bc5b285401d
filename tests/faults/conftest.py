"""Shared fixtures of the fault-injection suite.

Each case gets an INVEST_HOME with the example config and a ledger that one real
``invest run`` wrote, runs the faulted command in a child process (bounded by a
timeout, never by a timed assertion) and ends with :func:`assert_safe`: the ledger
passes :func:`check_integrity` and the account the fault hit wrote nothing half-way.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from invest.runtime.cli import main
from invest.runtime.ledger.integrity import check_integrity
from invest.runtime.paths import example_config

CHILD = Path(__file__).with_name("child.py")
#: The account every case trades: on the sample's last bar it buys five names.
ACCOUNT = "defensive-weekly"
_COUNT = "SELECT count(*) FROM {} WHERE account = ?"  # fixed table names only
#: Upper bound of one child command; a hang fails the test instead of the suite.
CHILD_TIMEOUT_S = 180


@dataclass(frozen=True)
class FaultHome:
    """An INVEST_HOME ready for a fault case."""

    home: Path
    config: Path

    @property
    def ledger(self) -> Path:
        """The ledger file."""
        return self.home / "ledger.sqlite"

    def env(self) -> dict[str, str]:
        """The environment of a child command on this home."""
        return {**os.environ, "INVEST_HOME": str(self.home), "INVEST_CONFIG": str(self.config)}

    def child(self, mode: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``child.py mode args...`` on this home, bounded by :data:`CHILD_TIMEOUT_S`."""
        return subprocess.run(
            [sys.executable, str(CHILD), mode, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )

    def counts(self, account: str = ACCOUNT) -> dict[str, int]:
        """Rows of ``account`` in the tables a cycle writes."""
        with sqlite3.connect(f"file:{self.ledger}?mode=ro", uri=True) as conn:
            return {
                t: int(conn.execute(_COUNT.format(t), [account]).fetchone()[0])
                for t in ("orders", "fills", "decisions", "equity")
            }


@pytest.fixture
def fault_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> FaultHome:
    """A home under /tmp (world-traversable, so a dropped uid can read it) with one run done."""
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="invest-fault-"))
    home.chmod(0o755)
    config = home / "config.toml"
    shutil.copy(example_config(), config)
    config.chmod(0o644)
    monkeypatch.setenv("INVEST_HOME", str(home))
    monkeypatch.setenv("INVEST_CONFIG", str(config))
    assert main(["run", "trend-daily"]) == 0
    (home / "ledger.sqlite").chmod(0o644)
    yield FaultHome(home, config)
    home.chmod(0o755)
    shutil.rmtree(home, ignore_errors=True)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``error:`` line a failed command printed (asserts exit 2, no traceback)."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def assert_safe(fh: FaultHome, before: dict[str, int]) -> None:
    """The ledger is sound and the faulted account wrote nothing (its cycle rolled back)."""
    assert check_integrity(fh.ledger) == []
    assert fh.counts() == before
