"""Validators shared by the settings models: a cron that can fire, a timezone that exists.

APScheduler is imported inside :func:`check_cron`, when a cron is validated, so that
importing the config package stays light.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["check_cron", "check_timezone"]

#: Any 5-field cron that fires once after this instant fires forever: the Gregorian
#: calendar repeats every 400 years, so asking from a fixed past instant keeps
#: validation independent of today's date.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA timezone this machine knows.

    Checked when the config loads, so a typo fails ``invest config check`` and every
    start with its key path instead of a ``ZoneInfoNotFoundError`` deep in a backtest.

    Raises:
        ValueError: unknown or malformed name, with what to write instead.
    """
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r}: use an IANA name such as America/New_York or UTC"
        ) from None
    return name


def check_cron(cron: str) -> str:
    """``cron`` if it is a valid 5-field crontab that fires at least once.

    A cron such as ``30 16 31 2 *`` (February 31st) parses but never fires: the account
    would silently never trade. APScheduler walks the calendar to year 9999 and answers
    None for it.

    Raises:
        ValueError: the cron does not parse, or no date ever matches it.
    """
    from apscheduler.triggers.cron import CronTrigger  # lazy: only when validating

    try:
        trigger = CronTrigger.from_crontab(cron, timezone=UTC)
    except ValueError as e:
        raise ValueError(f"invalid cron {cron!r}: {e}") from None
    if trigger.get_next_fire_time(None, _EPOCH) is None:
        raise ValueError(
            f"cron {cron!r} can never fire: no date matches its day, month and weekday "
            "fields (minute hour day month weekday)"
        )
    return cron
