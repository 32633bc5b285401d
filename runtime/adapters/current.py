"""The venues' option chains are live snapshots: a chain source refuses a past date here.

Alpaca's chain endpoint and Yahoo's options page give the chain as it is now;
neither can answer "the chain of 2023-05-12". A backtest asking for a past date
gets a :class:`DataUnavailableError` that says to use the modelled chain. "Now"
is today in New York or the last session before it (on a weekend, a holiday or
before the open the venue still shows that session's quotes).
"""

from __future__ import annotations

from datetime import date

from invest.runtime.clock import NEW_YORK, Clock, SystemClock, TradingCalendar, nyse
from invest.runtime.errors import DataUnavailableError

__all__ = ["require_current"]


def require_current(
    as_of: date,
    *,
    source: str,
    clock: Clock | None = None,
    calendar: TradingCalendar | None = None,
) -> date:
    """Check that ``as_of`` is today (New York) or the session before; return today.

    Raises:
        DataUnavailableError: ``as_of`` is older (a backtest) or in the future.
    """
    today = (clock or SystemClock()).now().astimezone(NEW_YORK).date()
    if as_of > today:
        raise DataUnavailableError(
            f"{source} has no option chain for {as_of}: it is after today ({today})"
        )
    if as_of == today:
        return today
    last = (calendar or nyse()).previous_session(today)
    if as_of < last:
        raise DataUnavailableError(
            f"{source} gives only the current option chain (today {today}, last session {last}), "
            f"not the one of {as_of}; a backtest must use the modelled chain (source 'modelled')"
        )
    return today
