"""Earnings calendar ``yfinance``: past and upcoming report dates from Yahoo Finance.

``Ticker.get_earnings_dates(limit)`` (yfinance 1.x scrapes Yahoo's earnings
calendar page) gives a frame indexed by the report's time, tz-aware, newest
first: the next reports Yahoo expects and the last ones. A report's day is its
New York date. The default ``limit`` of 12 covers about the next four quarters
and the last eight, so a backtest further back gets "unknown", never a made-up
"no report" (see :func:`invest.runtime.options.earnings.covers`).

One request per symbol per New York day: answers are cached for the day. A
symbol Yahoo lists nothing for (an ETF, an unknown ticker) is unknown. A failed
request (network, rate limit) is unknown too, until ``retry_after_s`` has passed
(so that one question gets one consistent answer and an outage is not hammered),
and :meth:`YahooEarningsCalendar.problem` says why; the risk rules treat unknown
as they choose and the report says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from invest.runtime.adapters.yahoo.options import _quiet, _yf_ticker
from invest.runtime.clock import NEW_YORK, SystemClock
from invest.runtime.errors import ConfigError
from invest.runtime.options.earnings import covers, next_on_or_after

if TYPE_CHECKING:
    from invest.runtime.clock import Clock

log = logging.getLogger(__name__)


def dates_from_yfinance(frame: pd.DataFrame | None) -> tuple[date, ...] | None:
    """The sorted New York report days of a ``get_earnings_dates`` frame; None when it lists none."""
    if frame is None or len(frame.index) == 0:
        return None
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_convert(NEW_YORK)
    return tuple(sorted({stamp.date() for stamp in index}))


class YahooEarningsCalendar:
    """Earnings calendar ``yfinance`` (see the module docstring).

    Args:
        limit: rows asked of Yahoo per symbol (1 to 100).
        ticker_factory: builds a ``yfinance.Ticker`` (tests replay recorded pages).
        clock: what "today" is, for the daily cache.
        retry_after_s: seconds before a failed symbol is asked again.

    Raises:
        ConfigError: ``limit`` is outside 1..100.
    """

    name = "yfinance"

    def __init__(
        self,
        *,
        limit: int = 12,
        ticker_factory: Callable[[str], Any] | None = None,
        clock: Clock | None = None,
        retry_after_s: float = 900.0,
    ) -> None:
        if not 1 <= limit <= 100:
            raise ConfigError(f"earnings limit must be 1 to 100 (Yahoo's cap), got {limit}")
        self.limit = limit
        self._ticker = ticker_factory or _yf_ticker
        self._clock = clock or SystemClock()
        self._day: date | None = None
        self._cache: dict[str, tuple[date, ...] | None] = {}
        self._problems: dict[str, str] = {}
        self._failed: dict[str, datetime] = {}
        self._retry_after = timedelta(seconds=retry_after_s)

    def __repr__(self) -> str:
        return f"YahooEarningsCalendar(limit={self.limit})"

    def next_earnings(self, symbol: str, as_of: date) -> date | None:
        dates = self._dates(symbol)
        return None if dates is None else next_on_or_after(dates, as_of)

    def known(self, symbol: str, as_of: date | None = None) -> bool:
        dates = self._dates(symbol)
        return dates is not None and covers(dates, as_of)

    def problem(self, symbol: str) -> str | None:
        """Why the last lookup of ``symbol`` failed, or None when it did not."""
        return self._problems.get(symbol.strip().upper())

    def _dates(self, symbol: str) -> tuple[date, ...] | None:
        key = symbol.strip().upper()
        now = self._clock.now()
        today = now.astimezone(NEW_YORK).date()
        if today != self._day:
            self._day, self._cache = today, {}
        if key in self._cache:
            return self._cache[key]
        failed = self._failed.get(key)
        if failed is not None and now - failed < self._retry_after:
            return None
        try:
            with _quiet():
                frame = self._ticker(key).get_earnings_dates(limit=self.limit)
        except Exception as e:
            self._problems[key] = (
                f"Yahoo earnings dates of {key} unavailable: {type(e).__name__}: {e}"
            )
            self._failed[key] = now
            log.warning("%s", self._problems[key])
            return None
        self._problems.pop(key, None)
        self._failed.pop(key, None)
        dates = dates_from_yfinance(frame)
        self._cache[key] = dates
        return dates
