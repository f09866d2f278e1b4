"""Durations as people write them in YAML ("6s", "1m30s", "250ms"), turned into seconds.

Shared by the sandbox definitions and the call scripts so that both accept exactly the same
forms and reject the same mistakes with the same wording.
"""

from __future__ import annotations

import math
import re

ACCEPTED_FORMS = "seconds like 6s, 1.5s or 6, minutes like 5m or 1m30s, hours like 2h, or 250ms"

_NUMBER = r"\d+(?:\.\d+)?"
_DURATION = re.compile(
    rf"(?:(?P<h>{_NUMBER})h)?"
    rf"(?:(?P<m>{_NUMBER})m(?!s))?"
    rf"(?:(?P<s>{_NUMBER})s)?"
    rf"(?:(?P<ms>{_NUMBER})ms)?"
)
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
MAX_SECONDS = 86400.0
"""Longest duration anything in a script or IVR can mean: a day. No phone call lasts longer,
and `99999999999h` must be refused like `1e308` is, not accepted as a wait."""


def parse_duration(value: str | int | float) -> float:
    """Seconds in `value`; a bare number (or numeric text) already is seconds.

    Units must come largest first ("1m30s", not "30s1m") so that a typo cannot silently mean
    something else; negative, infinite and boolean values are rejected because YAML turns
    `yes` into True and a negative wait has no meaning on a phone line.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"invalid duration {value!r}: use {ACCEPTED_FORMS}")
    if isinstance(value, int | float):
        return _checked(float(value), value)
    text = value.strip().replace(" ", "")
    if re.fullmatch(_NUMBER, text):
        return _checked(float(text), value)
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"invalid duration {value!r}: use {ACCEPTED_FORMS}")
    seconds = sum(
        float(amount) * _UNIT_SECONDS[unit]
        for unit, amount in match.groupdict().items()
        if amount is not None
    )
    return _checked(seconds, value)


def _checked(seconds: float, original: str | int | float) -> float:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {original!r}: use {ACCEPTED_FORMS}")
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"duration {original!r} is longer than a day (24h): no call lasts that long"
        )
    return seconds
