from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shopper.sandbox.hours import is_open, parse_opening, time_zone
from shopper.sandbox.model import Hours

NEW_YORK = ZoneInfo("America/New_York")
BANK = Hours(tz="America/New_York", open="Mon-Fri 08:00-20:00, Sat 09:00-13:00", closed="x")


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2024, 3, 13, 8, 0, tzinfo=NEW_YORK), True),  # Wednesday, opening minute
        (datetime(2024, 3, 13, 7, 59, tzinfo=NEW_YORK), False),
        (datetime(2024, 3, 13, 19, 59, tzinfo=NEW_YORK), True),
        (datetime(2024, 3, 13, 20, 0, tzinfo=NEW_YORK), False),  # closing minute is closed
        (datetime(2024, 3, 16, 12, 30, tzinfo=NEW_YORK), True),  # Saturday morning
        (datetime(2024, 3, 16, 13, 0, tzinfo=NEW_YORK), False),
        (datetime(2024, 3, 17, 12, 0, tzinfo=NEW_YORK), False),  # Sunday
        (datetime(2024, 3, 15, 19, 30, tzinfo=NEW_YORK), True),  # Friday evening
    ],
)
def test_local_opening_hours(when: datetime, expected: bool) -> None:
    assert is_open(BANK, when) is expected


def test_time_is_judged_in_the_ivr_zone_not_the_callers() -> None:
    # 13:30 UTC on a Wednesday in July is 09:30 in New York (EDT, UTC-4): open.
    assert is_open(BANK, datetime(2024, 7, 10, 13, 30, tzinfo=UTC))
    # 11:30 UTC the same day is 07:30 in New York: closed, though 11:30 is open in UTC.
    assert not is_open(BANK, datetime(2024, 7, 10, 11, 30, tzinfo=UTC))
    # In January New York is UTC-5: 12:30 UTC is 07:30 there, closed.
    assert not is_open(BANK, datetime(2024, 1, 10, 12, 30, tzinfo=UTC))
    # 00:30 UTC Saturday is still Friday 20:30 in New York: past Friday closing.
    assert not is_open(BANK, datetime(2024, 3, 16, 0, 30, tzinfo=UTC))
    # 01:30 Tuesday in Tokyo is 16:30 Monday UTC: a UTC office is open.
    office = Hours(tz="UTC", open="Mon-Fri 09:00-17:00", closed="x")
    assert is_open(office, datetime(2024, 3, 12, 1, 30, tzinfo=ZoneInfo("Asia/Tokyo")))


def test_ranges_past_midnight_and_wrapping_days() -> None:
    night = Hours(tz="Europe/Berlin", open="Fri-Sun 22:00-02:00", closed="x")
    berlin = ZoneInfo("Europe/Berlin")
    assert is_open(night, datetime(2024, 3, 15, 23, 0, tzinfo=berlin))  # Friday night
    assert is_open(night, datetime(2024, 3, 16, 1, 0, tzinfo=berlin))  # early Saturday
    assert is_open(night, datetime(2024, 3, 18, 1, 59, tzinfo=berlin))  # Sunday's night
    assert not is_open(night, datetime(2024, 3, 18, 2, 0, tzinfo=berlin))
    assert not is_open(night, datetime(2024, 3, 15, 1, 0, tzinfo=berlin))  # Thursday's night
    weekend = parse_opening("Sat-Mon 10:00-12:00 14:00-24:00")
    assert {day for item in weekend for day in item.days} == {5, 6, 0}
    late = Hours(tz="UTC", open="Sat-Mon 10:00-12:00 14:00-24:00", closed="x")
    assert is_open(late, datetime(2024, 3, 18, 23, 59, tzinfo=UTC))  # Monday
    assert not is_open(late, datetime(2024, 3, 18, 13, 0, tzinfo=UTC))
    assert not is_open(late, datetime(2024, 3, 19, 0, 0, tzinfo=UTC))  # Tuesday


def test_full_day_names_and_case() -> None:
    ranges = parse_opening("monday 00:00-24:00, SATURDAY 09:30-10:00")
    assert ranges[0].days == frozenset({0}) and (ranges[0].start_min, ranges[0].end_min) == (0, 0)
    assert (ranges[1].start_min, ranges[1].end_min) == (570, 600)
    always_monday = Hours(tz="UTC", open="Mon 00:00-24:00", closed="x")
    assert is_open(always_monday, datetime(2024, 3, 11, 23, 59, tzinfo=UTC))
    assert not is_open(always_monday, datetime(2024, 3, 12, 0, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty opening hours"),
        ("Mon-Fri 08:00-20:00,", "empty opening hours"),
        ("Mon-Fri", "no times in 'Mon-Fri'"),
        ("Mon-Fry 08:00-20:00", "unknown day 'Fry'"),
        ("Mon-Fri 8-20", "'8' is not a time like 08:00"),
        ("Mon 08:00", "'08:00' is not a time range"),
        ("Mon 08:00-25:00", "'25:00' is not a time of day"),
        ("Mon 08:60-09:00", "'08:60' is not a time of day"),
        ("Mon 09:00-09:00", "is empty"),
    ],
)
def test_malformed_opening_hours(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_opening(text)
    assert fragment in str(caught.value)


def test_naive_times_are_read_on_the_ivrs_own_clock() -> None:
    assert is_open(BANK, datetime(2024, 3, 13, 9, 0))  # Wednesday 09:00 in New York
    assert not is_open(BANK, datetime(2024, 3, 13, 21, 0))
    tokyo = Hours(tz="Asia/Tokyo", open="Mon-Fri 09:00-17:00", closed="x")
    assert is_open(tokyo, datetime(2024, 3, 13, 9, 0))
    assert not is_open(tokyo, datetime(2024, 3, 13, 9, 0, tzinfo=UTC))  # 18:00 in Tokyo


def test_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        time_zone("Mars/Base")
    with pytest.raises(ValueError, match="unknown time zone"):
        time_zone("../etc/passwd")
