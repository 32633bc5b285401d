"""Anonymised prompts and the knowledge-cutoff warning for backtests."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest

from invest.runtime.oracle import CutoffOverlap, cutoff_check
from invest.runtime.oracle.anonymise import days_before, mask_dates, rebase, series_labels


def test_prices_are_rebased_so_the_first_close_is_100() -> None:
    assert rebase([50.0, 55.0, 45.0]) == (100.0, 110.0, 90.0)
    rebased = rebase([math.nan, 20.0, 30.0])
    assert math.isnan(rebased[0])
    assert rebased[1:] == (100.0, 150.0)
    assert rebase([]) == ()


def test_series_are_labelled_relative_to_the_cycle() -> None:
    assert series_labels(3) == ("day -2", "day -1", "day 0")


def test_days_before_counts_calendar_days_in_the_cycle_time_zone() -> None:
    cycle = datetime(2024, 6, 12, 20, tzinfo=UTC)
    assert days_before(datetime(2024, 6, 10, 23, tzinfo=UTC), cycle) == 2
    assert days_before(cycle, cycle) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Apple Q3 2024 results beat", "Apple [year] results beat"),
        ("Fed meets on June 12th as CPI cools", "Fed meets on [date] as CPI cools"),
        ("Filed 2024-06-12, effective 12/06/2024", "Filed [date], effective [date]"),
        ("FY2025 guidance raised", "[year] guidance raised"),
        ("3 Mar deadline", "[date] deadline"),
        ("Sold 2,000 shares at 1999.5", "Sold 2,000 shares at 1999.5"),
    ],
)
def test_dates_and_years_in_headlines_are_masked(text: str, expected: str) -> None:
    assert mask_dates(text) == expected


def test_a_window_before_the_cutoff_is_flagged() -> None:
    check = cutoff_check(date(2020, 1, 1), date(2022, 12, 31), date(2024, 10, 1))
    assert check.overlap is CutoffOverlap.INSIDE
    assert check.warning is not None
    assert "before the model's knowledge cutoff" in check.warning


def test_a_window_straddling_the_cutoff_is_partly_flagged() -> None:
    check = cutoff_check(date(2024, 1, 1), date(2025, 3, 1), date(2024, 10, 1))
    assert check.overlap is CutoffOverlap.PARTIAL
    assert check.warning is not None


def test_a_window_after_the_cutoff_is_a_fair_test() -> None:
    check = cutoff_check(date(2024, 11, 1), date(2025, 3, 1), date(2024, 10, 1))
    assert check.overlap is CutoffOverlap.AFTER
    assert check.warning is None


def test_an_unknown_cutoff_is_warned_about() -> None:
    check = cutoff_check(date(2024, 11, 1), date(2025, 3, 1), None)
    assert check.overlap is CutoffOverlap.UNKNOWN
    assert check.warning is not None
