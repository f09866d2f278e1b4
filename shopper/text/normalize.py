"""One canonical spelling for what an IVR says, so heard and expected text can be compared.

ASR engines disagree with each other and with script authors on surface form: "Press 1." vs
"press one", "#" vs "pound" vs "hash", "e-mail" vs "email", "you're" vs "youre". Everything that
compares speech with text (scripts' `expect:` steps, the crawler, the WER benchmark) runs both
sides through `normalize` so that only differences in *words* remain.

The rules, in order (docs/matching.md explains them for script authors):

1. Unicode NFKC, lower case, typographic apostrophes made plain.
2. Spoken symbols become words: # pound, * star, & and, % percent, + plus, @ at.
3. Digits become words, one direction only: "24" -> "twenty four", "2nd" -> "second",
   "28.8" -> "twenty eight point eight", "1,000" -> "one thousand". Numbers of more than six
   digits, numbers with a leading zero, hyphen-joined digit groups ("1-800-555-1212") and
   phone numbers in their other usual shapes ("(800) 555-1212", "800.555.1212",
   "1 800 555 1212") are read digit by digit, as phone, account and PIN numbers are spoken,
   so the shapes a script and a recogniser write agree; numbers written with
   thousands separators ("1,000,000") are quantities and always read as one number.
4. Apostrophes inside words are dropped ("you're" -> "youre"): engines are inconsistent about
   them and the words this merges ("we're"/"were", "it's"/"its") sound the same anyway.
5. Every other non-alphanumeric character separates words (so "e-mail" -> "e mail").
6. "and" after hundred/thousand/million/billion and before a number word is dropped, because
   "one hundred and five" and "one hundred five" are the same number.
7. A table of equivalent spellings (DEFAULT_MISHEARINGS, plus the caller's own table over it)
   rewrites whole words and phrases to one canonical form, repeated until nothing changes.

Each step's output is a fixed point of every step, which makes normalize idempotent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
"""Number words: ONES[n] for 0-19, TENS[n] for n tens (20-90); shared with the renderer of
candidate texts (shopper.text.render) so both read and write numbers alike."""
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand"))
_ORDINAL_IRREGULAR = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_LONGEST_CARDINAL = 6
"""Longer digit strings are phone, account or reference numbers, spoken digit by digit."""

_SYMBOLS = {"#": "pound", "*": "star", "&": "and", "%": "percent", "+": "plus", "@": "at"}
_SYMBOL_RE = re.compile("[" + re.escape("".join(_SYMBOLS)) + "]")
_APOSTROPHES_RE = re.compile("[\u2018\u2019\u02bc\u0060\u00b4]")
WEB_ENDINGS = frozenset(
    {"com", "org", "net", "gov", "edu", "mil", "int", "info", "biz", "io", "co", "us", "uk"}
    | {"ca", "au", "nz", "ie", "de", "fr", "es", "it", "nl", "eu", "app", "online", "health"}
)
"""Endings that make "name.ending" a web address, said with "dot": the generic top-level
domains and those of the English-speaking countries most IVRs serve, plus the largest
European ones. Not abbreviations ("e.g.", "U.S.", "St."), which stay letters."""
_ADDRESS_RE = re.compile(
    r"(?<![\w.])(?:[a-z0-9][a-z0-9-]*\.)+(?P<ending>[a-z]{2,6})(?=/|[^\w.]|\.(?!\w)|$)"
)
_THOUSANDS_SEPARATOR_RE = re.compile(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])")
_NUMBER_RE = re.compile(
    r"(?P<phone>(?<![\d(])(?:1[ .-])?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}(?![\d.-]\d))"
    r"|(?P<grouped>\d+(?:-\d+)+)"
    r"|(?P<int_part>\d+)\.(?P<fraction>\d+)"
    r"|(?P<ordinal>\d{1,6})(?:st|nd|rd|th)(?![^\W\d_])"
    r"|(?P<integer>\d+)"
)
_INNER_APOSTROPHE_RE = re.compile(r"(?<=[^\W_])'(?=[^\W_])")
_SEPARATOR_RE = re.compile(r"[\W_]+")
_SPOKEN_AND_RE = re.compile(
    r"(?<!\S)(hundred|thousand|million|billion) and (?=(?:"
    + "|".join([*ONES[1:], *TENS[2:]])
    + r")(?!\S))"
)
_MAX_TABLE_PASSES = 8

Mishearings = tuple[tuple[str, str], ...]
"""A user mishearings table in hashable form, as frozen matchers carry it."""

DEFAULT_MISHEARINGS: Mapping[str, str] = MappingProxyType(
    {
        # Keypad keys: every name of a key becomes the one US IVRs say.
        "hash": "pound",
        "number sign": "pound",
        "asterisk": "star",
        # Spelling variants of the same word.
        "okay": "ok",
        "o k": "ok",
        "alright": "all right",
        "thankyou": "thank you",
        "can not": "cannot",
        "i d": "id",
        "p i n": "pin",
        "a m": "am",
        "p m": "pm",
        "dialling": "dialing",
        "dialled": "dialed",
        "cancelled": "canceled",
        "cancelling": "canceling",
        "centre": "center",
        # Compounds written open, hyphenated (split by the punctuation rule) or closed.
        "log in": "login",
        "log on": "logon",
        "log out": "logout",
        "log off": "logoff",
        "voice mail": "voicemail",
        "voice mailbox": "voicemail box",
        "voicemailbox": "voicemail box",
        "mail box": "mailbox",
        "e mail": "email",
        "touch tone": "touchtone",
        "key pad": "keypad",
        "cell phone": "cellphone",
        "web site": "website",
        "any time": "anytime",
        "re enter": "reenter",
        "re record": "rerecord",
        "de activated": "deactivated",
        # Contractions (apostrophes are already gone): recognisers write them either way.
        "im": "i am",
        "ive": "i have",
        "youre": "you are",
        "youve": "you have",
        "youll": "you will",
        "weve": "we have",
        "theyre": "they are",
        "thats": "that is",
        "theres": "there is",
        "whats": "what is",
        "lets": "let us",
        "dont": "do not",
        "doesnt": "does not",
        "didnt": "did not",
        "cant": "cannot",
        "wont": "will not",
        "isnt": "is not",
        "arent": "are not",
        "wasnt": "was not",
        "havent": "have not",
        "hasnt": "has not",
        "couldnt": "could not",
        "wouldnt": "would not",
        "shouldnt": "should not",
        # Hesitations some engines transcribe and no prompt script contains.
        "uh": "",
        "um": "",
        "umm": "",
        "hmm": "",
    }
)
"""Variant -> canonical spelling, for words that mean the same. Deliberately conservative:
abbreviations ("rep" for "representative") and digit readings of words ("oh" for "zero") are
not equivalences everywhere, so they belong in a script's own table, not here."""


