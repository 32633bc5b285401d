"""Time and the NYSE trading calendar.

Two things live here:

* :class:`Clock` - the one way the appliance asks "what time is it?".
  :class:`SystemClock` is the only place ``datetime.now(UTC)`` is called;
  tests and backtests use :class:`FixedClock`. Every datetime is tz-aware UTC.
* :class:`TradingCalendar` - NYSE sessions, opens, closes and early closes,
  taken from ``exchange_calendars`` (``XNYS``; no holiday is hand-written).
  Building the calendar takes a noticeable fraction of a second (much more on a
  Raspberry Pi), so :func:`nyse` builds it lazily, once per process, and keeps its
  session arrays in the data cache directory for the next process; after that
  every query is a numpy binary search and never touches pandas.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from invest.runtime.errors import DataError
from invest.runtime.paths import resolve_home

if TYPE_CHECKING:
    # numpy is imported where a calendar is built or queried, so that reading the
    # time (``invest status``, ``halt``, the health check) does not load it.
    import numpy as np
    import numpy.typing as npt

    DateArray = npt.NDArray[np.datetime64]
    DayLike = date | np.datetime64

NEW_YORK = ZoneInfo("America/New_York")
#: First day the process-wide calendar covers (the bundled sample starts 1990-01-02).
NYSE_START = date(1990, 1, 1)
#: The process-wide calendar runs to December 31st this many years after today.
NYSE_YEARS_AHEAD = 2


@runtime_checkable
class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime:
        """The current time, tz-aware, in UTC."""
        ...


class SystemClock:
    """The wall clock. The only place in the appliance that reads the system time."""

    def now(self) -> datetime:
        """The current time, tz-aware, in UTC."""
        return datetime.now(UTC)


def utcnow() -> datetime:
    """The current time from :class:`SystemClock` (tz-aware UTC): the default ``now`` of stores."""
    return SystemClock().now()


def _require_aware(dt: datetime, what: str) -> datetime:
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"{what} must be timezone-aware (got naive {dt.isoformat()})")
    return dt.astimezone(UTC)


class FixedClock:
    """A clock that only moves when told to: for tests, backtests and replays.

    Args:
        dt: the starting time; must be tz-aware (it is converted to UTC).
    """

    def __init__(self, dt: datetime) -> None:
        self._now = _require_aware(dt, "FixedClock time")

    def now(self) -> datetime:
        """The current (fixed) time, in UTC."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock by ``delta`` (may be negative) and return the new time."""
        self._now = self._now + delta
        return self._now

    def set(self, dt: datetime) -> None:
        """Jump to ``dt`` (tz-aware)."""
        self._now = _require_aware(dt, "FixedClock time")

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"


def _as_day(day: DayLike) -> np.datetime64:
    import numpy as np

    if isinstance(day, datetime):
        raise TypeError(
            f"expected a date, got the datetime {day.isoformat()}; "
            "use is_open() for instants or pass .date() of the New York time"
        )
    if isinstance(day, np.datetime64):
        as_day: np.datetime64 = day.astype("datetime64[D]")
        return as_day
    return np.datetime64(day, "D")


def _to_date(day: np.datetime64) -> date:
    return date.fromisoformat(str(day.astype("datetime64[D]")))


def _utc(seconds: np.int64) -> datetime:
    return datetime.fromtimestamp(int(seconds), tz=UTC)


def _xc_arrays(
    start: date, end: date, exchange: str
) -> tuple[DateArray, DateArray, DateArray, npt.NDArray[np.bool_]]:
    """Sessions, opens, closes (UTC seconds) and half-day flags from ``exchange_calendars``."""
    import exchange_calendars as xc  # slow import: only when a calendar is built
    import numpy as np

    with warnings.catch_warnings():
        # exchange_calendars 4.x trips pandas 3 deprecation warnings while it builds
        # its schedule; they are its business, not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            cal = xc.get_calendar(exchange, start=start.isoformat(), end=end.isoformat())
        except Exception as e:  # translate third-party errors at the edge
            raise DataError(
                f"cannot build the {exchange} trading calendar for {start}..{end}: {e}"
            ) from e
        sessions = cal.sessions.to_numpy().astype("datetime64[D]")
        opens = cal.opens.dt.tz_convert(None).to_numpy().astype("datetime64[s]")
        closes = cal.closes.dt.tz_convert(None).to_numpy().astype("datetime64[s]")
        early = cal.early_closes.to_numpy().astype("datetime64[D]")
    return sessions, opens, closes, np.isin(sessions, early)


