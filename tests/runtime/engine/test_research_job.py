"""The engine builds research watchlists on their own schedule, before the cycles."""

from __future__ import annotations

from pathlib import Path

from invest.runtime.clock import FixedClock
from invest.runtime.config import parse_config
from tests.runtime.engine.support import config_dict, drive, make_engine, ny


def test_the_engine_builds_a_research_watchlist_on_its_schedule(tmp_path: Path) -> None:
    data = config_dict()
    data["research"] = {
        "momentum": {
            "symbols": ["AAPL", "MSFT", "KO", "XOM", "JNJ"],
            "schedule": "0 14 * * mon-fri",
        }
    }
    clock = FixedClock(ny("2022-12-27", "09:00"))
    engine, _ = make_engine(tmp_path, clock, cfg=parse_config(data, "test"))
    try:
        drive(engine, clock, ny("2022-12-27", "14:30"))
    finally:
        engine.shutdown()
    files = sorted((tmp_path / "research" / "momentum").glob("*.json"))
    # Built at 14:00 from the last completed session (the day before).
    assert [f.name for f in files] == ["2022-12-23.json"]
