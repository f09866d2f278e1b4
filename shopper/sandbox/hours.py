"""Opening hours of the simulated phone system: "Mon-Fri 08:00-20:00, Sat 09:00-13:00".

The text is checked when the IVR is loaded (`parse_opening`, `time_zone`), so a typo is a
load error with a line number rather than a line that is silently always closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shopper.sandbox.model import Hours

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAYS_HELP = "days are Mon Tue Wed Thu Fri Sat Sun or full names, ranges like Mon-Fri"
_FORM_HELP = "write e.g. 'Mon-Fri 08:00-20:00, Sat 09:00-13:00'"
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class OpeningRange:
    """Open on `days` (0 = Monday) from `start_min` to `end_min` minutes after local midnight.

    `end_min <= start_min` means the range runs past midnight into the next day, as a night
    service line does ("Fri 22:00-02:00" is open early Saturday too).
    """

    days: frozenset[int]
    start_min: int
    end_min: int

    def contains(self, weekday: int, minute: int) -> bool:
        if self.end_min > self.start_min:
            return weekday in self.days and self.start_min <= minute < self.end_min
        return (weekday in self.days and minute >= self.start_min) or (
            (weekday - 1) % 7 in self.days and minute < self.end_min
        )


def parse_opening(text: str) -> tuple[OpeningRange, ...]:
    """The ranges in an `open:` string; ValueError (one line, with the fix) when malformed."""
    entries = [entry.strip() for entry in text.split(",")]
    if not text.strip() or any(not entry for entry in entries):
        raise ValueError(f"empty opening hours in {text!r} ({_FORM_HELP})")
    ranges: list[OpeningRange] = []
    for entry in entries:
        day_text, *time_texts = entry.split()
        if not time_texts:
            raise ValueError(f"no times in {entry!r} ({_FORM_HELP})")
        days = _days(day_text)
        ranges.extend(OpeningRange(days, *_time_range(time_text)) for time_text in time_texts)
    return tuple(ranges)


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError naming it when the zone database does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like America/New_York or UTC)"
        ) from None


def is_open(hours: Hours, when: datetime) -> bool:
    """Whether the line is open at `when`, judged on the clock of the IVR's own time zone.

    A naive `when` is a wall-clock reading at the IVR ("call at 9:00 on Sunday"), never a time
    in the zone of the machine running the test, so a run means the same thing everywhere.
    """
    zone = time_zone(hours.tz)
    local = when.replace(tzinfo=zone) if when.utcoffset() is None else when.astimezone(zone)
    minute = local.hour * 60 + local.minute
    return any(r.contains(local.weekday(), minute) for r in parse_opening(hours.open))


def _days(text: str) -> frozenset[int]:
    first, sep, last = text.partition("-")
    start = _day(first)
    if not sep:
        return frozenset({start})
    end = _day(last)
    return frozenset((start + offset) % 7 for offset in range((end - start) % 7 + 1))


def _day(text: str) -> int:
    word = text.lower()
    for index, name in enumerate(_DAY_NAMES):
        if word in (name, name[:3]):
            return index
    raise ValueError(f"unknown day {text!r} ({_DAYS_HELP})")


def _time_range(text: str) -> tuple[int, int]:
    start_text, sep, end_text = text.partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not a time range like 08:00-20:00 ({_FORM_HELP})")
    start, end = _minute(start_text), _minute(end_text)
    if start in (end, _MINUTES_PER_DAY):
        raise ValueError(f"time range {text!r} is empty (give different start and end times)")
    return start, end % _MINUTES_PER_DAY


def _minute(text: str) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time like 08:00 ({_FORM_HELP})")
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        raise ValueError(f"{text!r} is not a time of day (00:00 to 24:00)")
    return hour * 60 + minute
