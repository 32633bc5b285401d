"""ControlService: every op against a temp ledger, roles, and the flatten confirmation."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.clock import FixedClock, nyse
from invest.runtime.control.api import READ_OPS, TRADER, VIEWER, WRITE_OPS, Request
from invest.runtime.control.service import ControlService
from invest.runtime.domain import HaltState, OrderStatus
from invest.runtime.engine.engine import Engine
from invest.runtime.ledger import engine_state as repo
from tests.runtime.engine.support import drive, make_engine, ny, settings, two_weeks


class Ticker:
    """A monotonic clock the test moves by hand (flatten tokens expire on it)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger after two weeks of both accounts (positions, fills, decisions), built once."""
    home = tmp_path_factory.mktemp("built")
    two_weeks(home)
    return home / "ledger.sqlite"


@pytest.fixture
def world(home: Path, built: Path) -> Iterator[tuple[Engine, ControlService, Ticker]]:
    shutil.copy(built, home / "ledger.sqlite")
    clock = FixedClock(ny("2022-06-14", "18:00"))
    engine, _ = make_engine(home, clock)
    ticker = Ticker()
    service = ControlService(
        home / "ledger.sqlite",
        engine,
        settings=settings(),
        clock=clock,
        wall=clock,
        calendar=nyse,
        monotonic=ticker,
    )
    yield engine, service, ticker
    engine.shutdown()


def ask(
    service: ControlService, op: str, role: str = TRADER, actor: str = "test", **args: Any
) -> dict[str, Any]:
    reply = service.handle(Request(op, args, actor=actor, role=role))
    assert reply.ok, reply.error
    return reply.data


def test_status_shows_each_account_with_equity_halt_last_and_next_cycle(world: Any) -> None:
    _, service, _ = world
    data = ask(service, "status", role=VIEWER)
    daily = next(a for a in data["accounts"] if a["account"] == "daily")
    assert daily["halt"] == "ACTIVE"
    assert daily["equity"] > 0
    assert daily["day"] == "2022-06-14"
    assert daily["last_cycle_id"] == "daily:2022-06-14"
    assert daily["next_cycle"] == ny("2022-06-15", "16:30").isoformat()
    assert data["engine"]["heartbeat"]["pid"] == os.getpid()
    assert data["engine"]["running"]


def test_positions_pnl_trades_and_regime_read_the_ledger(world: Any) -> None:
    _, service, _ = world
    held = ask(service, "positions", account="weekly")["positions"]["weekly"]
    assert held
    assert all(p["price"] > 0 and "unrealised" in p for p in held)
    pnl = ask(service, "pnl", role=VIEWER)["pnl"]
    assert set(pnl) == {"daily", "weekly"}
    assert pnl["weekly"]["equity"] > 0
    trades = ask(service, "trades", role=VIEWER, n=3)["trades"]
    assert len(trades) == 3
    assert trades[0]["client_order_id"].startswith("inv-")
    regime = ask(service, "regime", role=VIEWER)["regime"]
    assert regime["daily"]["regime"] in ("ATTACK", "DEFENSE")


def test_why_explains_the_latest_decision_that_mentions_the_symbol(world: Any) -> None:
    _, service, _ = world
    held = ask(service, "positions", account="weekly")["positions"]["weekly"][0]["symbol"]
    why = ask(service, "why", role=VIEWER, symbol=held.lower())
    assert why["symbol"] == held
    assert held in why["text"]
    assert why["day"] <= "2022-06-14"
    assert "no recent decision" in ask(service, "why", role=VIEWER, symbol="ZZZZ")["text"]


def test_report_and_ping(world: Any) -> None:
    _, service, _ = world
    report = ask(service, "report", role=VIEWER)
    assert report["day"] == "2022-06-14"
    assert "Daily report 2022-06-14" in report["text"]
    assert ask(service, "ping", role=VIEWER)["pong"] is True


def test_a_viewer_may_read_but_never_write(world: Any) -> None:
    _, service, _ = world
    for op in sorted(WRITE_OPS):
        reply = service.handle(Request(op, {"account": "daily"}, actor="telegram:7", role=VIEWER))
        assert not reply.ok
        assert reply.error.startswith(f"denied: {op} needs the trader role")
    assert service.handle(Request("status", actor="telegram:7")).ok  # the default role is viewer
    assert not service.handle(Request("pause", {"account": "daily"})).ok


def test_an_unknown_role_or_op_is_refused(world: Any) -> None:
    _, service, _ = world
    assert not service.handle(Request("status", role="admin")).ok
    assert "unknown op" in service.handle(Request("sudo", role=TRADER)).error
    assert READ_OPS.isdisjoint(WRITE_OPS)


def test_pause_skips_scheduled_cycles_but_monitors_still_run_and_resume_undoes_it(
    world: Any,
) -> None:
    engine, service, _ = world
    ask(service, "pause", account="daily")
    drive(engine, engine.clock, ny("2022-06-16", "18:00"))
    conn = engine.ledger.conn
    assert repo.engine_account(conn, "daily").last_cycle_id == "daily:2022-06-14"
    assert engine.ledger.last_day("daily") == "2022-06-15"  # the monitors marked it
    ask(service, "resume", account="daily")
    drive(engine, engine.clock, ny("2022-06-17", "18:00"))
    assert repo.engine_account(conn, "daily").last_cycle_id == "daily:2022-06-17"


def test_halt_halts_the_engine_and_cancels_open_orders_and_resume_all_lifts_it(world: Any) -> None:
    engine, service, _ = world
    reply = ask(service, "run", account="weekly")  # may leave open orders
    assert reply["day"] == "2022-06-14"
    data = ask(service, "halt", actor="tui")
    conn = engine.ledger.conn
    assert data["halted"] == "engine"
    assert repo.engine_halt(conn) == (HaltState.HALTED, "halted by tui")
    assert not engine.ledger.open_orders("daily")
    assert not engine.ledger.open_orders("weekly")
    status = ask(service, "status")
    assert {a["effective"] for a in status["accounts"]} == {"HALTED"}
    ask(service, "resume_all")
    assert repo.engine_halt(conn)[0] is HaltState.ACTIVE


def test_run_executes_a_cycle_now_and_explains_it(world: Any) -> None:
    _, service, _ = world
    data = ask(service, "run", account="daily")
    assert data["account"] == "daily"
    assert data["text"].startswith("2022-06-14 daily")
    assert not service.handle(Request("run", {}, role=TRADER)).ok  # needs an account


def test_run_is_refused_for_a_halted_account_or_engine_and_marks_nothing(world: Any) -> None:
    engine, service, _ = world
    conn = engine.ledger.conn
    before = repo.engine_account(conn, "daily").last_cycle_id
    ask(service, "halt", account="daily", reason="a test halt")
    reply = service.handle(Request("run", {"account": "daily"}, actor="telegram:1", role=TRADER))
    assert not reply.ok
    assert "daily is HALTED (a test halt)" in reply.error
    assert "invest resume daily" in reply.error
    assert repo.engine_account(conn, "daily").last_cycle_id == before  # no cycle was run
    ask(service, "resume", account="daily")
    ask(service, "halt", reason="engine-wide")
    reply = service.handle(Request("run", {"account": "weekly"}, role=TRADER))
    assert not reply.ok
    assert "the engine is HALTED (engine-wide)" in reply.error
    ask(service, "resume_all")
    assert ask(service, "run", account="daily")["account"] == "daily"


def test_flatten_needs_a_token_from_a_first_call_then_sells_everything(world: Any) -> None:
    engine, service, _ = world
    first = ask(service, "flatten", account="weekly", actor="telegram:42")
    held = {p["symbol"] for p in first["positions"]}
    assert held
    assert first["expires_in_s"] == 60
    assert engine.ledger.load_state("weekly").positions
    done = ask(service, "flatten", account="weekly", actor="telegram:42", confirm=first["confirm"])
    assert {o["symbol"] for o in done["orders"]} == held
    assert repo.account_halt(engine.ledger.conn, "weekly") is HaltState.HALTED
    sells = engine.ledger.open_orders("weekly")
    assert {i.symbol for i, _ in sells} == held
    assert all(i.side.value == "sell" for i, _ in sells)
    drive(engine, engine.clock, ny("2022-06-16", "18:00"))  # the next bar fills them
    assert engine.ledger.load_state("weekly").positions == {}


def test_a_flatten_token_is_single_use_per_actor_and_account_and_expires(world: Any) -> None:
    engine, service, ticker = world
    token = ask(service, "flatten", account="weekly", actor="a")["confirm"]
    assert (
        "another account or actor"
        in service.handle(
            Request("flatten", {"account": "weekly", "confirm": token}, actor="b", role=TRADER)
        ).error
    )
    token = ask(service, "flatten", account="weekly", actor="a")["confirm"]
    ticker.t += 61
    assert (
        "unknown or expired"
        in service.handle(
            Request("flatten", {"account": "weekly", "confirm": token}, actor="a", role=TRADER)
        ).error
    )
    forged = service.handle(
        Request("flatten", {"account": "weekly", "confirmed": True}, actor="a", role=TRADER)
    )
    assert forged.ok
    assert "confirm" in forged.data
    assert engine.ledger.load_state("weekly").positions


def test_write_ops_need_a_running_engine(home: Path) -> None:
    clock = FixedClock(ny("2022-06-01", "08:00"))
    engine, _ = make_engine(home, clock)
    engine.shutdown()
    service = ControlService(
        home / "ledger.sqlite", None, settings=settings(), clock=clock, wall=clock
    )
    assert "engine is not running" in service.handle(Request("halt", role=TRADER)).error
    assert service.handle(Request("status")).ok


def test_every_control_write_leaves_an_audit_event_with_the_actor(world: Any) -> None:
    engine, service, _ = world
    ask(service, "pause", account="daily", actor="telegram:9")
    row = engine.ledger.conn.execute(
        "SELECT detail_json FROM events WHERE kind = 'control' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert '"actor": "telegram:9"' in row[0]
    assert '"op": "pause"' in row[0]
    assert OrderStatus.CANCELLED.value == "cancelled"
