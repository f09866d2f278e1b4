"""Numbers shopper refuses to dial, whatever a script or a test says.

A mystery-shopper call is automated and may be repeated on a schedule, so a typo must never
reach emergency services, a crisis line or a number billed by the minute. The rules are
deliberately blunt: only full numbers in international form are dialled, short codes never
(they are where emergency and special services live in every country), and ranges billed above
an ordinary call (premium rate, shared cost, personal numbers, satellite and international
networks) are refused as libphonenumber's maintained metadata classifies them, unless the
operator names the number in the config's override. Every carrier calls `check_dialable` before
placing a call.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import PhoneNumberType

from shopper.config import ConfigError, config_table
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

REFUSED_TYPES: dict[int, str] = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal number, charged like premium rate",
    PhoneNumberType.UAN: "a universal access number, often charged above local rates",
}
"""Number types (as libphonenumber's metadata classifies each country's ranges) billed above
an ordinary call. The metadata is maintained by Google's libphonenumber and released with the
`phonenumbers` package, so new ranges arrive with an upgrade rather than a hand edit."""
FREEPHONE_CODE = 800
"""The one non-geographic country code refused by no rule: international freephone (+800).
The others (+808 shared cost, +870 Inmarsat, +878, +881 and +882/+883 satellite and
international networks, +888, +979 international premium rate) bill far above a call."""

_SEPARATORS = re.compile(r"[\s().-]")
ALLOW_TABLE = "safety"
"""Config table of the override: `[safety] allow = ["+19005550100"]` names numbers the
operator has decided to dial although their type is refused. Emergency numbers and short codes
are refused whatever it says."""


class UnsafeNumberError(ShopperError):
    """A number shopper will not dial; the message says why and what to write instead."""


def check_dialable(number: str) -> None:
    """Raise UnsafeNumberError unless `number` is a full international number safe to call.

    Spaces, dashes, dots and parentheses are allowed as separators (`+1 (555) 010-0000`).
    Digits other than ASCII 0-9 (fullwidth, Arabic-Indic, superscript...) are refused before
    any rule: `isdigit()` accepts them but no numbering plan is written in them, so they would
    slip past every rule below.
    """
    digits = _SEPARATORS.sub("", number)
    _refuse_foreign_digits(number, digits)
    international = digits.startswith("+")
    digits = digits.removeprefix("+")
    if not _ascii_digits(digits):
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
    costly = _costly_kind(digits)
    if costly is not None and f"+{digits}" not in _allowed_numbers():
        raise UnsafeNumberError(
            f"{number!r} is {costly}: shopper refuses numbers billed above an ordinary call "
            f'(if you mean it, add it to [{ALLOW_TABLE}] allow = ["+{digits}"] in the config file)'
        )


def _ascii_digits(text: str) -> bool:
    return bool(text) and all("0" <= char <= "9" for char in text)


def _refuse_foreign_digits(number: str, text: str) -> None:
    foreign = next((c for c in text if not "0" <= c <= "9" and _is_numeral(c)), None)
    if foreign is not None:
        raise UnsafeNumberError(
            f"{number!r} contains the digit {foreign!r} ({unicodedata.name(foreign, 'unnamed')}):"
            " write phone numbers with the ASCII digits 0-9"
        )


def _is_numeral(char: str) -> bool:
    return char.isdigit() or char.isdecimal() or unicodedata.numeric(char, None) is not None


def _costly_kind(digits: str) -> str | None:
    """What makes an international number cost more than a call, by libphonenumber's
    metadata; None for ordinary, toll-free and unknown numbers (test ranges such as +1 555 01xx
    are not in any plan and must stay dialable)."""
    try:
        parsed = phonenumbers.parse(f"+{digits}", None)
    except phonenumbers.NumberParseException:
        return None
    code = parsed.country_code
    if code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS and code != FREEPHONE_CODE:
        return f"on an international network (+{code}) billed far above a call"
    return REFUSED_TYPES.get(phonenumbers.number_type(parsed))


def _allowed_numbers() -> frozenset[str]:
    """The config's explicit override list, in the form `+` and digits."""
    path, table = config_table(ALLOW_TABLE)
    allowed = table.get("allow", [])
    if not isinstance(allowed, list) or not all(isinstance(item, str) for item in allowed):
        raise ConfigError(f'{path}: [{ALLOW_TABLE}] allow must be a list of numbers like "+1..."')
    return frozenset("+" + _SEPARATORS.sub("", item).removeprefix("+") for item in allowed)


def looks_like_phone_number(text: str) -> bool:
    """Digits with an optional + and separators: what a target that is not a file looks like.
    Any script's digits count, so a look-alike number reaches `check_dialable` and is refused
    there by name rather than reported as a missing file."""
    stripped = _SEPARATORS.sub("", text).removeprefix("+")
    return bool(stripped) and all(_is_numeral(char) for char in stripped)