class TradingCalendar:
    """Sessions of one exchange (NYSE by default) between ``start`` and ``end``.

    Built from ``exchange_calendars``; queries outside ``[start, end]`` raise
    :class:`~invest.runtime.errors.DataError` naming the covered range. Use
    :func:`nyse` rather than constructing one: it is slow to build.

    Args:
        start: first date covered (need not be a session).
        end: last date covered (need not be a session).
        exchange: ``exchange_calendars`` code, ``XNYS`` for the New York Stock Exchange.
    """

    def __init__(self, start: date, end: date, exchange: str = "XNYS") -> None:
        if end < start:
            raise ValueError(f"calendar end {end} is before its start {start}")
        sessions, opens, closes, half = _xc_arrays(start, end, exchange)
        self._set(start, end, exchange, sessions, opens, closes, half)

    @classmethod
    def cached(
        cls, start: date, end: date, cache_dir: Path, exchange: str = "XNYS"
    ) -> TradingCalendar:
        """The calendar for ``[start, end]``, read from ``cache_dir`` when built there before.

        Building from ``exchange_calendars`` costs a noticeable fraction of a second per
        process; its session arrays are a pure function of the exchange, the range and
        the ``exchange_calendars`` version, so they are kept in one ``.npz`` file per
        key. A missing, unreadable or unwritable cache only means building afresh.
        """
        import numpy as np

        if end < start:
            raise ValueError(f"calendar end {end} is before its start {start}")
        from importlib.metadata import version

        key = f"calendar-{exchange}-{start}-{end}-xc{version('exchange_calendars')}.npz"
        path = cache_dir / key
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = (
                    z["sessions"].astype("datetime64[D]"),
                    z["opens"].astype("datetime64[s]"),
                    z["closes"].astype("datetime64[s]"),
                    z["half"].astype(bool),
                )
        except (OSError, ValueError, KeyError):
            arrays = _xc_arrays(start, end, exchange)
            sessions, opens, closes, half = arrays
            tmp = path.with_name(f".{key}.{os.getpid()}.tmp")
            try:
                cache_dir.mkdir(parents=True, exist_ok=True)
                with tmp.open("wb") as f:
                    np.savez(f, sessions=sessions, opens=opens, closes=closes, half=half)
                tmp.replace(path)
            except OSError:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        cal = cls.__new__(cls)
        cal._set(start, end, exchange, *arrays)
        return cal

    def _set(
        self,
        start: date,
        end: date,
        exchange: str,
        sessions: DateArray,
        opens: DateArray,
        closes: DateArray,
        half: npt.NDArray[np.bool_],
    ) -> None:
        import numpy as np

        self.exchange = exchange
        self.start = start
        self.end = end
        self._sessions: DateArray = sessions
        self._open_s = opens.astype(np.int64)
        self._close_s = closes.astype(np.int64)
        self._half = half
        for arr in (self._sessions, self._open_s, self._close_s, self._half):
            arr.setflags(write=False)
        if len(sessions) == 0:
            raise DataError(f"the {exchange} calendar has no session in {start}..{end}")

    def __repr__(self) -> str:
        return f"TradingCalendar({self.exchange}, {self.start}..{self.end})"

    # -- range ---------------------------------------------------------------

    @property
    def first_session(self) -> date:
        """The first session the calendar covers."""
        return _to_date(self._sessions[0])

    @property
    def last_session(self) -> date:
        """The last session the calendar covers."""
        return _to_date(self._sessions[-1])

    def covers(self, day: DayLike) -> bool:
        """True when ``day`` is inside ``[start, end]``."""
        import numpy as np

        d = _as_day(day)
        return bool(np.datetime64(self.start, "D") <= d <= np.datetime64(self.end, "D"))

    def _check(self, day: DayLike) -> np.datetime64:
        import numpy as np

        d = _as_day(day)
        if not (np.datetime64(self.start, "D") <= d <= np.datetime64(self.end, "D")):
            raise DataError(
                f"{d} is outside the {self.exchange} trading calendar, which covers "
                f"{self.start}..{self.end}; data that old or that far ahead cannot be "
                "checked against exchange sessions (build a TradingCalendar with a wider "
                "start/end, or restart the appliance to roll the calendar forward)"
            )
        return d

    def _session_index(self, day: DayLike) -> int:
        import numpy as np

        d = self._check(day)
        i = int(np.searchsorted(self._sessions, d))
        if i == len(self._sessions) or self._sessions[i] != d:
            raise DataError(f"{d} is not an {self.exchange} session (weekend or holiday)")
        return i

    # -- days ----------------------------------------------------------------

    def sessions(self, start: DayLike, end: DayLike) -> DateArray:
        """Sessions in ``[start, end]`` inclusive, as a read-only ``datetime64[D]`` array.

        Raises:
            DataError: ``start`` or ``end`` is outside the calendar range.
        """
        import numpy as np

        lo = int(np.searchsorted(self._sessions, self._check(start), side="left"))
        hi = int(np.searchsorted(self._sessions, self._check(end), side="right"))
        return self._sessions[lo : max(lo, hi)]

    def is_session(self, day: DayLike) -> bool:
        """True when the exchange trades on ``day``."""
        import numpy as np

        d = self._check(day)
        i = int(np.searchsorted(self._sessions, d))
        return i < len(self._sessions) and bool(self._sessions[i] == d)

    def next_session(self, day: DayLike) -> date:
        """The first session strictly after ``day`` (``day`` need not be a session)."""
        import numpy as np

        d = self._check(day)
        i = int(np.searchsorted(self._sessions, d, side="right"))
        if i == len(self._sessions):
            raise DataError(
                f"no {self.exchange} session after {d} within the calendar range "
                f"{self.start}..{self.end}"
            )
        return _to_date(self._sessions[i])

    def previous_session(self, day: DayLike) -> date:
        """The last session strictly before ``day`` (``day`` need not be a session)."""
        import numpy as np

        d = self._check(day)
        i = int(np.searchsorted(self._sessions, d, side="left")) - 1
        if i < 0:
            raise DataError(
                f"no {self.exchange} session before {d} within the calendar range "
                f"{self.start}..{self.end}"
            )
        return _to_date(self._sessions[i])

    def is_half_day(self, day: DayLike) -> bool:
        """True when ``day`` is a session that closes early (e.g. 13:00 New York).

        Raises:
            DataError: ``day`` is not a session, or outside the calendar range.
        """
        return bool(self._half[self._session_index(day)])

    # -- instants ------------------------------------------------------------

    def session_open(self, day: DayLike) -> datetime:
        """When the session ``day`` opens, in UTC.

        Raises:
            DataError: ``day`` is not a session, or outside the calendar range.
        """
        return _utc(self._open_s[self._session_index(day)])

    def session_close(self, day: DayLike) -> datetime:
        """When the session ``day`` closes (early on half days), in UTC.

        Raises:
            DataError: ``day`` is not a session, or outside the calendar range.
        """
        return _utc(self._close_s[self._session_index(day)])

    def is_open(self, at: datetime) -> bool:
        """True when the exchange is trading at the instant ``at`` (open <= at < close).

        Raises:
            ValueError: ``at`` is naive.
            DataError: ``at`` falls outside the calendar range (New York date).
        """
        import numpy as np

        at = _require_aware(at, "is_open time")
        self._check(at.astimezone(NEW_YORK).date())
        ts = at.timestamp()
        i = int(np.searchsorted(self._open_s, ts, side="right")) - 1
        return i >= 0 and ts < float(self._close_s[i])


def today_in_new_york() -> date:
    """The exchange's calendar date now (:class:`SystemClock`): the day after which a bar is future."""
    return SystemClock().now().astimezone(NEW_YORK).date()


@lru_cache(maxsize=1)
def nyse() -> TradingCalendar:
    """The process-wide NYSE calendar: built on first use, then cached.

    Covers :data:`NYSE_START` to December 31st :data:`NYSE_YEARS_AHEAD` years
    after today (read from :class:`SystemClock`, once). The session arrays are kept
    in the data cache directory (:meth:`TradingCalendar.cached`), so only the first
    process of a year (or of an ``exchange_calendars`` upgrade) builds them.
    """
    today = today_in_new_york()
    end = date(today.year + NYSE_YEARS_AHEAD, 12, 31)
    return TradingCalendar.cached(NYSE_START, end, resolve_home()[0] / "cache")
