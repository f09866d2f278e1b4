"""When a check fires: its `every:` or `cron:` cadence as fire times, for APScheduler.

Both cadences answer "the first fire time after this instant" from the instant alone, with
no state, so a restarted monitor and several monitor processes compute the same fire times
(and so the same run ids):

- `every:` fires on multiples of the interval since 1970-01-01 00:00 UTC, in real elapsed
  time: `every: 5m` fires at :00, :05, ... of every hour, also across a DST change.
- `cron:` is read on the wall clock of the schedule's time zone. APScheduler 3.11's own
  CronTrigger parses the expression and matches its fields, but across the autumn DST change
  it fired the repeated hour twice and then returned the same fire time forever (measured
  with America/Chicago; `tests/test_monitor_cadence.py` keeps the cases), so the wall-clock
  walk is done here: its fields are matched on naive local times and each match is placed on
  the time line with zoneinfo. A wall time fires at most once (in the repeated hour, its
  first occurrence); a wall time the spring change skips fires at the same offset as before
  the change, i.e. an hour later on the clock, unless that instant already fired.

Cron's weekday numbers are cron's (0 and 7 Sunday, 1 Monday), not APScheduler's; an
expression that restricts both the day of the month and the weekday is refused (cron fires
when either matches, APScheduler only when both do).
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from shopper.monitor.spec import Cadence, CheckSpec, Cron, Every

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)


class FireTimes(BaseTrigger):  # type: ignore[misc]
    """A cadence as an APScheduler trigger: the first fire time strictly after an instant."""

    @abstractmethod
    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time after `moment` (aware, UTC); None: it never fires again."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """APScheduler's question: the fire after the previous one, or the first at or after
        `now` for a job just added (so a restarted monitor never fires the runs it missed)."""
        if previous_fire_time is None:
            return self.next_after(now - _TICK)
        return self.next_after(previous_fire_time)

    def upcoming(self, after: datetime, count: int) -> list[datetime]:
        """The next `count` fire times after `after` (fewer if the cadence ends)."""
        found: list[datetime] = []
        moment: datetime | None = after
        while moment is not None and len(found) < count:
            moment = self.next_after(moment)
            if moment is not None:
                found.append(moment)
        return found


class FixedInterval(FireTimes):
    """Every `seconds` of real time, on the grid that starts at the Unix epoch."""

    def __init__(self, seconds: float) -> None:
        self.step = timedelta(seconds=seconds)

    def next_after(self, moment: datetime) -> datetime:
        return EPOCH + ((moment - EPOCH) // self.step + 1) * self.step


class WallClockCron(FireTimes):
    """A five-field cron expression on the wall clock of `zone` (see the module's notes).

    Raises ValueError for an expression that is not five valid fields."""

    def __init__(self, expression: str, zone: ZoneInfo) -> None:
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError(f"{len(fields)} fields, not 5")
        minute, hour, day, month, weekday = fields
        if day != "*" and weekday != "*":
            raise ValueError(
                "both a day of the month and a weekday: cron means either, shopper's "
                "scheduler would need both (write two checks)"
            )
        # UTC has no DST: APScheduler matches the fields on wall times without surprises.
        self._fields = CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=weekday_names(weekday),
            timezone=UTC,
        )
        self._zone = zone

    def next_after(self, moment: datetime) -> datetime | None:
        after = moment.astimezone(UTC)
        wall = after.astimezone(self._zone).replace(tzinfo=UTC)
        while True:
            match: datetime | None = self._fields.get_next_fire_time(None, wall + _TICK)
            if match is None:
                return None
            wall = match
            # fold=0: the first of a repeated wall time; a skipped one keeps the old offset.
            instant = wall.replace(tzinfo=self._zone).astimezone(UTC)
            if instant > after:
                return instant


CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Cron's weekday numbers 0-7 (0 and 7: Sunday) as names. APScheduler 3's CronTrigger
numbers weekdays from Monday = 0, and its `from_crontab` passes cron's numbers through
unchanged, so "1-5" meant Tuesday to Saturday there; names mean the same day to both."""


def weekday_names(field: str) -> str:
    """A cron weekday field with its numbers written as names (names and `*` kept)."""
    if field == "*" or any(char.isalpha() for char in field):
        return field
    days: list[str] = []
    for part in field.split(","):
        span, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"weekday step {step!r} is not a whole number of 1 or more")
        if span == "*":
            first, last = 0, 6
        else:
            start, _, end = span.partition("-")
            first, last = _weekday(start), _weekday(end or (start if not step else "6"))
        if last < first:
            raise ValueError(f"weekdays {span!r} run backwards (write {last}-{first}?)")
        days += CRON_WEEKDAYS[first : last + 1 : int(step) if step else 1]
    return ",".join(dict.fromkeys(days))


def _weekday(text: str) -> int:
    if not text.isdigit() or int(text) > 7:
        raise ValueError(f"weekday {text!r} is not 0-7 (0 and 7: Sunday) nor a name like mon")
    return int(text)


def fire_times(cadence: Cadence, zone: ZoneInfo) -> FireTimes:
    match cadence:
        case Every(seconds):
            return FixedInterval(seconds)
        case Cron(expression):
            return WallClockCron(expression, zone)


def cadence_of(check: CheckSpec, zone: ZoneInfo) -> FireTimes:
    return fire_times(check.cadence, zone)
