"""run_account_cycle: the one code path of `invest run` and the engine's cycles."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from invest.runtime.domain import HaltState
from invest.runtime.engine.account_cycle import run_account_cycle
from invest.runtime.ledger import Ledger, reads
from invest.runtime.ledger import engine_state as repo
from tests.runtime.engine.support import paths, settings

FRIDAY = date(2022, 6, 3)


def _count(ledger: Ledger, table: str) -> int:
    return int(ledger.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608


def test_a_cycle_records_orders_decision_equity_and_marks_in_one_go(home: Path) -> None:
    ledger = Ledger(home / "ledger.sqlite")
    out = run_account_cycle("weekly", settings(), paths(home), ledger, end=FRIDAY)
    assert out.day == FRIDAY
    assert out.cycle_id == "weekly:2022-06-03"
    assert out.sent
    assert _count(ledger, "orders") == len(out.sent)
    assert out.latest is not None
    assert out.latest["cycle_id"] == out.cycle_id
    assert ledger.last_day("weekly") == "2022-06-03"
    assert ledger.equity_curve("weekly") == [("2022-06-03", 10_000.0)]
    ledger.close()


def test_running_the_same_session_twice_sends_no_second_order(home: Path) -> None:
    ledger = Ledger(home / "ledger.sqlite")
    first = run_account_cycle("weekly", settings(), paths(home), ledger, end=FRIDAY)
    again = run_account_cycle("weekly", settings(), paths(home), ledger, end=FRIDAY)
    assert again.sent == []
    assert again.records == []
    assert _count(ledger, "orders") == len(first.sent)
    assert again.latest == first.latest  # what `invest run` prints the second time
    ledger.close()


def test_the_next_session_fills_the_orders_and_marks_the_holdings(home: Path) -> None:
    ledger = Ledger(home / "ledger.sqlite")
    first = run_account_cycle("weekly", settings(), paths(home), ledger, end=FRIDAY)
    out = run_account_cycle(
        "weekly", settings(), paths(home), ledger, monitor_only=True, end=date(2022, 6, 6)
    )
    assert {f.client_order_id for f in out.fills} == {i.client_order_id for i in first.sent}
    assert set(reads.marks(ledger.conn, "weekly")) == set(ledger.load_state("weekly").positions)
    ledger.close()


def test_a_dry_run_decides_and_writes_nothing(home: Path) -> None:
    ledger = Ledger(home / "ledger.sqlite")
    ledger.close()
    ro = Ledger(home / "ledger.sqlite", readonly=True)
    out = run_account_cycle("weekly", settings(), paths(home), ro, dry_run=True, end=FRIDAY)
    assert out.dry_run
    assert out.sent
    assert out.latest is not None
    assert _count(ro, "orders") == 0
    assert _count(ro, "decisions") == 0
    ro.close()


def test_a_dry_run_without_a_ledger_starts_from_the_configured_cash(home: Path) -> None:
    out = run_account_cycle("daily", settings(), paths(home), None, dry_run=True, end=FRIDAY)
    assert out.state.cash == 10_000
    assert not (home / "ledger.sqlite").exists()


def test_data_that_ends_before_the_last_marked_session_is_not_traded(home: Path) -> None:
    ledger = Ledger(home / "ledger.sqlite")
    run_account_cycle("weekly", settings(), paths(home), ledger, end=FRIDAY)
    out = run_account_cycle("weekly", settings(), paths(home), ledger, end=date(2022, 6, 1))
    assert "before the last session marked" in out.skipped
    assert ledger.last_day("weekly") == "2022-06-03"
    ledger.close()


def test_the_engine_wide_halt_blocks_orders_without_changing_the_account_state(home: Path) -> None:
    ledger = Ledger(home / "ledger.sqlite")
    with ledger.transaction():
        repo.set_engine_halt(ledger.conn, HaltState.HALTED, "test", ledger.ts())
    out = run_account_cycle("weekly", settings(), paths(home), ledger, end=FRIDAY)
    assert out.halt is HaltState.HALTED
    assert out.sent == []
    assert ledger.load_state("weekly").halt is HaltState.ACTIVE
    ledger.close()
