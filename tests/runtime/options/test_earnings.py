"""Earnings blackout: the static calendar, the yfinance calendar on recorded pages, unknown vs none."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from invest.runtime.adapters.yahoo.earnings import YahooEarningsCalendar
from invest.runtime.clock import FixedClock
from invest.runtime.errors import ConfigError
from invest.runtime.options.earnings import (
    EarningsCalendar,
    StaticEarningsCalendar,
    in_blackout,
)
from tests.runtime.adapters.yahoo_support import Replay, ticker_factory

AAPL = StaticEarningsCalendar.from_mapping(
    {"aapl": ["2024-02-01", "2024-05-02", date(2023, 11, 2)], "SPY": []}
)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2024, 4, 24), False),  # 8 days before
        (date(2024, 4, 25), True),  # 7 days before: the window's first day
        (date(2024, 5, 2), True),  # the report's day
        (date(2024, 5, 3), None),  # after the last listed report: unknown
        (date(2024, 3, 1), False),  # between two reports
        (date(2023, 10, 27), True),  # before the first listed report, which is in the window
        (date(2023, 10, 1), None),  # before the listing: unknown
    ],
)
def test_the_blackout_window_of_a_listed_symbol(as_of: date, expected: bool | None) -> None:
    assert in_blackout(AAPL, "AAPL", as_of) is expected


def test_the_window_length_is_a_parameter() -> None:
    assert in_blackout(AAPL, "AAPL", date(2024, 4, 24)) is False
    assert in_blackout(AAPL, "AAPL", date(2024, 4, 24), days=8) is True
    assert in_blackout(AAPL, "AAPL", date(2024, 5, 1), days=0) is False
    with pytest.raises(ConfigError, match="0 or more days, got -1"):
        in_blackout(AAPL, "AAPL", date(2024, 5, 1), days=-1)


def test_a_symbol_absent_is_unknown_and_one_without_reports_never_blacks_out() -> None:
    assert in_blackout(AAPL, "MSFT", date(2024, 3, 1)) is None
    assert AAPL.known("MSFT") is False
    assert AAPL.known("spy") is True
    assert AAPL.next_earnings("SPY", date(2024, 3, 1)) is None
    assert in_blackout(AAPL, "SPY", date(2024, 3, 1)) is False


def test_next_earnings_is_the_first_report_on_or_after_the_day() -> None:
    assert AAPL.next_earnings("aapl", date(2024, 2, 1)) == date(2024, 2, 1)
    assert AAPL.next_earnings("AAPL", date(2024, 2, 2)) == date(2024, 5, 2)
    assert AAPL.next_earnings("AAPL", date(2024, 5, 3)) is None


def test_a_csv_calendar_reads_symbol_date_rows(tmp_path: Path) -> None:
    path = tmp_path / "earnings.csv"
    path.write_text("symbol,date\nmsft,2024-04-25\nMSFT,2024-01-30\nQQQ,\n")
    cal = StaticEarningsCalendar.from_csv(path)
    assert cal.dates == {"MSFT": (date(2024, 1, 30), date(2024, 4, 25)), "QQQ": ()}
    assert in_blackout(cal, "MSFT", date(2024, 4, 20)) is True
    assert in_blackout(cal, "QQQ", date(2024, 4, 20)) is False


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("ticker,when\nMSFT,2024-04-25\n", "the first line must be the header 'symbol,date'"),
        (
            "symbol,date\nMSFT,2024-13-01\n",
            r"line 2: '2024-13-01' is not a date \(write YYYY-MM-DD\)",
        ),
        ("symbol,date\n,2024-04-25\n", "line 2: the symbol is empty"),
    ],
)
def test_a_malformed_csv_says_where_and_what(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "earnings.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        StaticEarningsCalendar.from_csv(path)


def test_a_missing_csv_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the earnings calendar"):
        StaticEarningsCalendar.from_csv(tmp_path / "nope.csv")


# -- yfinance, on a recorded earnings calendar page ---------------------------


def yahoo(replay: Replay, clock: FixedClock | None = None) -> YahooEarningsCalendar:
    return YahooEarningsCalendar(
        ticker_factory=ticker_factory(replay),
        clock=clock or FixedClock(datetime(2024, 4, 22, 14, 0, tzinfo=UTC)),
    )


def test_yahoos_page_gives_the_new_york_report_days() -> None:
    replay = Replay(lambda url: "yahoo_earnings_aapl.html")
    cal: EarningsCalendar = yahoo(replay)
    assert cal.next_earnings("AAPL", date(2024, 4, 22)) == date(2024, 5, 2)
    assert cal.next_earnings("AAPL", date(2023, 8, 4)) == date(2023, 11, 2)
    assert in_blackout(cal, "AAPL", date(2024, 4, 26)) is True
    assert in_blackout(cal, "AAPL", date(2024, 4, 22)) is False
    assert in_blackout(cal, "AAPL", date(2023, 6, 1)) is None  # before Yahoo's rows
    assert in_blackout(cal, "AAPL", date(2024, 8, 2)) is None  # after them
    assert replay.urls == [
        "https://finance.yahoo.com/calendar/earnings?symbol=AAPL&offset=0&size=25"
    ]


def test_answers_are_cached_for_the_new_york_day() -> None:
    replay = Replay(lambda url: "yahoo_earnings_aapl.html")
    clock = FixedClock(datetime(2024, 4, 22, 14, 0, tzinfo=UTC))
    cal = yahoo(replay, clock)
    cal.next_earnings("AAPL", date(2024, 4, 22))
    cal.known("aapl", date(2024, 4, 22))
    assert len(replay.urls) == 1
    clock.advance(timedelta(days=1))
    cal.next_earnings("AAPL", date(2024, 4, 23))
    assert len(replay.urls) == 2


def test_a_symbol_yahoo_lists_nothing_for_is_unknown() -> None:
    cal = yahoo(Replay(lambda url: "yahoo_earnings_none.html"))
    assert cal.known("SPY") is False
    assert in_blackout(cal, "SPY", date(2024, 4, 22)) is None
    assert cal.problem("SPY") is None


def test_a_failed_request_is_unknown_with_the_reason_until_the_retry_time() -> None:
    answers: list[str | Exception] = [ConnectionError("Could not resolve host: finance.yahoo.com")]
    replay = Replay(lambda url: answers.pop(0) if answers else "yahoo_earnings_aapl.html")
    clock = FixedClock(datetime(2024, 4, 22, 14, 0, tzinfo=UTC))
    cal = yahoo(replay, clock)
    assert in_blackout(cal, "AAPL", date(2024, 4, 26)) is None
    assert len(replay.urls) == 1  # one question, one request, one answer
    problem = cal.problem("AAPL")
    assert problem is not None
    assert "Could not resolve host" in problem
    clock.advance(timedelta(minutes=14))
    assert in_blackout(cal, "AAPL", date(2024, 4, 26)) is None
    assert len(replay.urls) == 1
    clock.advance(timedelta(minutes=2))
    assert in_blackout(cal, "AAPL", date(2024, 4, 26)) is True  # asked again, answered
    assert cal.problem("AAPL") is None


def test_the_limit_is_checked() -> None:
    with pytest.raises(ConfigError, match="1 to 100"):
        YahooEarningsCalendar(limit=101)
