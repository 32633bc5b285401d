"""The TUI's readers: ledger, schedule and control link (`invest web`: test_web.py)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from invest.runtime.control.api import EngineNotRunning, Reply, Request
from invest.runtime.errors import LedgerError
from invest.runtime.ledger.views import LedgerReader
from invest.tui.data.engine import EngineDownError, EngineLink, is_not_running
from invest.tui.data.schedule import next_cycle

from .conftest import NOW, FakeEngine

NY = "America/New_York"


def test_the_reader_summarises_each_account(paths) -> None:
    by_name = {s.name: s for s in LedgerReader(paths.ledger).summaries()}
    s = by_name["defensive-weekly"]
    assert s.equity == pytest.approx(9151.94)
    assert s.day_pnl == pytest.approx(-50.70, abs=0.01)
    assert s.total_return == pytest.approx(9151.94 / 10_000 - 1)
    assert s.drawdown is not None
    assert s.drawdown < 0
    assert (s.regime, s.last_cycle, s.info.halt) == ("DEFENSE", "2022-12-23", "ACTIVE")
    assert by_name["hybrid-daily"].info.model == "default"
    assert by_name["trend-daily"].info.model is None


def test_the_reader_never_writes(paths) -> None:
    before = paths.ledger.read_bytes()
    reader = LedgerReader(paths.ledger)
    reader.summaries()
    reader.detail("trend-daily")
    assert paths.ledger.read_bytes() == before
    assert sorted(p.name for p in paths.home.iterdir()) == ["ledger.sqlite"]


def test_a_missing_or_foreign_file_is_a_clear_ledger_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no ledger at"):
        LedgerReader(tmp_path / "none.sqlite").accounts()
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(LedgerError, match="not an invest ledger"):
        LedgerReader(other).accounts()
    with pytest.raises(LedgerError, match="not in the ledger"):
        LedgerReader(Path(__file__).parents[1] / "fixtures/ledger/demo.sqlite").detail("nope")


def test_the_next_cycle_skips_christmas() -> None:
    friday_evening = datetime(2022, 12, 23, 22, 0, tzinfo=UTC)  # 17:00 in New York
    nxt = next_cycle("30 16 * * mon-fri", NY, friday_evening)
    assert nxt is not None
    assert nxt.isoformat() == "2022-12-27T16:30:00-05:00"  # Monday the 26th is a holiday


def test_a_bad_cron_has_no_next_cycle() -> None:
    assert next_cycle("not a cron", NY, NOW) is None


def test_the_link_reads_the_heartbeat_in_any_of_its_forms() -> None:
    class Beating(FakeEngine):
        def request(self, request: Request) -> Reply:
            super().request(request)
            if request.op == "ping":
                return Reply(True, {"heartbeat": (NOW - timedelta(seconds=90)).isoformat()})
            return Reply(False, error="unknown op")

    status = EngineLink(Beating(), lambda: NOW).status()
    assert status.running
    assert status.heartbeat_age == pytest.approx(90)
    assert status.label == "engine running, heartbeat 90s ago"


def test_no_engine_means_not_running() -> None:
    down = EngineLink(FakeEngine(running=False), lambda: NOW)
    assert down.status().running is False
    assert down.status().label == "engine not running"
    with pytest.raises(EngineDownError):
        down.send("pause", account="x")
    with pytest.raises(EngineDownError, match="no control channel"):
        EngineLink(None, lambda: NOW).send("ping")
    assert is_not_running(ConnectionRefusedError())
    assert is_not_running(EngineNotRunning("x"))
    assert not is_not_running(ValueError())


def test_flatten_sends_the_token_back() -> None:
    engine = FakeEngine()
    reply = EngineLink(engine, lambda: NOW).flatten("trend-daily")
    assert reply.ok
    assert [r.args for r in engine.writes] == [
        {"account": "trend-daily"},
        {"account": "trend-daily", "confirm": "tok-42"},
    ]
    assert {r.actor for r in engine.writes} == {"tui"}


def test_the_header_shows_the_oldest_accounts_data_age_from_the_status_reply() -> None:
    accounts = [
        {"account": "a", "last_bar": "2022-12-27", "data_age": 2, "data_stale": False},
        {
            "account": "b",
            "last_bar": "2022-12-21",
            "data_age": 6,
            "data_stale": True,
            "demo_data": True,
        },
    ]

    class Serving(FakeEngine):
        def request(self, request: Request) -> Reply:
            super().request(request)
            if request.op == "status":
                return Reply(True, {"engine": {"halt": "ACTIVE"}, "accounts": accounts})
            return Reply(True, {})

    status = EngineLink(Serving(), lambda: NOW).status()
    assert status.label == "engine running; data 2022-12-21, 6 sessions old (stale), demo data"
