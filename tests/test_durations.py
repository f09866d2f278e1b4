from __future__ import annotations

import pytest

from shopper.durations import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("6s", 6.0),
        ("95s", 95.0),
        ("1.5s", 1.5),
        ("5m", 300.0),
        ("1m30s", 90.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("1s500ms", 1.5),
        ("0s", 0.0),
        (" 6s ", 6.0),
        ("1m 30s", 90.0),
        ("6", 6.0),
        ("2.5", 2.5),
        (6, 6.0),
        (0.75, 0.75),
    ],
)
def test_accepted_forms(value: str | int | float, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    ["abc", "", "s", "6x", "6 seconds", "-5s", "-1", "30s1m", "1.5.2s", "6ss", "1d", "m30"],
)
def test_malformed_text_names_value_and_forms(value: str) -> None:
    with pytest.raises(ValueError, match=r"invalid duration .*use seconds like 6s") as caught:
        parse_duration(value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize("value", [True, False, -1, -0.5, float("inf"), float("nan")])
def test_rejected_numbers(value: float) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", ["99999999999h", "25h", 1e308, 86400.5])
def test_more_than_a_day_is_refused(value: str | float) -> None:
    with pytest.raises(ValueError, match=r"longer than a day|invalid duration"):
        parse_duration(value)
    assert parse_duration("24h") == 86400.0
