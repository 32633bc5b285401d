"""The real engine process: `python -m invest.runtime.engine` starts, trades, and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from invest.runtime.engine.main import EngineLock
from invest.runtime.errors import InvestError
from invest.runtime.ledger import engine_state as repo
from invest.runtime.ledger import reads
from tests.runtime.engine.support import wait_for_output

CONFIG = """
[accounts.weekly]
strategy = "trend_king"
universe = ["AAPL", "AMD", "BAC", "CVX", "HD", "JPM", "LLY", "MRK", "MSFT", "XOM"]
schedule = "30 16 * * mon-fri"
"""


def test_sigterm_lets_the_cycle_finish_and_the_engine_exits_zero(home: Path) -> None:
    (home / "config.toml").write_text(CONFIG)
    env = {**os.environ, "INVEST_HOME": str(home), "INVEST_CONFIG": str(home / "config.toml")}
    env.pop("INVEST_LOG_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "invest.runtime.engine", "--replay", "2022-06-01", "--tick", "0.05",
         "--monitor-interval", "10800"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines = wait_for_output(proc, 'msg="cycle done"', 30)
    assert any("control socket listening" in line for line in lines)
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    assert 'msg="engine stopped"' in rest
    with closing(reads.connect_readonly(home / "ledger.sqlite")) as conn:
        hb = repo.heartbeat(conn)
        assert hb is not None
        assert hb.stopped_at is not None
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert "cycle done" in (home / "logs" / "invest-engine.log").read_text()
    assert not (home / "engine.sock").exists()


def test_a_second_engine_on_the_same_home_is_refused(home: Path) -> None:
    first = EngineLock(home / "engine.lock")
    first.acquire()
    try:
        with pytest.raises(InvestError, match=f"another engine \\(pid {os.getpid()}\\)"):
            EngineLock(home / "engine.lock").acquire()
    finally:
        first.release()
    again = EngineLock(home / "engine.lock")
    again.acquire()
    again.release()
