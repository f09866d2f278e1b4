"""Numbers shopper refuses to dial, whatever a script or a test says.

A mystery-shopper call is automated and may be repeated on a schedule, so a typo must never
reach emergency services, a crisis line or a number billed by the minute. The rules are
deliberately blunt: only full numbers in international form are dialled, short codes never
(they are where emergency and special services live in every country), and known premium-rate
ranges are refused. Every carrier calls `check_dialable` before placing a call.
"""

from __future__ import annotations

import re

from shopper.errors import ShopperError

MIN_DIGITS = 7
"""Shortest full international number (country code included) that exists, e.g. Niue's."""
MAX_DIGITS = 15
"""E.164's limit."""

EMERGENCY_NUMBERS = frozenset(
    {
        "000",  # Australia
        "100",  # India police, Greece police, Belgium ambulance
        "101",  # UK police non-emergency, Ukraine fire
        "102",  # India ambulance, Ukraine police
        "103",  # Ukraine, Russia ambulance
        "108",  # India ambulance
        "110",  # Germany, Japan, China police
        "111",  # New Zealand emergency, UK NHS
        "112",  # EU and GSM emergency
        "113",  # Vietnam, Norway ambulance
        "114",  # Vietnam fire
        "115",  # Vietnam ambulance
        "117",  # Switzerland police
        "118",  # Switzerland fire, Italy ambulance
        "119",  # Japan, Korea, Taiwan fire and ambulance
        "122",  # Austria fire, Egypt police
        "133",  # Austria police
        "144",  # Switzerland, Austria ambulance
        "15",  # France ambulance
        "17",  # France police
        "18",  # France fire
        "190",  # Brazil police
        "192",  # Brazil ambulance
        "193",  # Brazil fire
        "911",  # North America
        "988",  # US suicide and crisis lifeline
        "995",  # Singapore
        "997",  # Poland police
        "998",  # Poland fire
        "999",  # UK, Ireland, Hong Kong, Malaysia
    }
)

PREMIUM_PREFIXES: dict[str, str] = {
    "1900": "North American premium rate (1-900)",
    "1976": "North American premium rate (1-976)",
    "449": "UK premium rate (09...)",
    "4470": "UK personal numbers (070...), charged like premium rate",
    "44871": "UK service numbers (0871...)",
    "44872": "UK service numbers (0872...)",
    "44873": "UK service numbers (0873...)",
    "49900": "German premium rate (0900...)",
    "49137": "German mass-calling numbers (0137...)",
    "3389": "French premium rate (089...)",
    "3989": "Italian premium rate (89x...)",
    "34803": "Spanish premium rate (803...)",
    "34806": "Spanish premium rate (806...)",
    "34807": "Spanish premium rate (807...)",
    "34905": "Spanish mass-calling numbers (905...)",
    "3190": "Dutch premium rate (090...)",
    "35315": "Irish premium rate (15xx...)",
    "61190": "Australian premium rate (190...)",
    "979": "International Premium Rate Service (+979)",
    "881": "satellite phone networks (+881), billed at very high rates",
    "882": "international networks (+882), often billed at premium rates",
}
"""E.164 digit prefixes (country code first, no +) and what they are."""

_NANP_PREMIUM_EXCHANGE = re.compile(r"1\d{3}976\d{4}")
"""NXX 976 in any North American area code: historically premium rate, still abused."""
_SEPARATORS = re.compile(r"[\s().-]")


class UnsafeNumberError(ShopperError):
    """A number shopper will not dial; the message says why and what to write instead."""


def check_dialable(number: str) -> None:
    """Raise UnsafeNumberError unless `number` is a full international number safe to call.

    Spaces, dashes, dots and parentheses are allowed as separators (`+1 (555) 010-0000`).
    """
    digits = _SEPARATORS.sub("", number)
    international = digits.startswith("+")
    digits = digits.removeprefix("+")
    if not digits.isdigit():
        raise UnsafeNumberError(
            f"{number!r} is not a phone number (write it in international form, like +15550100000)"
        )
    if digits in EMERGENCY_NUMBERS:
        raise UnsafeNumberError(
            f"{number!r} is an emergency number: shopper never dials emergency services "
            "(use the number of the phone system you are testing)"
        )
    if len(digits) < MIN_DIGITS:
        raise UnsafeNumberError(
            f"{number!r} is a short code: short codes reach emergency and special services, "
            "so shopper only dials full numbers in international form, like +15550100000"
        )
    if not international:
        raise UnsafeNumberError(
            f"{number!r} is not in international form (write + and the country code, like "
            "+15550100000)"
        )
    if len(digits) > MAX_DIGITS:
        raise UnsafeNumberError(
            f"{number!r} has {len(digits)} digits; international numbers have at most "
            f"{MAX_DIGITS} (check for a typo)"
        )
    premium = next(
        (label for prefix, label in PREMIUM_PREFIXES.items() if digits.startswith(prefix)), None
    )
    if premium is None and _NANP_PREMIUM_EXCHANGE.fullmatch(digits):
        premium = "North American premium-rate exchange (976)"
    if premium is not None:
        raise UnsafeNumberError(
            f"{number!r} is a premium-rate number ({premium}): shopper refuses to dial numbers "
            "billed by the minute"
        )


def looks_like_phone_number(text: str) -> bool:
    """Digits with an optional + and separators: what a target that is not a file looks like."""
    stripped = _SEPARATORS.sub("", text).removeprefix("+")
    return stripped.isdigit()
