"""Cron matching by date fields agrees with APScheduler's own fire times."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from invest.runtime.schedule import fires_on

TZ = "America/New_York"


def _fires_by_apscheduler(cron: str, day: date) -> bool:
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(TZ))
    nxt = CronTrigger.from_crontab(cron, timezone=ZoneInfo(TZ)).get_next_fire_time(None, start)
    return nxt is not None and nxt < start + timedelta(days=1)


@pytest.mark.parametrize(
    "cron",
    [
        "30 16 * * mon-fri",
        "30 16 * * fri",
        "0 20 1 * *",
        "0 9 1-7 * mon",
        "*/30 9-16 * * 1-5",
        "0 12 last * *",
    ],
)
def test_fires_on_matches_apscheduler_day_by_day(cron: str) -> None:
    days = [date(2019, 12, 1) + timedelta(i) for i in range(800)]  # includes a leap February
    expected = [_fires_by_apscheduler(cron, d) for d in days]
    assert fires_on(cron, TZ, days).tolist() == expected
    assert any(expected)
    assert not all(expected)
