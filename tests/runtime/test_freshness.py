"""Data freshness: completed NYSE sessions since the last bar, and the doctor's ``data`` check."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from invest.runtime.clock import FixedClock, TradingCalendar, nyse
from invest.runtime.config import load_config
from invest.runtime.freshness import (
    SAMPLE_LAST_BAR,
    advice,
    check_freshness,
    completed_sessions_since,
    freshness,
)

EXAMPLE = Path(__file__).parents[2] / "runtime" / "examples" / "config.toml"


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return nyse()


def _at(iso: str) -> datetime:
    return FixedClock(datetime.fromisoformat(iso)).now()


def test_a_bar_from_the_last_closed_session_is_zero_sessions_old(cal: TradingCalendar) -> None:
    # Friday 2024-03-15 after the close: Friday's bar is the newest there can be.
    f = freshness(date(2024, 3, 15), _at("2024-03-15T21:00:00+00:00"), cal)
    assert (f.sessions, f.stale, f.level) == (0, False, "fresh")


def test_the_session_still_trading_does_not_count(cal: TradingCalendar) -> None:
    # Monday 2024-03-18 at noon New York: Friday's bar is still current.
    assert completed_sessions_since(date(2024, 3, 15), _at("2024-03-18T16:00:00+00:00"), cal) == 0
    # After Monday's close it is one session behind.
    assert completed_sessions_since(date(2024, 3, 15), _at("2024-03-18T21:00:00+00:00"), cal) == 1


def test_weekends_and_holidays_are_not_sessions(cal: TradingCalendar) -> None:
    # Thursday 2024-03-28 -> Monday 2024-04-01 evening: Good Friday and the weekend skipped.
    assert completed_sessions_since(date(2024, 3, 28), _at("2024-04-01T22:00:00+00:00"), cal) == 1


def test_stale_past_three_sessions(cal: TradingCalendar) -> None:
    last = date(2024, 3, 11)  # Monday
    three = freshness(last, _at("2024-03-14T21:00:00+00:00"), cal)  # Thursday after the close
    four = freshness(last, _at("2024-03-15T21:00:00+00:00"), cal)
    assert (three.sessions, three.stale) == (3, False)
    assert (four.sessions, four.stale) == (4, True)
    assert four.describe() == "last bar 2024-03-11, 4 sessions old (stale)"


def test_the_bundled_sample_is_years_old(cal: TradingCalendar) -> None:
    f = freshness(SAMPLE_LAST_BAR, _at("2025-01-02T22:00:00+00:00"), cal)
    assert f.stale
    # 2022-12-29, 2022-12-30, every session of 2023 and 2024, and 2025-01-02.
    expected = len(cal.sessions(date(2022, 12, 29), date(2025, 1, 2)))
    assert f.sessions == expected


def test_a_future_or_very_old_bar_does_not_raise(cal: TradingCalendar) -> None:
    now = _at("2024-03-15T21:00:00+00:00")
    assert completed_sessions_since(date(2024, 6, 1), now, cal) == 0
    assert completed_sessions_since(date(1980, 1, 1), now, cal) == len(
        cal.sessions(cal.start, date(2024, 3, 15))
    )


def test_sample_last_bar_is_the_bundled_samples_last_session() -> None:
    from invest.runtime.data import open_source

    src = open_source("sample")
    frame = src.load(src.symbols())
    assert frame.dates[-1] == SAMPLE_LAST_BAR


def test_advice_names_a_live_source_for_the_sample() -> None:
    text = advice("sample", SAMPLE_LAST_BAR)
    assert "2022-12-28" in text
    assert "yfinance" in text
    assert "alpaca" in text
    assert "yfinance source has no bar after 2024-03-11" in advice("yfinance", date(2024, 3, 11))


def test_doctor_warns_when_the_example_config_runs_on_the_sample(cal: TradingCalendar) -> None:
    # Finding 1: a fresh install runs on the bundled sample and doctor said OK.
    settings = load_config(EXAMPLE)
    check = check_freshness(settings, None, _at("2025-01-02T22:00:00+00:00"), cal)
    assert check.status == "WARN"
    assert "on the bundled sample (demo data)" in check.detail
    assert "yfinance" in check.fix


def test_doctor_judges_the_last_marked_session_of_a_live_ledger(
    cal: TradingCalendar, tmp_path: Path
) -> None:
    from invest.runtime.config import Settings
    from invest.runtime.ledger import Ledger

    settings = Settings.model_validate(
        {
            "engine": {"data": "yfinance"},
            "accounts": {"a": {"strategy": "trend_king", "universe": ["AAPL"]}},
        }
    )
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.ensure_account("a", settings.accounts["a"])
    with ledger.transaction():
        ledger.conn.execute(
            "INSERT INTO equity (account, day, equity, cash) VALUES ('a', '2024-03-11', 1, 1)"
        )
    fresh = check_freshness(settings, ledger.conn, _at("2024-03-13T21:00:00+00:00"), cal)
    stale = check_freshness(settings, ledger.conn, _at("2024-03-15T21:00:00+00:00"), cal)
    assert fresh.status == "OK"
    assert "2 sessions old (fresh)" in fresh.detail
    assert stale.status == "WARN"
    assert "4 sessions old (stale)" in stale.detail
    assert "yfinance source has no bar after 2024-03-11" in stale.fix


def test_invest_doctor_warns_on_the_installed_example_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Finding 1, through the doctor's own check list: a fresh install said OK.
    from invest.runtime import health, service
    from invest.runtime.layout import Layout

    for key in ("INVEST_CONFIG", "INVEST_HOME", "INVEST_SECRETS", "INVEST_LEDGER"):
        monkeypatch.delenv(key, raising=False)
    layout = Layout.from_env({"INVEST_PREFIX": str(tmp_path)})
    layout.config.parent.mkdir(parents=True)
    layout.config.write_text(EXAMPLE.read_text())
    checks = {c.name: c for c in service.doctor(layout, [lambda: health.settings_checks(layout)])}
    data = checks["data"]
    assert data.status == "WARN", data.line()
    assert "on the bundled sample (demo data): last bar 2022-12-28" in data.detail
    assert "yfinance" in data.fix


def test_check_data_reads_the_ledger_file_read_only(cal: TradingCalendar, tmp_path: Path) -> None:
    from invest.runtime.config import Settings
    from invest.runtime.freshness import check_data
    from invest.runtime.ledger import Ledger

    settings = Settings.model_validate(
        {"accounts": {"a": {"strategy": "trend_king", "universe": ["AAPL"], "data": "alpaca"}}}
    )
    path = tmp_path / "ledger.sqlite"
    now = _at("2024-03-15T21:00:00+00:00")
    assert check_data(settings, path, now, cal).detail == "a: no cycle yet"
    ledger = Ledger(path)
    ledger.ensure_account("a", settings.accounts["a"])
    with ledger.transaction():
        ledger.conn.execute(
            "INSERT INTO equity (account, day, equity, cash) VALUES ('a', '2024-03-14', 1, 1)"
        )
    ledger.close()
    check = check_data(settings, path, now, cal)
    assert check.status == "OK"
    assert check.detail == "a: last bar 2024-03-14, 1 session old (fresh)"
