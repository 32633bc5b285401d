"""Invariant 4, one writer: every process that writes a ledger takes the same lock.

Two ``invest run`` started at once once filled the same five orders twice
(10 fills, positions doubled) and both exited 0; ``invest run`` also wrote the
ledger under an engine started with ``--no-socket``. These tests start real
processes (the lock is ``flock``, per process) and check the ledger with
:func:`check_integrity`.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from invest.runtime.cli import main
from invest.runtime.data.sample import SampleData
from invest.runtime.ledger.integrity import check_integrity
from invest.runtime.ledger.lock import ENGINE, LedgerBusy, WriterLock, holder_of, lock_path
from invest.runtime.paths import example_config
from tests.runtime.engine.support import wait_for_output

#: On the sample's last two sessions this account buys five names, then fills them.
ACCOUNT = "defensive-weekly"
SYMBOLS = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JPM", "LLY", "MRK", "MSFT", "RRC",
           "UNH", "XOM", "JNJ", "KO", "PEP", "PG", "WMT", "SP500"]  # fmt: skip
#: Upper bound of one child process; a hang fails the test instead of the suite.
CHILD_TIMEOUT_S = 180
_COUNT = "SELECT count(*) FROM {} WHERE account = ?"  # fixed table names only

#: A child that imports the CLI, says it is ready, waits for the go file, then runs ``invest``.
_CHILD = """
import sys, time
from pathlib import Path
from invest.runtime.cli import main
import invest.runtime.engine.account_cycle  # noqa: F401  (warm the cycle's imports)
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
deadline = time.monotonic() + 120
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
sys.exit(main(sys.argv[3:]))
"""


def _write_closes(path: Path, drop_last: int) -> None:
    """The sample's closes of :data:`SYMBOLS` as a wide CSV, without its last ``drop_last`` rows."""
    frame = SampleData().load(SYMBOLS)
    n = len(frame.dates) - drop_last
    df = pd.DataFrame({s: frame.close[:n, j] for j, s in enumerate(frame.symbols)})
    df.insert(0, "date", [str(d) for d in frame.dates[:n]])
    df.to_csv(path, index=False)


def _counts(ledger: Path, account: str = ACCOUNT) -> dict[str, int]:
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as conn:
        return {
            t: int(conn.execute(_COUNT.format(t), [account]).fetchone()[0])
            for t in ("orders", "fills", "decisions", "equity")
        }


def _home(tmp_path: Path, extra_config: str = "") -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.toml"
    shutil.copy(example_config(), config)
    if extra_config:
        config.write_text(config.read_text() + extra_config)
    env = {**os.environ, "INVEST_HOME": str(home), "INVEST_CONFIG": str(config)}
    env.pop("INVEST_LOG_DIR", None)
    return home, env


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def test_two_runs_started_at_once_fill_each_order_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, env = _home(tmp_path)
    closes = home / "closes.csv"
    env["INVEST__ENGINE__DATA"] = f"csv:{closes}"
    for k in ("INVEST_HOME", "INVEST_CONFIG", "INVEST__ENGINE__DATA"):
        monkeypatch.setenv(k, env[k])
    _write_closes(closes, drop_last=1)
    assert main(["run", ACCOUNT]) == 0  # five buys, open until the next bar
    ledger = home / "ledger.sqlite"
    assert _counts(ledger)["orders"] == 5
    assert _counts(ledger)["fills"] == 0
    _write_closes(closes, drop_last=0)  # the next bar: the next run fills the five orders

    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(r), str(go), "run", ACCOUNT],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in ready
    ]
    try:
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        while not all(r.exists() for r in ready):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail("the writers did not start: " + repr([p.poll() for p in procs]))
            time.sleep(0.01)
        go.touch()  # both writers start their cycle now
        results = [p.communicate(timeout=CHILD_TIMEOUT_S) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (stdout, stderr) in zip(procs, results, strict=True):
        assert p.returncode == 0, (stdout[-2000:], stderr[-2000:])
        assert "Traceback" not in stderr, stderr[-2000:]

    assert check_integrity(ledger) == []  # one order per id, one fill per order, positions
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as conn:
        per_order = conn.execute(
            "SELECT o.client_order_id, count(f.id) FROM orders o "
            "LEFT JOIN fills f USING (client_order_id) WHERE o.account = ? GROUP BY 1",
            [ACCOUNT],
        ).fetchall()
    assert len(per_order) == 5
    assert all(n == 1 for _, n in per_order), per_order
    assert not lock_path(ledger).read_text()  # released: nobody holds it now
    assert holder_of(ledger) is None


def test_run_is_refused_while_an_engine_without_socket_owns_the_ledger(tmp_path: Path) -> None:
    # No missed cycle to catch up and a replay clock that never reaches a session:
    # the engine holds the ledger and writes no trade of its own. A 1 s tick, not 60:
    # a SIGTERM wakes the replay loop only at its next tick, so 60 made the stop take 60 s.
    home, env = _home(tmp_path, "\n[engine.loop]\nmisfire_grace_s = 0\n")
    engine = subprocess.Popen(
        [sys.executable, "-m", "invest.runtime.engine", "--no-socket", "--replay", "2022-06-04",
         "--replay-until", "2022-06-04", "--tick", "1", "--monitor-interval", "23400"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    ledger = home / "ledger.sqlite"
    try:
        wait_for_output(engine, 'msg="engine started"', CHILD_TIMEOUT_S)
        before = _counts(ledger)
        proc = subprocess.run(
            [sys.executable, "-m", "invest.runtime.cli", "run", ACCOUNT],
            env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False,
        )  # fmt: skip
        line = _one_line_error(proc)
        assert f"the engine (pid {engine.pid}) owns the ledger {ledger}" in line
        assert "no control socket" in line
        assert _counts(ledger) == before == {"orders": 0, "fills": 0, "decisions": 0, "equity": 0}
        assert engine.poll() is None  # the engine was not disturbed
    finally:
        engine.send_signal(signal.SIGTERM)
        try:
            engine.communicate(timeout=CHILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            engine.kill()
            engine.wait()
    assert check_integrity(ledger) == []


def test_demo_is_refused_at_once_while_the_engine_owns_its_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.sqlite"
    with WriterLock(path, ENGINE, socket=True):
        assert main(["demo", "--quick", "--ledger", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"the engine (pid {os.getpid()}) owns the ledger {path}" in err
    assert not path.exists()  # nothing written


def test_a_command_waits_for_another_command_then_names_it() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "ledger.sqlite"
        with WriterLock(path, "invest run"):
            assert holder_of(path) is not None
            with pytest.raises(LedgerBusy, match=f"invest run \\(pid {os.getpid()}\\) is writing"):
                WriterLock(path, "invest demo", wait_s=0.2).acquire()
        with WriterLock(path, "invest demo") as again:  # released: free at once
            assert again.held


def test_a_second_engine_on_the_same_ledger_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    refused = pytest.raises(LedgerBusy, match=f"another engine \\(pid {os.getpid()}\\)")
    with WriterLock(path, ENGINE, socket=False), refused:
        WriterLock(path, ENGINE, wait_s=30).acquire()  # refused without waiting


def test_halt_names_an_engine_without_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVEST_HOME", str(tmp_path))
    with WriterLock(tmp_path / "ledger.sqlite", ENGINE, socket=False):
        assert main(["halt"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"the engine (pid {os.getpid()}) runs without a control socket (--no-socket)" in err[0]
    assert not (tmp_path / "ledger.sqlite").exists()  # halt never writes the ledger itself
