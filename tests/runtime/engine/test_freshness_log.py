"""The engine logs the age of each cycle's last bar, and warns when the data is stale (issue 14)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from invest.runtime.clock import FixedClock

from .support import drive, make_engine, ny

ENGINE_LOG = "invest.runtime.engine.engine"


def _cycle(home: Path, day: str, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    clock = FixedClock(ny(day, "16:00"))
    engine, _ = make_engine(home, clock)
    with caplog.at_level(logging.INFO, logger=ENGINE_LOG):
        drive(engine, clock, ny(day, "17:00"))
    engine.shutdown()
    return [r for r in caplog.records if r.name == ENGINE_LOG]


def test_a_cycle_on_the_sample_years_later_warns_and_says_what_to_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Finding 1: a fresh install trades the bundled sample, whose last bar is 2022-12-28,
    # and the engine logged "no trade" every cycle without a word about the data.
    records = _cycle(tmp_path, "2023-03-01", caplog)
    done = [r for r in records if r.getMessage() == "cycle done"]
    assert done
    assert all(getattr(r, "kv", {})["last_bar"] == "2022-12-28" for r in done)
    assert all(getattr(r, "kv", {})["data_age"] == 42 for r in done)  # 2022-12-29..2023-03-01
    stale = [r for r in records if "data is stale" in r.getMessage()]
    assert {r.getMessage().split(":")[0] for r in stale} == {"daily"}  # weekly: not a Friday
    text = stale[0].getMessage()
    assert stale[0].levelno == logging.WARNING
    assert "the bundled sample: demo data" in text
    assert "last bar 2022-12-28, 42 sessions old (stale)" in text
    assert "yfinance" in text
    assert "alpaca" in text


def test_a_cycle_on_current_data_logs_its_age_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = _cycle(tmp_path, "2022-06-01", caplog)
    done = [r for r in records if r.getMessage() == "cycle done"]
    assert done
    assert getattr(done[0], "kv", {})["last_bar"] == "2022-06-01"
    assert getattr(done[0], "kv", {})["data_age"] == 0
    assert not [r for r in records if "data is stale" in r.getMessage()]
