"""`invest demo` never destroys a trading ledger, and real trading never continues a demo's."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from invest.runtime.cli import main
from invest.runtime.config import load_config
from invest.runtime.engine.main import run_engine
from invest.runtime.ledger import Ledger, demo_ledger_at, set_aside_demo
from invest.runtime.paths import Paths, example_config

# The example accounts and the demo's own LLM-gated account (invest.runtime.commands.DEMO_GATED).
DEMO_ACCOUNTS = [
    "defensive-weekly", "gated-daily", "hybrid-daily", "spreads-weekly", "trend-daily",
    "wheel-weekly",
]  # fmt: skip


def _counts(path: Path) -> tuple[list[str], int, int]:
    ledger = Ledger(path, readonly=True)
    try:
        fills = ledger.conn.execute("SELECT count(*) FROM fills").fetchone()[0]
        decisions = ledger.conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
        return ledger.accounts(), fills, decisions
    finally:
        ledger.close()


def _unmark(path: Path, *sql: str) -> None:
    """Remove the demo marker from the ledger at ``path``, then run ``sql`` on it."""
    ledger = Ledger(path)
    try:
        for statement in ("DELETE FROM events WHERE kind = 'demo'", *sql):
            ledger.conn.execute(statement)
        ledger.conn.commit()
    finally:
        ledger.close()


def test_the_demo_rewrites_its_own_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    assert main(["demo", "--quick", "--ledger", str(path)]) == 0
    first = _counts(path)
    assert demo_ledger_at(path)
    assert main(["demo", "--quick", "--ledger", str(path)]) == 0
    assert _counts(path) == first  # rebuilt from scratch, not appended to


def test_the_demo_refuses_to_overwrite_a_trading_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    assert main(["demo", "--quick", "--ledger", str(path)]) == 0
    # Now it is a trading ledger: no marker, and a session of live data after the sample.
    _unmark(
        path,
        "INSERT INTO decisions (account, cycle_id, day, regime, record_json) "
        "VALUES ('trend-daily', 'trend-daily:2026-11-20', '2026-11-20', 'ATTACK', '{}')",
    )
    before = _counts(path)
    capsys.readouterr()

    assert main(["demo", "--quick", "--ledger", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        "is a trading ledger (defensive-weekly, gated-daily, hybrid-daily, spreads-weekly, trend-daily, wheel-weekly)"
        in err
    )
    assert "--ledger PATH" in err
    assert _counts(path) == before  # nothing lost


def test_the_demo_refuses_to_overwrite_a_file_that_is_not_a_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("my notes, not a ledger\n")
    assert main(["demo", "--quick", "--ledger", str(path)]) == 2
    assert "is not a demo ledger" in capsys.readouterr().err
    assert path.read_text() == "my notes, not a ledger\n"


def test_a_real_cycle_sets_the_demo_ledger_aside_and_starts_a_fresh_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = Paths.resolve()
    assert main(["demo", "--quick"]) == 0  # a first-time user's demo: the default ledger
    assert demo_ledger_at(paths.ledger)

    assert main(["run", "--dry-run", "defensive-weekly"]) == 0  # reads nothing of the demo
    assert demo_ledger_at(paths.ledger)

    capsys.readouterr()
    assert main(["run", "defensive-weekly"]) == 0
    moved = paths.ledger.with_name("demo-ledger.sqlite")
    said = "".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "".join(f"The demo's ledger moved to {moved}".split()) in said
    assert _counts(moved)[0] == DEMO_ACCOUNTS  # kept, not deleted
    assert not demo_ledger_at(paths.ledger)
    accounts, fills, _ = _counts(paths.ledger)
    assert accounts == ["defensive-weekly"]  # a fresh ledger: no demo history, no demo fills
    assert fills == 0


def test_set_aside_leaves_a_trading_ledger_and_a_missing_one_alone(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    assert set_aside_demo(path) is None
    Ledger(path).close()
    assert set_aside_demo(path) is None
    assert path.exists()
    assert not path.with_name("demo-ledger.sqlite").exists()


def test_the_engine_sets_the_demo_ledger_aside_before_it_starts() -> None:
    paths = Paths.resolve()
    assert main(["demo", "--quick"]) == 0
    stop = threading.Event()
    stop.set()  # start, then shut down at once
    rc = run_engine(
        load_config(example_config()),
        paths,
        configure_logging=False,
        install_signals=False,
        stop=stop,
    )
    assert rc == 0
    assert demo_ledger_at(paths.ledger.with_name("demo-ledger.sqlite"))
    assert not demo_ledger_at(paths.ledger)
    assert _counts(paths.ledger)[1] == 0  # no demo fills in the engine's ledger


def test_a_ledger_from_an_earlier_demo_without_the_marker_is_rebuilt(tmp_path: Path) -> None:
    # Demos before the marker wrote no `demo` event: only replayed sample history,
    # and no engine heartbeat. Such a ledger is rebuilt; one with later days is not.
    path = tmp_path / "ledger.sqlite"
    assert main(["demo", "--quick", "--ledger", str(path)]) == 0
    _unmark(path)
    assert main(["demo", "--quick", "--ledger", str(path)]) == 0
    assert demo_ledger_at(path)

    _unmark(
        path,
        "INSERT INTO equity (account, day, equity, cash) VALUES ('trend-daily', '2026-11-20', 1, 1)",
    )
    assert main(["demo", "--quick", "--ledger", str(path)]) == 2  # a day of live trading


def test_a_ledger_an_engine_ran_on_is_never_taken_for_an_earlier_demo(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    assert main(["demo", "--quick", "--ledger", str(path)]) == 0
    _unmark(
        path,
        "INSERT INTO engine_heartbeat (id, pid, version, started_at, beat_at, clock_at) "
        "VALUES (1, 1, '0.1.0', 't', 't', 't')",
    )
    assert main(["demo", "--quick", "--ledger", str(path)]) == 2
