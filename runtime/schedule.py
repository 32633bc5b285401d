"""Which sessions an account's cron schedule fires on (for day-level replays).

The live engine hands the cron to APScheduler. A daily backtest only needs to
know, for each session, whether the cron fires at some time that day. For a
5-field crontab that depends only on (month, day of month, weekday, days in the
month), so each distinct key is asked of APScheduler once and then memoised:
asking it for every one of 8,000 sessions cost ~0.4 s, a third of the budget of
a whole 33-year backtest.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from apscheduler.triggers.cron import CronTrigger

#: (cron, tz) -> {(month, day, weekday, days in month): fires}; a pure function, so shared.
_MEMO: dict[tuple[str, str], dict[tuple[int, int, int, int], bool]] = {}


@lru_cache(maxsize=64)
def _trigger(cron: str, tz: str) -> CronTrigger:
    return CronTrigger.from_crontab(cron, timezone=ZoneInfo(tz))


def _day_matches(trigger: CronTrigger, day: date) -> bool:
    """Whether the date fields (year, month, day, week, weekday) of the cron match ``day``.

    A field matches when its next matching value from ``day`` is ``day``'s own value;
    the time fields of a valid crontab always match at some time of a matching day.
    """
    dt = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - field matching is calendar-only
    return all(f.get_next_value(dt) == f.get_value(dt) for f in trigger.fields[:5])


def fires_on(cron: str, tz: str, days: list[date]) -> npt.NDArray[np.bool_]:
    """True for each day of ``days`` on which ``cron`` fires (in timezone ``tz``)."""
    trig = _trigger(cron, tz)
    memo = _MEMO.setdefault((cron, tz), {})
    out = np.zeros(len(days), dtype=bool)
    for i, d in enumerate(days):
        key = (d.month, d.day, d.weekday(), calendar.monthrange(d.year, d.month)[1])
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = _day_matches(trig, d)
        out[i] = hit
    return out