class MishearingTableError(ValueError):
    """A mishearings table that cannot be applied consistently; the message names the entry."""


def _cardinal(number: int) -> str:
    if number < 20:
        return ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return TENS[tens] + (" " + ONES[ones] if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return ONES[hundreds] + " hundred" + (" " + _cardinal(rest) if rest else "")
    for size, name in _SCALES:
        if number >= size:
            count, rest = divmod(number, size)
            return _cardinal(count) + " " + name + (" " + _cardinal(rest) if rest else "")
    raise AssertionError("unreachable: every number >= 1000 has a scale")


def _digit_by_digit(digits: str) -> str:
    return " ".join(ONES[int(digit)] for digit in digits)


def _spoken_integer(digits: str) -> str:
    if len(digits) > _LONGEST_CARDINAL or (len(digits) > 1 and digits[0] == "0"):
        return _digit_by_digit(digits)
    return _cardinal(int(digits))


def _ordinal(digits: str) -> str:
    *head, last = _spoken_integer(digits).split()
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def _spoken_number(found: re.Match[str]) -> str:
    if phone := found["phone"]:
        spoken = _digit_by_digit("".join(char for char in phone if char.isdigit()))
    elif grouped := found["grouped"]:
        spoken = " ".join(_digit_by_digit(group) for group in grouped.split("-"))
    elif found["int_part"]:
        spoken = _spoken_integer(found["int_part"]) + " point " + _digit_by_digit(found["fraction"])
    elif found["ordinal"]:
        spoken = _ordinal(found["ordinal"])
    else:
        spoken = _spoken_integer(found["integer"])
    return f" {spoken} "


def plain_apostrophes(text: str) -> str:
    """Typographic apostrophes (curly, modifier letter, grave and acute accents) written as the
    plain one."""
    return _APOSTROPHES_RE.sub("'", text)


def _spoken_address(found: re.Match[str]) -> str:
    """A web address as said: its dots are "dot" ("skylark.com" -> "skylark dot com")."""
    if found["ending"] not in WEB_ENDINGS:
        return found[0]
    return " " + found[0].replace(".", " dot ") + " "


def _plain_words(text: str) -> str:
    """Rules 1-6: everything except the table, as space-separated words."""
    text = plain_apostrophes(unicodedata.normalize("NFKC", text).lower())
    text = _ADDRESS_RE.sub(_spoken_address, text)
    text = _SYMBOL_RE.sub(lambda found: f" {_SYMBOLS[found[0]]} ", text)
    text = _THOUSANDS_SEPARATOR_RE.sub(
        lambda found: f" {_cardinal(int(found[0].replace(',', '')))} ", text
    )
    text = _NUMBER_RE.sub(_spoken_number, text)
    text = _INNER_APOSTROPHE_RE.sub("", text)
    text = " ".join(_SEPARATOR_RE.sub(" ", text).split())
    return _SPOKEN_AND_RE.sub(r"\1 ", text)


class _Table:
    """A merged, validated table compiled into one longest-phrase-first alternation."""

    def __init__(self, entries: Mapping[str, str], user_keys: frozenset[str]) -> None:
        self._entries = {key: value for key, value in entries.items() if key != value}
        keys = sorted(self._entries, key=lambda key: (-len(key), key))
        self._pattern = (
            re.compile(r"(?<!\S)(?:" + "|".join(map(re.escape, keys)) + r")(?!\S)")
            if keys
            else None
        )
        for key, value in self._entries.items():
            if self._rewrite_once(value) != value:
                origin = "" if key in user_keys else "default "
                raise MishearingTableError(
                    f"{origin}mishearings entry {key!r} -> {value!r}: the replacement is itself "
                    "rewritten by another entry; map straight to the final spelling"
                )

    def _rewrite_once(self, text: str) -> str:
        if self._pattern is None:
            return text
        rewritten = self._pattern.sub(lambda found: self._entries[found[0]], text)
        return " ".join(rewritten.split())

    def apply(self, text: str) -> str:
        for _ in range(_MAX_TABLE_PASSES):
            rewritten = _SPOKEN_AND_RE.sub(r"\1 ", self._rewrite_once(text))
            if rewritten == text:
                break
            text = rewritten
        return text


def _table_entry(key: object, value: object) -> tuple[str, str]:
    if not isinstance(key, str) or not isinstance(value, str):
        raise MishearingTableError(
            f"mishearings entry {key!r} -> {value!r}: both sides must be text (quote numbers)"
        )
    plain_key = _plain_words(key)
    if not plain_key:
        raise MishearingTableError(f"mishearings entry {key!r}: the phrase has no words")
    return plain_key, _plain_words(value)


@lru_cache(maxsize=64)
def _compiled_table(user_entries: Mishearings) -> _Table:
    user = dict(_table_entry(key, value) for key, value in user_entries)
    return _Table({**DEFAULT_MISHEARINGS, **user}, frozenset(user))


def mishearing_entries(mishearings: Mapping[str, str] | None) -> Mishearings:
    """A user table as a hashable value, so frozen matchers can carry one and tables can be
    cached; it is validated here, so a bad table fails where it is given, not mid-call."""
    entries = tuple(sorted((mishearings or {}).items(), key=repr))
    _compiled_table(entries)
    return entries


def normalize(text: str, mishearings: Mapping[str, str] | None = None) -> str:
    """Canonical words of `text`, joined by single spaces (see the module doc for the rules).

    `mishearings` maps a variant word or phrase to its canonical spelling and is merged over
    DEFAULT_MISHEARINGS; map a default's variant to itself to switch that default off, or to ""
    to drop a word. Both sides are normalised first, so "O.K." or "#" work as keys.
    """
    return _compiled_table(mishearing_entries(mishearings)).apply(_plain_words(text))
