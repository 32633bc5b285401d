"""When engine jobs run: cron fires on the NYSE calendar, monitor ticks, reports.

Everything here is a pure function of (cron, timezone, calendar, time), so the
scheduler is tested with a :class:`~invest.runtime.clock.FixedClock` and no real
time passes. APScheduler's :class:`CronTrigger` computes the cron's nominal fire
times; :func:`plan_fire` decides whether each one runs, and when:

* a fire whose New York date is not an NYSE session (weekend, holiday) is skipped;
* on a half-day (early close, e.g. 13:00), a fire at or after the regular close
  (16:00) keeps its offset from the close: **16:30 runs at 13:30**, 17:00 at 14:00;
* on a half-day, a fire between the early close and 16:00 is skipped: the market
  is shut, and moving it would collide with the shifted after-close fires;
* every other fire runs at its nominal time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from invest.runtime.clock import NEW_YORK

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

    from invest.runtime.clock import TradingCalendar

__all__ = [
    "REGULAR_CLOSE",
    "Fire",
    "is_week_end",
    "last_completed_session",
    "next_fire",
    "next_monitor",
    "next_report",
    "plan_fire",
    "previous_fire",
]

#: The NYSE's regular close, New York time; half-days close earlier.
REGULAR_CLOSE = time(16, 0)
_TICK = timedelta(microseconds=1)
_HORIZON = timedelta(days=400)
_MAX_STEPS = 100_000


@dataclass(frozen=True, slots=True)
class Fire:
    """One fire of a cron, planned on the calendar.

    Attributes:
        nominal: the time the cron names (UTC).
        at: when it runs (UTC): ``nominal``, or earlier on a half-day.
        session: the New York date of the fire.
        skipped: why it does not run ("" when it runs).
    """

    nominal: datetime
    at: datetime
    session: date
    skipped: str = ""

    @property
    def runs(self) -> bool:
        """True when the fire runs."""
        return not self.skipped

    @property
    def shifted(self) -> bool:
        """True when a half-day moved it earlier."""
        return self.runs and self.at != self.nominal


@lru_cache(maxsize=64)
def _trigger(cron: str, tz: str) -> CronTrigger:
    from apscheduler.triggers.cron import CronTrigger  # lazy: only when a fire is planned

    return CronTrigger.from_crontab(cron, timezone=ZoneInfo(tz))


def _regular_close(day: date) -> datetime:
    return datetime.combine(day, REGULAR_CLOSE, NEW_YORK)


def plan_fire(nominal: datetime, calendar: TradingCalendar) -> Fire:
    """Decide whether a cron fire at ``nominal`` runs, and when (see the module docstring)."""
    nominal = nominal.astimezone(UTC)
    day = nominal.astimezone(NEW_YORK).date()
    if not calendar.covers(day):
        return Fire(nominal, nominal, day, f"{day} is outside the trading calendar")
    if not calendar.is_session(day):
        return Fire(nominal, nominal, day, f"{day} is not an NYSE session")
    close = calendar.session_close(day)
    regular = _regular_close(day)
    if close >= regular or nominal < close:
        return Fire(nominal, nominal, day)
    if nominal < regular:
        return Fire(nominal, nominal, day, f"{day} closed early at {_ny(close)}")
    return Fire(nominal, nominal - (regular - close), day)


def _ny(dt: datetime) -> str:
    return dt.astimezone(NEW_YORK).strftime("%H:%M")


def next_fire(
    cron: str,
    tz: str,
    calendar: TradingCalendar,
    after: datetime,
    on_skip: Callable[[Fire], None] | None = None,
) -> Fire | None:
    """The first fire of ``cron`` (in ``tz``) that runs strictly after ``after``.

    Args:
        cron: a 5-field crontab.
        tz: the timezone the crontab is read in.
        calendar: the exchange calendar.
        after: an aware datetime.
        on_skip: called with each skipped fire on the way (for the log).

    Returns:
        The fire, or None when none runs within 400 days (or the calendar's range).
    """
    trig = _trigger(cron, tz)
    cursor = after
    for _ in range(_MAX_STEPS):
        nominal = trig.get_next_fire_time(None, cursor + _TICK)
        if nominal is None or nominal - after > _HORIZON:
            return None
        fire = plan_fire(nominal, calendar)
        if fire.runs and fire.at > after:
            return fire
        cursor = nominal
        if fire.runs:
            continue  # a half-day fire shifted to or before ``after``: already done
        if on_skip is not None:
            on_skip(fire)
        if not calendar.covers(fire.session):
            return None
        if not calendar.is_session(fire.session):
            # Jump over the rest of a weekend or holiday in one step.
            nxt = calendar.next_session(fire.session)
            cursor = max(cursor, datetime.combine(nxt, time(0), NEW_YORK) - _TICK)
    return None


def previous_fire(
    cron: str, tz: str, calendar: TradingCalendar, now: datetime, window: timedelta
) -> Fire | None:
    """The last fire that ran at or before ``now`` and after ``now - window`` (a missed fire)."""
    shift = timedelta(hours=4)  # more than any early close moves a fire
    fire = next_fire(cron, tz, calendar, now - window - shift)
    last = None
    while fire is not None and fire.at <= now:
        if fire.at > now - window:
            last = fire
        fire = next_fire(cron, tz, calendar, fire.at)
    return last


def next_monitor(calendar: TradingCalendar, after: datetime, interval: timedelta) -> datetime:
    """The next monitor tick strictly after ``after``: ``open + k * interval`` (k >= 1) before the close.

    Raises:
        DataError: the calendar has no session ahead.
    """
    day = after.astimezone(NEW_YORK).date()
    if not calendar.is_session(day):
        day = calendar.next_session(day)
    for _ in range(10):
        opened, close = calendar.session_open(day), calendar.session_close(day)
        k = max(1, int((after - opened) / interval) + 1) if after >= opened else 1
        tick = opened + k * interval
        if tick < close:
            return tick
        day = calendar.next_session(day)
    return calendar.session_open(day) + interval


def next_report(
    calendar: TradingCalendar, after: datetime, offset: timedelta
) -> tuple[datetime, date]:
    """When the daily report of the next session is due (its close + ``offset``), and that session.

    Raises:
        DataError: the calendar has no session ahead.
    """
    day = after.astimezone(NEW_YORK).date()
    if not calendar.is_session(day):
        day = calendar.next_session(day)
    while calendar.session_close(day) + offset <= after:
        day = calendar.next_session(day)
    return calendar.session_close(day) + offset, day


def last_completed_session(calendar: TradingCalendar, now: datetime) -> date:
    """The last session whose close is at or before ``now``: the newest bar a cycle may read.

    Raises:
        DataError: ``now`` is outside the calendar.
    """
    day = now.astimezone(NEW_YORK).date()
    if calendar.is_session(day) and calendar.session_close(day) <= now:
        return day
    return calendar.previous_session(day)


def is_week_end(calendar: TradingCalendar, day: date) -> bool:
    """True when ``day`` is the last session of its ISO week."""
    return calendar.next_session(day).isocalendar()[:2] != day.isocalendar()[:2]
