"""`invest status` (and Telegram's /status, which renders the same reply) shows each
account's data: its source, its last bar and that bar's age in sessions (issue 14)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.clock import FixedClock, nyse
from invest.runtime.config import parse_config
from invest.runtime.control.api import Reply
from invest.runtime.control.status import collect_status, format_status
from invest.runtime.ledger import reads
from invest.runtime.notify.format import format_reply
from tests.runtime.engine.support import config_dict, drive, make_engine, ny, settings


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("eng")
    clock = FixedClock(ny("2022-11-21", "08:00"))
    engine, _ = make_engine(home, clock)
    drive(engine, clock, ny("2022-11-22", "18:00"))
    engine.shutdown()
    return home / "ledger.sqlite"


def _status(ledger: Path, day: str, cfg: Any = None) -> dict[str, Any]:
    now = ny(day, "18:00")
    with closing(reads.connect_readonly(ledger)) as conn:
        return collect_status(conn, cfg or settings(), now=now, wall_now=now, calendar=nyse)


def _daily(data: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in data["accounts"] if a["account"] == "daily")


def test_status_shows_the_last_bar_and_its_age_on_the_sample(ledger: Path) -> None:
    daily = _daily(_status(ledger, "2022-11-22"))
    assert daily["last_bar"] == "2022-11-22"
    assert (daily["data_age"], daily["data_stale"]) == (0, False)
    assert daily["data_source"] == "sample"
    assert daily["demo_data"] is True
    assert daily["data"] == (
        "the bundled sample (demo data): last bar 2022-11-22, 0 sessions old (fresh)"
    )


def test_status_says_stale_and_what_to_do_past_three_sessions(ledger: Path) -> None:
    data = _status(ledger, "2022-11-29")  # Thanksgiving skipped: 23, 25, 28, 29
    daily = _daily(data)
    assert (daily["data_age"], daily["data_stale"]) == (4, True)
    text = format_status(data)
    assert (
        "  data: the bundled sample (demo data): last bar 2022-11-22, 4 sessions old (stale)"
        in (text)
    )
    assert 'set data = "yfinance" or "alpaca"' in text


def test_an_account_not_started_on_the_sample_says_it_runs_on_demo_data(ledger: Path) -> None:
    cfg = config_dict()
    cfg["accounts"]["fresh"] = dict(cfg["accounts"]["daily"])
    data = _status(ledger, "2023-03-01", parse_config(cfg, "test"))
    row = next(a for a in data["accounts"] if a["account"] == "fresh")
    assert row["last_bar"] == "2022-12-28"
    assert row["data_stale"] is True
    assert "fresh: not started (no ledger rows yet)\n  data: the bundled sample (demo data)" in (
        format_status(data)
    )


def test_telegram_status_shows_the_data_line(ledger: Path) -> None:
    text = format_reply(Reply(True, _status(ledger, "2022-11-29")))
    assert (
        "data the bundled sample (demo data): last bar 2022-11-22, 4 sessions old (stale)" in text
    )
