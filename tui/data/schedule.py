"""When an account's next cycle runs: its cron (APScheduler) on NYSE sessions only."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from invest.runtime.paths import Paths

from .settings import engine_value

DEFAULT_TZ = "America/New_York"


def engine_timezone(paths: Paths) -> str:
    """The timezone account schedules are read in."""
    return engine_value(paths, "timezone", DEFAULT_TZ)


def next_cycle(cron: str, tz: str, now: datetime, max_fires: int = 60) -> datetime | None:
    """The first time after ``now`` that ``cron`` fires on an NYSE session, or None.

    Args:
        cron: the account's 5-field crontab.
        tz: the timezone the crontab is read in.
        now: the current time (tz-aware).
        max_fires: fire times to try before giving up (holidays are skipped).
    """
    from apscheduler.triggers.cron import CronTrigger  # lazy: only the worker needs it

    from invest.runtime.clock import nyse  # lazy: the calendar pulls in exchange-calendars

    try:
        zone = ZoneInfo(tz)
        trigger = CronTrigger.from_crontab(cron, timezone=zone)
    except (ValueError, ZoneInfoNotFoundError):
        return None
    calendar = nyse()
    at = now
    for _ in range(max_fires):
        fire: datetime | None = trigger.get_next_fire_time(None, at)
        if fire is None:
            return None
        day = fire.astimezone(zone).date()
        if not calendar.covers(day):
            return None
        if calendar.is_session(day):
            return fire
        at = fire + timedelta(seconds=1)
    return None
