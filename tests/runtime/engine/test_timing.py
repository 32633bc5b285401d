"""When jobs run: cron fires on the NYSE calendar, with an injected clock and no real time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from invest.runtime.clock import NEW_YORK, FixedClock, nyse
from invest.runtime.timing import (
    Fire,
    is_week_end,
    last_completed_session,
    next_fire,
    next_monitor,
    next_report,
    plan_fire,
    previous_fire,
)
from tests.runtime.engine.support import make_engine, ny

DAILY = "30 16 * * mon-fri"
TZ = "America/New_York"


def _ny(fire: Fire | None) -> str:
    assert fire is not None
    return fire.at.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M")


def test_a_fire_on_a_holiday_is_skipped_and_reported() -> None:
    skipped: list[Fire] = []
    fire = next_fire(DAILY, TZ, nyse(), ny("2022-12-23", "17:00"), on_skip=skipped.append)
    assert _ny(fire) == "2022-12-27 16:30"
    assert [f.session.isoformat() for f in skipped] == ["2022-12-26"]
    assert "not an NYSE session" in skipped[0].skipped


def test_a_half_day_moves_the_after_close_cycle_to_the_early_close_plus_the_same_offset() -> None:
    fire = next_fire(DAILY, TZ, nyse(), ny("2022-11-25", "09:00"))
    assert _ny(fire) == "2022-11-25 13:30"
    assert fire is not None
    assert fire.shifted


def test_the_next_fire_after_a_shifted_one_is_the_next_session_at_the_usual_time() -> None:
    fire = next_fire(DAILY, TZ, nyse(), ny("2022-11-25", "13:30"))
    assert _ny(fire) == "2022-11-28 16:30"


def test_on_a_half_day_a_fire_between_the_early_close_and_sixteen_is_skipped() -> None:
    assert "closed early" in plan_fire(ny("2022-11-25", "14:00"), nyse()).skipped


def test_on_a_half_day_a_fire_before_the_early_close_is_unchanged() -> None:
    fire = plan_fire(ny("2022-11-25", "10:00"), nyse())
    assert fire.runs
    assert not fire.shifted


def test_weekends_are_skipped() -> None:
    every_day = "30 16 * * *"
    fire = next_fire(every_day, TZ, nyse(), ny("2022-12-09", "17:00"))  # a Friday
    assert _ny(fire) == "2022-12-12 16:30"  # the Monday


def test_a_weekly_cron_on_a_holiday_friday_skips_to_the_next_friday() -> None:
    fire = next_fire("30 16 * * fri", TZ, nyse(), ny("2022-04-11"))
    assert _ny(fire) == "2022-04-22 16:30"  # 2022-04-15 was Good Friday


def test_a_cron_in_another_timezone_keeps_its_new_york_session() -> None:
    fire = next_fire("30 22 * * mon-fri", "Europe/Berlin", nyse(), ny("2022-12-23", "17:00"))
    assert _ny(fire) == "2022-12-27 16:30"


def test_a_missed_cycle_within_the_grace_is_found() -> None:
    missed = previous_fire(DAILY, TZ, nyse(), ny("2022-12-27", "18:00"), timedelta(hours=6))
    assert _ny(missed) == "2022-12-27 16:30"
    assert previous_fire(DAILY, TZ, nyse(), ny("2022-12-28", "09:00"), timedelta(hours=6)) is None


def test_monitor_ticks_stay_inside_market_hours() -> None:
    every = timedelta(hours=3)
    first = next_monitor(nyse(), ny("2022-12-23", "17:00"), every)
    assert first.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M") == "2022-12-27 12:30"
    second = next_monitor(nyse(), first, every)
    assert second.astimezone(NEW_YORK).strftime("%H:%M") == "15:30"
    half_day = next_monitor(nyse(), ny("2022-11-25", "12:31"), every)
    assert half_day.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M") == "2022-11-28 12:30"


def test_the_daily_report_follows_the_early_close_on_a_half_day() -> None:
    at, day = next_report(nyse(), ny("2022-11-25", "09:00"), timedelta(minutes=45))
    assert day.isoformat() == "2022-11-25"
    assert at.astimezone(NEW_YORK).strftime("%H:%M") == "13:45"


def test_a_cycle_before_the_close_reads_the_previous_session() -> None:
    cal = nyse()
    assert last_completed_session(cal, ny("2022-12-27", "12:00")).isoformat() == "2022-12-23"
    assert last_completed_session(cal, ny("2022-12-27", "16:30")).isoformat() == "2022-12-27"


def test_the_last_session_before_a_long_weekend_ends_the_week() -> None:
    from datetime import date

    assert is_week_end(nyse(), date(2022, 12, 23))
    assert not is_week_end(nyse(), date(2022, 12, 22))
    assert is_week_end(nyse(), date(2022, 4, 14))  # Good Friday closed


def test_the_engine_plans_around_the_holiday_and_the_half_day_with_a_fixed_clock(
    home: Path,
) -> None:
    clock = FixedClock(ny("2022-12-24", "12:00"))
    engine, _ = make_engine(home, clock)
    plan = engine.live()["accounts"]["daily"]
    assert plan["next_cycle"] == ny("2022-12-27", "16:30").isoformat()
    engine.shutdown()

    clock.set(ny("2022-11-25", "09:00"))
    engine, _ = make_engine(home, clock)
    assert engine.live()["accounts"]["daily"]["next_cycle"] == ny("2022-11-25", "13:30").isoformat()
    engine.shutdown()


def test_a_cycle_missed_while_the_engine_was_down_runs_at_start(home: Path) -> None:
    clock = FixedClock(ny("2022-12-23", "17:00"))
    engine, _ = make_engine(home, clock)
    assert engine.live()["accounts"]["daily"]["next_cycle"] == clock.now().isoformat()
    engine.step(wait=False)
    assert engine.live()["accounts"]["daily"]["next_cycle"] == ny("2022-12-27", "16:30").isoformat()
    assert engine.ledger.has_decision("daily:2022-12-23")
    engine.shutdown()
