"""Clocks and the NYSE trading calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from invest.runtime.clock import (
    Clock,
    FixedClock,
    SystemClock,
    TradingCalendar,
    nyse,
)
from invest.runtime.errors import DataError, InvestError

NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return nyse()


# -- clocks ---------------------------------------------------------------------


def test_system_clock_gives_an_aware_utc_time() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert isinstance(SystemClock(), Clock)


def test_fixed_clock_returns_the_time_it_was_given_in_utc() -> None:
    clock = FixedClock(datetime(2022, 11, 25, 9, 30, tzinfo=NY))
    assert clock.now() == datetime(2022, 11, 25, 14, 30, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert clock.now() == clock.now()
    assert isinstance(clock, Clock)


def test_fixed_clock_moves_only_when_advanced_or_set() -> None:
    clock = FixedClock(datetime(2022, 1, 3, tzinfo=UTC))
    assert clock.advance(timedelta(hours=26)) == datetime(2022, 1, 4, 2, tzinfo=UTC)
    assert clock.now() == datetime(2022, 1, 4, 2, tzinfo=UTC)
    clock.advance(timedelta(minutes=-30))
    assert clock.now() == datetime(2022, 1, 4, 1, 30, tzinfo=UTC)
    clock.set(datetime(2030, 6, 1, 12, tzinfo=NY))
    assert clock.now() == datetime(2030, 6, 1, 16, tzinfo=UTC)


def test_fixed_clock_refuses_naive_datetimes() -> None:
    naive = datetime(2022, 1, 3, 12, tzinfo=UTC).replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(naive)
    clock = FixedClock(datetime(2022, 1, 3, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(naive)


# -- calendar: construction -------------------------------------------------------


def test_the_nyse_calendar_is_built_once_per_process(cal: TradingCalendar) -> None:
    assert nyse() is cal
    assert cal.exchange == "XNYS"
    assert cal.start == date(1990, 1, 1)
    assert cal.first_session == date(1990, 1, 2)
    assert cal.end.year >= SystemClock().now().year + 2


def test_a_calendar_with_end_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before its start"):
        TradingCalendar(date(2022, 1, 1), date(2021, 1, 1))


# -- calendar: sessions -------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2022, 12, 26),  # Christmas observed
        date(2022, 7, 4),  # Independence Day
        date(2022, 11, 24),  # Thanksgiving
        date(2022, 12, 24),  # Saturday
        date(2001, 9, 11),  # closed after the attacks, through 2001-09-14
        date(2001, 9, 14),
        date(2012, 10, 29),  # hurricane Sandy
        date(2018, 12, 5),  # national day of mourning (G. H. W. Bush)
    ],
)
def test_holidays_weekends_and_closures_are_not_sessions(cal: TradingCalendar, day: date) -> None:
    assert cal.is_session(day) is False


@pytest.mark.parametrize("day", [date(2022, 12, 27), date(2022, 11, 25), date(2001, 9, 17)])
def test_ordinary_trading_days_are_sessions(cal: TradingCalendar, day: date) -> None:
    assert cal.is_session(day) is True


def test_sessions_lists_trading_days_between_two_dates_inclusive(cal: TradingCalendar) -> None:
    got = cal.sessions(date(2022, 12, 20), date(2023, 1, 3))
    assert got.dtype == np.dtype("datetime64[D]")
    assert [str(d) for d in got] == [
        "2022-12-20",
        "2022-12-21",
        "2022-12-22",
        "2022-12-23",
        "2022-12-27",
        "2022-12-28",
        "2022-12-29",
        "2022-12-30",
        "2023-01-03",
    ]
    assert len(cal.sessions(date(2022, 12, 24), date(2022, 12, 26))) == 0
    assert len(cal.sessions(date(2022, 12, 30), date(2022, 12, 20))) == 0


def test_sessions_are_read_only(cal: TradingCalendar) -> None:
    got = cal.sessions(date(2022, 1, 1), date(2022, 12, 31))
    assert len(got) == 251
    with pytest.raises(ValueError, match="read-only"):
        got[0] = np.datetime64("2000-01-01")


def test_next_and_previous_session_skip_holidays(cal: TradingCalendar) -> None:
    assert cal.next_session(date(2022, 12, 23)) == date(2022, 12, 27)
    assert cal.next_session(date(2022, 12, 25)) == date(2022, 12, 27)
    assert cal.previous_session(date(2022, 12, 27)) == date(2022, 12, 23)
    assert cal.previous_session(date(2022, 7, 4)) == date(2022, 7, 1)
    assert cal.next_session(date(2001, 9, 10)) == date(2001, 9, 17)


def test_numpy_dates_are_accepted(cal: TradingCalendar) -> None:
    assert cal.is_session(np.datetime64("2022-12-26")) is False
    assert cal.next_session(np.datetime64("2022-12-23T15:00")) == date(2022, 12, 27)


def test_a_datetime_is_not_taken_for_a_day(cal: TradingCalendar) -> None:
    with pytest.raises(TypeError, match="expected a date"):
        cal.is_session(datetime(2022, 12, 26, 3, tzinfo=UTC))


# -- calendar: opens, closes, half days ---------------------------------------------


def test_the_day_after_thanksgiving_is_a_half_day_closing_at_13_new_york(
    cal: TradingCalendar,
) -> None:
    day = date(2022, 11, 25)
    assert cal.is_half_day(day) is True
    assert cal.session_close(day) == datetime(2022, 11, 25, 13, tzinfo=NY)
    assert cal.session_close(day).tzinfo is UTC
    assert cal.session_open(day) == datetime(2022, 11, 25, 9, 30, tzinfo=NY)


@pytest.mark.parametrize(
    "day", [date(2022, 11, 28), date(2022, 12, 23), date(2022, 12, 30), date(2022, 7, 1)]
)
def test_ordinary_sessions_are_not_half_days(cal: TradingCalendar, day: date) -> None:
    assert cal.is_half_day(day) is False
    assert cal.session_close(day).astimezone(NY).hour == 16


def test_other_early_closes_are_half_days(cal: TradingCalendar) -> None:
    assert cal.is_half_day(date(2021, 11, 26))  # day after Thanksgiving
    assert cal.is_half_day(date(2019, 7, 3))  # eve of Independence Day
    assert cal.is_half_day(date(2019, 12, 24))  # Christmas Eve


def test_open_and_close_follow_daylight_saving_time_in_utc(cal: TradingCalendar) -> None:
    assert cal.session_open(date(2022, 7, 1)) == datetime(2022, 7, 1, 13, 30, tzinfo=UTC)
    assert cal.session_close(date(2022, 7, 1)) == datetime(2022, 7, 1, 20, tzinfo=UTC)
    assert cal.session_open(date(2022, 12, 1)) == datetime(2022, 12, 1, 14, 30, tzinfo=UTC)
    assert cal.session_close(date(2022, 12, 1)) == datetime(2022, 12, 1, 21, tzinfo=UTC)


def test_open_close_and_half_day_of_a_non_session_are_refused(cal: TradingCalendar) -> None:
    for method in (cal.session_close, cal.session_open, cal.is_half_day):
        with pytest.raises(DataError, match="2022-12-26 is not an XNYS session"):
            method(date(2022, 12, 26))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2022, 11, 28, 14, 29, 59, tzinfo=UTC), False),  # 09:29:59 New York
        (datetime(2022, 11, 28, 14, 30, tzinfo=UTC), True),  # the open
        (datetime(2022, 11, 28, 18, tzinfo=UTC), True),
        (datetime(2022, 11, 28, 20, 59, 59, tzinfo=UTC), True),
        (datetime(2022, 11, 28, 21, tzinfo=UTC), False),  # the close is not open
        (datetime(2022, 11, 29, 3, tzinfo=UTC), False),  # overnight
        (datetime(2022, 11, 25, 17, 59, tzinfo=UTC), True),  # half day, 12:59 New York
        (datetime(2022, 11, 25, 18, 0, tzinfo=UTC), False),  # half day closed at 13:00
        (datetime(2022, 11, 24, 16, tzinfo=UTC), False),  # Thanksgiving
        (datetime(2022, 11, 26, 16, tzinfo=UTC), False),  # Saturday
        (datetime(2022, 7, 1, 13, 30, tzinfo=UTC), True),  # summer open, 09:30 EDT
        (datetime(2022, 7, 1, 20, 0, tzinfo=UTC), False),  # summer close, 16:00 EDT
        (datetime(2022, 11, 28, 10, tzinfo=NY), True),  # any aware timezone works
    ],
)
def test_is_open_at_various_instants(cal: TradingCalendar, at: datetime, expected: bool) -> None:
    assert cal.is_open(at) is expected


def test_is_open_refuses_a_naive_datetime(cal: TradingCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.is_open(datetime(2022, 11, 28, 15, tzinfo=UTC).replace(tzinfo=None))


# -- calendar: out of range ------------------------------------------------------------


def test_dates_outside_the_calendar_give_a_clear_data_error(cal: TradingCalendar) -> None:
    with pytest.raises(DataError, match=r"1985-06-03 is outside the XNYS trading calendar") as e:
        cal.is_session(date(1985, 6, 3))
    assert isinstance(e.value, InvestError)
    assert "1990-01-01.." in str(e.value)
    assert not isinstance(e.value, KeyError)
    far = date(cal.end.year + 5, 1, 2)
    for call in (
        lambda: cal.is_session(far),
        lambda: cal.next_session(far),
        lambda: cal.previous_session(far),
        lambda: cal.session_close(far),
        lambda: cal.sessions(date(2022, 1, 3), far),
        lambda: cal.is_open(datetime(far.year, 1, 2, 15, tzinfo=UTC)),
    ):
        with pytest.raises(DataError, match="outside the XNYS trading calendar"):
            call()


def test_no_session_before_the_first_one_is_a_data_error(cal: TradingCalendar) -> None:
    with pytest.raises(DataError, match="no XNYS session before 1990-01-02"):
        cal.previous_session(date(1990, 1, 2))


def test_a_small_calendar_reports_its_own_range() -> None:
    small = TradingCalendar(date(2022, 1, 1), date(2022, 12, 31))
    assert small.first_session == date(2022, 1, 3)
    assert small.last_session == date(2022, 12, 30)
    assert small.covers(date(2022, 6, 1))
    assert not small.covers(date(2023, 1, 3))
    with pytest.raises(DataError, match="no XNYS session after 2022-12-30"):
        small.next_session(date(2022, 12, 30))
    with pytest.raises(DataError, match=r"covers 2022-01-01\.\.2022-12-31"):
        small.is_session(date(2023, 1, 3))


# -- calendar: the on-disk cache of session arrays -------------------------------------


def _same(a: TradingCalendar, b: TradingCalendar) -> None:
    assert (a.exchange, a.start, a.end) == (b.exchange, b.start, b.end)
    assert np.array_equal(a.sessions(a.start, a.end), b.sessions(b.start, b.end))
    for day in a.sessions(a.start, a.end):
        assert a.session_open(day) == b.session_open(day)
        assert a.session_close(day) == b.session_close(day)
        assert a.is_half_day(day) == b.is_half_day(day)


def test_a_cached_calendar_is_written_once_and_read_back_unchanged(tmp_path: Path) -> None:
    start, end = date(2019, 1, 1), date(2022, 12, 31)
    built = TradingCalendar(start, end)
    first = TradingCalendar.cached(start, end, tmp_path / "cache")
    (cached_file,) = (tmp_path / "cache").glob("calendar-XNYS-2019-01-01-2022-12-31-*.npz")
    stamp = cached_file.stat().st_mtime_ns
    second = TradingCalendar.cached(start, end, tmp_path / "cache")
    assert cached_file.stat().st_mtime_ns == stamp
    _same(built, first)
    _same(built, second)
    assert second.is_half_day(date(2022, 11, 25))


def test_a_broken_cache_file_is_rebuilt_and_an_unwritable_cache_is_harmless(
    tmp_path: Path,
) -> None:
    start, end = date(2022, 1, 1), date(2022, 12, 31)
    TradingCalendar.cached(start, end, tmp_path)
    (cached_file,) = tmp_path.glob("calendar-*.npz")
    cached_file.write_bytes(b"not a numpy archive")
    _same(TradingCalendar(start, end), TradingCalendar.cached(start, end, tmp_path))
    assert cached_file.read_bytes() != b"not a numpy archive"
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    _same(TradingCalendar(start, end), TradingCalendar.cached(start, end, blocker / "cache"))
    assert list(tmp_path.glob(".calendar-*")) == []
