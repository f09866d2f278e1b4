"""Fire times: cron on the local wall clock through both DST changes (each wall time once,
none lost but the ones the clock skips, and those once an hour later), `every:` in real time
on a grid every process agrees on, and deterministic run ids and jitter."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from shopper.monitor.cadence import FixedInterval, WallClockCron
from shopper.monitor.checks import jitter_of, run_id_of

CHICAGO = ZoneInfo("America/Chicago")
SPRING = datetime(2026, 3, 8, tzinfo=CHICAGO)  # 02:00 CST -> 03:00 CDT
AUTUMN = datetime(2026, 11, 1, tzinfo=CHICAGO)  # 02:00 CDT -> 01:00 CST


def fires_on(expression: str, day: datetime) -> list[datetime]:
    """Every fire of the cron from the day's local midnight to the next one."""
    trigger = WallClockCron(expression, CHICAGO)
    end = (day + timedelta(days=1, hours=2)).replace(hour=0).astimezone(UTC)
    return [t for t in trigger.upcoming(day - timedelta(microseconds=1), 200) if t < end]


def local(moment: datetime) -> str:
    return moment.astimezone(CHICAGO).strftime("%H:%M%z")


def test_a_daily_run_in_the_repeated_hour_fires_once_in_autumn() -> None:
    fires = fires_on("30 1 * * *", AUTUMN)
    assert [local(t) for t in fires] == ["01:30-0500"]  # the first 01:30, daylight time
    day_after = fires_on("30 1 * * *", AUTUMN + timedelta(days=1))
    assert [local(t) for t in day_after] == ["01:30-0600"]


def test_a_daily_run_in_the_skipped_hour_fires_once_an_hour_later_in_spring() -> None:
    fires = fires_on("30 2 * * *", SPRING)
    assert [local(t) for t in fires] == ["03:30-0500"]  # 02:30 never happens on that day
    assert [local(t) for t in fires_on("30 2 * * *", SPRING + timedelta(days=1))] == ["02:30-0500"]


def test_a_frequent_cron_through_both_changes_never_fires_twice_nor_goes_backwards() -> None:
    for day, hours_on_the_clock in [(SPRING, 23), (AUTUMN, 24)]:
        fires = fires_on("*/20 * * * *", day)
        assert all(b > a for a, b in itertools.pairwise(fires))
        assert max(Counter(fires).values()) == 1
        # autumn: each wall time once (the repeated hour is not fired again);
        # spring: the skipped hour's three times land on 03:00..03:40, which fire anyway
        assert len(fires) == hours_on_the_clock * 3
        walls = Counter(t.astimezone(CHICAGO).replace(tzinfo=None) for t in fires)
        assert max(walls.values()) == 1


def test_apscheduler_own_cron_trigger_repeats_the_autumn_hour() -> None:
    """Why shopper walks the wall clock itself (shopper/monitor/cadence.py): APScheduler
    3.11's CronTrigger fires 01:30 twice on the autumn change, then the same time again."""
    trigger = CronTrigger.from_crontab("30 1 * * *", timezone=CHICAGO)
    previous, now, seen = None, AUTUMN, []
    for _ in range(4):
        fire = trigger.get_next_fire_time(previous, now)
        seen.append(fire.astimezone(UTC))
        previous, now = fire, fire + timedelta(seconds=1)
    assert seen[1] == seen[2] == seen[3] and seen[0] != seen[1]


def test_every_is_real_time_on_a_grid_from_the_epoch_also_across_dst() -> None:
    trigger = FixedInterval(7 * 60)
    fires = trigger.upcoming(AUTUMN, 40)
    assert {b - a for a, b in itertools.pairwise(fires)} == {timedelta(minutes=7)}
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert all((t - epoch) % timedelta(minutes=7) == timedelta(0) for t in fires)
    # another process asking from another instant agrees on the grid
    assert trigger.upcoming(fires[3] - timedelta(seconds=1), 3) == fires[3:6]


def test_a_trigger_asked_afresh_never_returns_a_time_in_the_past() -> None:
    """A (re)started monitor adds its jobs afresh: the first fire is at or after now, so the
    runs missed while it was stopped are not replayed."""
    now = datetime(2026, 12, 7, 14, 3, 17, tzinfo=UTC)
    for trigger in (FixedInterval(300), WallClockCron("*/5 8-19 * * 1-5", CHICAGO)):
        first = trigger.get_next_fire_time(None, now)
        assert first is not None and first >= now
        assert first - now <= timedelta(minutes=5)


def test_run_ids_and_jitter_depend_only_on_the_check_and_its_time() -> None:
    at = datetime(2026, 12, 7, 8, 5, tzinfo=CHICAGO)
    run_id = run_id_of("support-line", at)
    assert run_id == "support-line@2026-12-07T14:05:00Z"
    assert jitter_of(run_id, 30.0) == jitter_of("support-line@2026-12-07T14:05:00Z", 30.0)
    delays = [jitter_of(run_id_of("c", at + timedelta(minutes=5 * n)), 30.0) for n in range(200)]
    assert all(0 <= d < 30 for d in delays)
    assert len(set(delays)) == 200 and min(delays) < 3 and max(delays) > 27  # spread out
    assert jitter_of(run_id, 0.0) == 0.0


def test_weekdays_are_numbered_as_cron_numbers_them() -> None:
    monday_0803 = datetime(2026, 12, 7, 8, 3, tzinfo=CHICAGO)
    weekdays = WallClockCron("*/5 8-19 * * 1-5", CHICAGO)
    assert local(weekdays.next_after(monday_0803) or monday_0803) == "08:05-0600"
    friday_evening = datetime(2026, 12, 11, 19, 56, tzinfo=CHICAGO)
    following = weekdays.next_after(friday_evening)
    assert following is not None and following.astimezone(CHICAGO).isoweekday() == 1
    for sunday in ("0", "7", "sun"):
        fire = WallClockCron(f"0 9 * * {sunday}", CHICAGO).next_after(monday_0803)
        assert fire is not None and fire.astimezone(CHICAGO).isoweekday() == 7
