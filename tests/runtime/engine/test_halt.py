"""Halt states: automatic trips, persistence across restarts, and resume (invariant 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from invest.runtime.clock import FixedClock
from invest.runtime.config.engine import HaltRules
from invest.runtime.control.api import TRADER, Request
from invest.runtime.domain import HaltState, worst
from invest.runtime.engine.account_cycle import run_account_cycle
from invest.runtime.engine.halt import Failures, classify, loss_trip
from invest.runtime.errors import DataUnavailableError, TemporaryBrokerError
from invest.runtime.ledger import Ledger
from invest.runtime.ledger import engine_state as repo
from tests.runtime.engine.support import (
    FailingData,
    drive,
    make_engine,
    ny,
    options,
    paths,
    settings,
)

RULES = HaltRules()


def test_an_account_trades_under_the_worse_of_its_own_and_the_engine_state() -> None:
    assert worst(HaltState.ACTIVE, HaltState.REDUCING) is HaltState.REDUCING
    assert worst(HaltState.HALTED, HaltState.ACTIVE) is HaltState.HALTED
    assert worst() is HaltState.ACTIVE


def test_a_daily_loss_past_the_limit_trips() -> None:
    assert loss_trip(RULES, 9_400.0, 10_000.0, 10_000.0) == "daily loss 6.0% >= 5.0%"
    assert loss_trip(RULES, 9_600.0, 10_000.0, 10_000.0) is None


def test_a_drawdown_past_the_limit_trips_even_without_a_daily_loss() -> None:
    why = loss_trip(RULES, 6_900.0, 6_950.0, 10_000.0)
    assert why is not None
    assert why.startswith("drawdown 31.0%")


def test_failures_of_each_kind_trip_their_own_limit() -> None:
    f = Failures()
    for _ in range(2):
        f = f.add("errors")
    assert f.trip(RULES) is None
    assert f.add("errors").trip(RULES) == "3 cycles failed in a row (limit 3)"
    outages = Failures(data_outages=RULES.max_data_outages - 1).add("data_outages")
    assert outages.trip(RULES) is not None
    assert "data outages" in (outages.trip(RULES) or "")


def test_errors_are_classified_by_type() -> None:
    assert classify(DataUnavailableError("x")) == "data_outages"
    assert classify(TemporaryBrokerError("x")) == "broker_outages"
    assert classify(RuntimeError("x")) == "errors"


def test_three_failing_cycles_in_a_row_halt_the_account_and_alert(home: Path) -> None:
    bad = FailingData(RuntimeError("boom"))
    clock = FixedClock(ny("2022-06-06", "08:00"))
    engine, events = make_engine(home, clock, sources=lambda spec: bad)
    for _ in range(3):
        assert engine.run_account("daily")[0] is None
    conn = engine.ledger.conn
    assert repo.account_halt(conn, "daily") is HaltState.HALTED
    assert "3 cycles failed in a row" in repo.halt_reason(conn, "daily")
    assert events.kinds().count("error") == 3
    assert "halted" in events.kinds()
    assert repo.account_halt(conn, "weekly") is HaltState.ACTIVE
    engine.shutdown()


def test_a_data_outage_trips_only_after_its_own_limit(home: Path) -> None:
    bad = FailingData(DataUnavailableError("provider down"))
    clock = FixedClock(ny("2022-06-06", "08:00"))
    opts = options(halt=HaltRules(max_data_outages=4))
    engine, _ = make_engine(home, clock, opts=opts, sources=lambda spec: bad)
    conn = engine.ledger.conn
    for _ in range(3):
        engine.run_account("daily")
    assert repo.account_halt(conn, "daily") is HaltState.ACTIVE
    assert repo.engine_account(conn, "daily").data_outages == 3
    engine.run_account("daily")
    assert repo.account_halt(conn, "daily") is HaltState.HALTED
    engine.shutdown()


def test_a_successful_cycle_resets_the_failure_counts(home: Path) -> None:
    calls = {"n": 0}
    from invest.runtime.data.sample import SampleData

    def flaky(spec: str) -> object:
        calls["n"] += 1
        return FailingData(DataUnavailableError("down")) if calls["n"] == 1 else SampleData()

    clock = FixedClock(ny("2022-06-06", "08:00"))
    engine, _ = make_engine(home, clock, sources=flaky)  # type: ignore[arg-type]
    engine.run_account("daily")
    assert repo.engine_account(engine.ledger.conn, "daily").data_outages == 1
    engine._sources.clear()  # the next cycle opens the source again: now it works
    assert engine.run_account("daily")[0] is not None
    assert repo.engine_account(engine.ledger.conn, "daily").data_outages == 0
    engine.shutdown()


def test_a_daily_loss_halts_the_account_in_the_cycle_transaction(home: Path) -> None:
    ledger = Ledger(home / "ledger.sqlite")
    cfg = settings()
    ledger.ensure_account("daily", cfg.account("daily"))
    with ledger.transaction():
        ledger.record_equity("daily", "2022-06-02", 20_000.0, 20_000.0)  # yesterday: double
    out = run_account_cycle(
        "daily", cfg, paths(home), ledger, end=ny("2022-06-03").date(), rules=RULES
    )
    assert out.tripped.startswith("daily loss 50.0%")
    assert ledger.load_state("daily").halt is HaltState.HALTED
    assert repo.halt_reason(ledger.conn, "daily").startswith("daily loss")
    ledger.close()


def _orders(engine_home: Path) -> int:
    ledger = Ledger(engine_home / "ledger.sqlite", readonly=True)
    n = int(ledger.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
    ledger.close()
    return n


def test_a_restart_while_halted_stays_halted_and_sends_no_order(home: Path) -> None:
    clock = FixedClock(ny("2022-06-01", "08:00"))
    engine, _ = make_engine(home, clock)
    reply = engine.execute(Request("halt", {}, actor="test", role=TRADER))
    assert reply.ok
    engine.shutdown()

    engine, _events = make_engine(home, clock)  # the restart
    conn = engine.ledger.conn
    assert repo.engine_halt(conn) == (HaltState.HALTED, "halted by test")
    drive(engine, clock, ny("2022-06-10", "18:00"))  # a week and a half of cycles
    assert repo.engine_halt(conn)[0] is HaltState.HALTED
    assert _orders(home) == 0
    rec = engine.ledger.decisions("weekly", 1)[0]
    assert any(c["rule"] == "halt" for c in rec["clamps"])
    engine.shutdown()


def test_an_account_halt_survives_a_restart_too(home: Path) -> None:
    clock = FixedClock(ny("2022-06-01", "08:00"))
    engine, _ = make_engine(home, clock)
    assert engine.execute(Request("halt", {"account": "weekly"}, actor="test", role=TRADER)).ok
    engine.shutdown()
    engine, _ = make_engine(home, clock)
    assert repo.account_halt(engine.ledger.conn, "weekly") is HaltState.HALTED
    assert repo.account_halt(engine.ledger.conn, "daily") is HaltState.ACTIVE
    engine.shutdown()


def test_resume_lifts_the_halt_and_the_account_trades_again(home: Path) -> None:
    clock = FixedClock(ny("2022-06-01", "08:00"))
    engine, events = make_engine(home, clock)
    engine.execute(Request("halt", {}, actor="test", role=TRADER))
    drive(engine, clock, ny("2022-06-03", "18:00"))
    assert _orders(home) == 0
    assert engine.execute(Request("resume_all", {}, actor="test", role=TRADER)).ok
    assert repo.engine_halt(engine.ledger.conn)[0] is HaltState.ACTIVE
    drive(engine, clock, ny("2022-06-10", "18:00"))
    assert _orders(home) > 0
    assert "resumed" in events.kinds()
    engine.shutdown()


def test_resume_rebases_the_drawdown_so_the_account_does_not_trip_again_at_once(home: Path) -> None:
    ledger = Ledger(home / "ledger.sqlite")
    cfg = settings()
    ledger.ensure_account("daily", cfg.account("daily"))
    with ledger.transaction():
        repo.update_engine_account(ledger.conn, "daily", ledger.ts(), trip_peak=20_000.0)
    out = run_account_cycle(
        "daily", cfg, paths(home), ledger, end=ny("2022-06-03").date(), rules=RULES
    )
    assert out.tripped.startswith("drawdown 50.0%")
    ledger.close()

    clock = FixedClock(ny("2022-06-04", "08:00"))
    engine, _ = make_engine(home, clock)
    assert engine.execute(Request("resume", {"account": "daily"}, actor="test", role=TRADER)).ok
    out2, _ = engine.run_account("daily")
    assert out2 is not None
    assert not out2.tripped
    assert repo.account_halt(engine.ledger.conn, "daily") is HaltState.ACTIVE
    engine.shutdown()


@pytest.mark.parametrize("op", ["resume", "pause"])
def test_account_ops_name_a_known_account(home: Path, op: str) -> None:
    engine, _ = make_engine(home, FixedClock(ny("2022-06-04")))
    reply = engine.execute(Request(op, {"account": "nope"}, actor="test", role=TRADER))
    assert not reply.ok
    assert "no account 'nope'" in reply.error
    engine.shutdown()
