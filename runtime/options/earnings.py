"""Earnings dates and the earnings blackout of option entries.

Selling an option through an earnings announcement sells the jump the market
prices in; the risk rules keep new option entries out of the ``days`` (7 by
default) before a report. This module says when a symbol reports and whether a
day is in its blackout, and says plainly when it does not know.

An :class:`EarningsCalendar` answers two questions: the next report on or after a
day, and whether it can answer at all for that day (``known``). A calendar knows
a symbol between its first and last listed report (a listing is taken as
complete in between); outside that range it does not, except that a listed
report inside the window is always a blackout. A symbol listed with no dates
never reports (an ETF): always known, never in blackout.
:class:`StaticEarningsCalendar` holds a table (a dict or a CSV file of
``symbol,date`` rows): backtests and tests. The yfinance calendar lives in
:mod:`invest.runtime.adapters.yahoo.earnings`.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from invest.runtime.errors import ConfigError

__all__ = [
    "BLACKOUT_DAYS",
    "EarningsCalendar",
    "StaticEarningsCalendar",
    "covers",
    "in_blackout",
    "next_on_or_after",
]

#: Calendar days before a report during which no option position is opened.
BLACKOUT_DAYS = 7


class EarningsCalendar(Protocol):
    """Where earnings dates come from: a table, a venue."""

    def next_earnings(self, symbol: str, as_of: date) -> date | None:
        """The first listed report of ``symbol`` on or after ``as_of``; None when none is listed."""
        ...

    def known(self, symbol: str, as_of: date | None = None) -> bool:
        """True when the calendar can say whether ``symbol`` reports soon after ``as_of``.

        ``as_of=None`` asks whether the calendar has the symbol at all.
        False means "unknown", not "no report": a report says so.
        """
        ...


def next_on_or_after(dates: tuple[date, ...], as_of: date) -> date | None:
    """The first of the sorted ``dates`` on or after ``as_of``, or None."""
    i = bisect.bisect_left(dates, as_of)
    return dates[i] if i < len(dates) else None


def covers(dates: tuple[date, ...], as_of: date | None) -> bool:
    """Whether sorted ``dates`` settle ``as_of``: no dates (never reports), or first <= as_of <= last."""
    if not dates or as_of is None:
        return True
    return dates[0] <= as_of <= dates[-1]


def in_blackout(
    calendar: EarningsCalendar, symbol: str, as_of: date, days: int = BLACKOUT_DAYS
) -> bool | None:
    """True when ``symbol`` reports within ``days`` calendar days from ``as_of`` (the day included).

    Returns:
        True: a listed report falls on ``as_of`` .. ``as_of + days``.
        False: the calendar knows ``symbol`` there and no report falls in that window.
        None: unknown (the symbol is not in the calendar, or ``as_of`` is outside
        what it lists); the caller decides, and its report says "earnings unknown".

    Raises:
        ConfigError: ``days`` is negative.
    """
    if days < 0:
        raise ConfigError(f"an earnings blackout needs 0 or more days, got {days}")
    upcoming = calendar.next_earnings(symbol, as_of)
    if upcoming is not None and (upcoming - as_of).days <= days:
        return True
    if not calendar.known(symbol, as_of):
        return None
    return False


def _parse_day(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a date (write YYYY-MM-DD)") from None


@dataclass(frozen=True, slots=True)
class StaticEarningsCalendar:
    """Earnings dates from a table. ``dates`` maps an upper-case symbol to its sorted reports.

    A symbol mapped to no dates never reports (an ETF); a symbol absent is unknown.
    """

    dates: Mapping[str, tuple[date, ...]]

    @classmethod
    def from_mapping(cls, table: Mapping[str, Iterable[date | str]]) -> StaticEarningsCalendar:
        """From ``{"AAPL": [date or "YYYY-MM-DD", ...], "SPY": []}``.

        Raises:
            ConfigError: a date is malformed.
        """
        out: dict[str, tuple[date, ...]] = {}
        for symbol, days in table.items():
            parsed = {
                d if isinstance(d, date) else _parse_day(d, f"earnings of {symbol}") for d in days
            }
            out[symbol.strip().upper()] = tuple(sorted(parsed))
        return cls(out)

    @classmethod
    def from_csv(cls, path: Path) -> StaticEarningsCalendar:
        """From a CSV file with a ``symbol,date`` header; a row with an empty date = never reports.

        Raises:
            ConfigError: the file is missing, lacks the header, or a row is malformed.
        """
        table: dict[str, set[date]] = {}
        try:
            with path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                if reader.fieldnames is None or not {"symbol", "date"} <= set(reader.fieldnames):
                    raise ConfigError(
                        f"{path}: the first line must be the header 'symbol,date' "
                        f"(got {reader.fieldnames})"
                    )
                for row in reader:
                    where = f"{path} line {reader.line_num}"
                    symbol = (row["symbol"] or "").strip().upper()
                    if not symbol:
                        raise ConfigError(f"{where}: the symbol is empty")
                    days = table.setdefault(symbol, set())
                    if (row["date"] or "").strip():
                        days.add(_parse_day(row["date"], where))
        except OSError as e:
            raise ConfigError(f"cannot read the earnings calendar {path}: {e.strerror}") from e
        return cls({s: tuple(sorted(d)) for s, d in table.items()})

    def next_earnings(self, symbol: str, as_of: date) -> date | None:
        return next_on_or_after(self.dates.get(symbol.upper(), ()), as_of)

    def known(self, symbol: str, as_of: date | None = None) -> bool:
        dates = self.dates.get(symbol.upper())
        return dates is not None and covers(dates, as_of)
