"""`invest status`: accounts, halt, last and next cycle, heartbeat; the health check for Docker."""

from __future__ import annotations

import argparse
import json
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from invest.runtime.clock import FixedClock, nyse
from invest.runtime.control.status import check_heartbeat, collect_status, format_status
from invest.runtime.engine.cli import add_engine_commands
from invest.runtime.ledger import reads
from tests.runtime.engine.support import drive, make_engine, ny, paths, settings


def test_status_shows_halt_last_and_next_cycle_from_the_cron_on_the_calendar(home: Path) -> None:
    clock = FixedClock(ny("2022-11-21", "08:00"))
    engine, _ = make_engine(home, clock)
    drive(engine, clock, ny("2022-11-22", "18:00"))
    engine.shutdown()
    with closing(reads.connect_readonly(home / "ledger.sqlite")) as conn:
        data = collect_status(
            conn, settings(), now=ny("2022-11-22", "18:00"), wall_now=clock.now(), calendar=nyse
        )
    weekly = next(a for a in data["accounts"] if a["account"] == "weekly")
    assert (
        weekly["next_cycle"] == ny("2022-11-25", "13:30").isoformat()
    )  # Black Friday closes at 13:00
    daily = next(a for a in data["accounts"] if a["account"] == "daily")
    assert daily["last_cycle_id"] == "daily:2022-11-22"
    assert daily["halt"] == "ACTIVE"
    assert data["engine"]["heartbeat"]["stopped_at"] is not None
    text = format_status(data)
    assert "engine: stopped at" in text
    assert "next 2022-11-25 13:30 EST" in text
    # a stock account's line has no option counts (an options account's has)
    (line,) = [x for x in text.splitlines() if x.startswith("weekly:")]
    assert line.endswith(" open orders")


def test_the_health_check_fails_when_the_heartbeat_is_missing_stale_or_stopped(home: Path) -> None:
    ledger = home / "ledger.sqlite"
    ok, line = check_heartbeat(ledger, 60, ny("2022-06-01"))
    assert not ok
    assert "no ledger" in line
    clock = FixedClock(ny("2022-06-01", "08:00"))
    engine, _ = make_engine(home, clock)
    assert check_heartbeat(ledger, 60, clock.now() + timedelta(seconds=30))[0]
    ok, line = check_heartbeat(ledger, 60, clock.now() + timedelta(seconds=90))
    assert not ok
    assert "last heartbeat 90 s ago" in line
    engine.shutdown()
    ok, line = check_heartbeat(ledger, 60, clock.now())
    assert not ok
    assert "stopped" in line


def test_the_status_command_prints_json_and_exits_1_on_a_stale_heartbeat(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FixedClock(ny("2022-06-01", "08:00"))  # long ago: the wall clock makes it stale
    engine, _ = make_engine(home, clock)
    parser = argparse.ArgumentParser()
    add_engine_commands(parser.add_subparsers())
    args = parser.parse_args(["status", "--json"])
    assert args.handler(args, paths(home)) == 0
    data = json.loads(capsys.readouterr().out)
    assert {a["account"] for a in data["accounts"]} == {"daily", "weekly"}
    args = parser.parse_args(["status", "--heartbeat-max-age", "120"])
    assert args.handler(args, paths(home)) == 1
    assert "unhealthy: last heartbeat" in capsys.readouterr().err
    engine.shutdown()
