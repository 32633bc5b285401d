"""The engine loop on a fixed clock: cycles, monitors, events, reports, the replay clock."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

from invest.runtime.clock import FixedClock
from invest.runtime.config.engine import Replay
from invest.runtime.control.api import TRADER, Request
from invest.runtime.engine.main import replay_clock
from invest.runtime.ledger import Ledger
from tests.runtime.engine.support import drive, make_engine, ny, options, two_weeks


def test_orders_are_sent_then_filled_at_the_next_bar_and_each_step_is_an_event(home: Path) -> None:
    clock = FixedClock(ny("2022-06-01", "08:00"))
    engine, events = make_engine(home, clock)
    drive(engine, clock, ny("2022-06-07", "18:00"))
    kinds = events.kinds()
    assert "order_sent" in kinds
    assert "order_filled" in kinds
    assert kinds.index("order_sent") < kinds.index("order_filled")
    sent = {e.client_order_id for e in events.events if e.kind == "order_sent"}  # type: ignore[attr-defined]
    filled = {e.client_order_id for e in events.events if e.kind == "order_filled"}  # type: ignore[attr-defined]
    assert filled
    assert filled <= sent
    summaries = [e for e in events.events if e.kind == "cycle_summary"]
    assert summaries
    assert all(e.account in ("daily", "weekly") for e in summaries)
    engine.shutdown()


def test_a_daily_report_follows_each_session_once_and_a_weekly_summary_each_friday(
    home: Path,
) -> None:
    clock = FixedClock(ny("2022-06-01", "08:00"))
    engine, events = make_engine(home, clock)
    drive(engine, clock, ny("2022-06-10", "18:00"))
    reports = [e.day.isoformat() for e in events.events if e.kind == "daily_report"]  # type: ignore[attr-defined]
    assert reports == [
        "2022-06-01",
        "2022-06-02",
        "2022-06-03",
        "2022-06-06",
        "2022-06-07",
        "2022-06-08",
        "2022-06-09",
        "2022-06-10",
    ]
    weeks = [e.week_ending.isoformat() for e in events.events if e.kind == "weekly_summary"]  # type: ignore[attr-defined]
    assert weeks == ["2022-06-03", "2022-06-10"]
    engine.send_reports(clock.now().date())  # a restart at the same moment: not sent twice
    assert len([e for e in events.events if e.kind == "daily_report"]) == len(reports)
    engine.shutdown()


def test_a_position_monitor_sells_on_a_stop_and_says_so(home: Path) -> None:
    clock = two_weeks(home)
    ledger = Ledger(home / "ledger.sqlite")
    state = ledger.load_state("weekly")
    symbol = sorted(state.positions)[0]
    state.positions[symbol].avg_cost *= 3  # bought far higher: the stop-loss is hit
    with ledger.transaction():
        ledger.save_state(state, ledger.last_day("weekly"))
    ledger.close()
    engine, events = make_engine(home, clock)
    drive(engine, clock, ny("2022-06-15", "13:00"))  # the morning monitor only
    stops = [e for e in events.events if e.kind == "stop_triggered"]
    assert [(e.account, e.symbol, e.rule) for e in stops] == [("weekly", symbol, "stop_loss")]  # type: ignore[attr-defined]
    assert any(e.kind == "order_sent" and e.symbol == symbol for e in events.events)  # type: ignore[attr-defined]
    engine.shutdown()


def test_an_unknown_write_op_is_answered_not_raised(home: Path) -> None:
    engine, _ = make_engine(home, FixedClock(ny("2022-06-04")))
    reply = engine.execute(Request("sudo", {}, role=TRADER))
    assert not reply.ok
    assert "unknown write op" in reply.error
    engine.shutdown()


def test_a_restarted_replay_resumes_where_the_last_run_left_its_clock(home: Path) -> None:
    clock = FixedClock(ny("2022-06-01", "08:00"))
    engine, _ = make_engine(home, clock)
    drive(engine, clock, ny("2022-06-03", "18:00"))
    engine._beat(force=True)
    ledger = engine.ledger
    resumed = replay_clock(Replay(start=ny("2022-06-01").date()), ledger)
    assert resumed.now() == clock.now()
    fresh = replay_clock(Replay(start=ny("2022-07-01").date()), ledger)
    assert fresh.now() == ny("2022-07-01", "00:00")
    engine.shutdown()


def test_a_stop_from_a_signal_handler_ends_a_long_replay_tick(home: Path) -> None:
    """A signal handler cannot wake the queue (request_stop(wake=False)); the replay's wait
    is sliced so the loop still sees the stop, not a full tick (60 s at most) later."""
    clock = FixedClock(ny("2022-06-04", "08:00"))  # a Saturday: nothing is due
    opts = options(replay=Replay(start=date(2022, 6, 4), tick_s=60))
    engine, _ = make_engine(home, clock, opts=opts)
    waiter = threading.Thread(target=engine._wait, daemon=True)
    waiter.start()
    engine.request_stop(wake=False)
    waiter.join(timeout=30)  # a bound far below the 60 s tick, not a speed figure
    stuck = waiter.is_alive()
    engine.shutdown()
    assert not stuck, "the replay wait ignored the stop until its tick ended"
