"""Matchers: did the IVR say what a script expected? Always answered with a score, not a bool.

A call that fails because the menu said "acne bank" instead of "acme bank" should say so in its
report, so every matcher returns a `Match` with a score in [0, 1], whether it passed, and the
stretch of heard text it found. Matchers are frozen dataclasses, built in code through the small
factories below or from a script's `expect:` value through `matcher_from_spec`. Heard and
expected text are both normalised (shopper.text.normalize) before comparison.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, Literal, Protocol

from shopper.text.normalize import Mishearings, mishearing_entries, normalize
from shopper.text.wer import word_edit_distance

MatchKind = Literal["contains", "regex", "fuzzy"]
Method = Literal["text", "letters", "audio", "contrast"]
"""What decided a match: the heard words, their letters, the audio, or the audio asked which
key it names (shopper.text.decide)."""


@dataclass(frozen=True, slots=True)
class Match:
    score: float
    matched: bool
    span: str | None
    """Normalised words of the heard text that best fit; kept for near misses too, so a report
    can show what was heard instead of what was wanted. None when nothing fits at all."""
    kind: MatchKind
    method: Method = "text"
    margin: float | None = None
    """Audio decisions only: nats by which the audio favours the expected phrase over the
    recogniser's own reading (negative: less likely than what it heard)."""
    contrast: float | None = None
    """Contrast decisions only: nats by which the expected key beats the best other key."""


class Matcher(Protocol):
    def match(self, heard: str) -> Match: ...


class MatcherSpecError(ValueError):
    """An `expect:` value that does not describe a matcher; the message names the problem."""


def _check_min_score(min_score: float) -> None:
    if isinstance(min_score, bool) or not isinstance(min_score, int | float):
        raise ValueError(f"min score must be a number between 0 and 1, got {min_score!r}")
    if not 0.0 <= min_score <= 1.0:
        raise ValueError(f"min score must be between 0 and 1, got {min_score!r}")


def _expected_words(expected: str, mishearings: Mishearings) -> tuple[str, ...]:
    if not isinstance(expected, str):
        raise ValueError(f"expected text must be a string, got {expected!r}")
    words = tuple(normalize(expected, dict(mishearings)).split())
    if not words:
        raise ValueError(f"expected text {expected!r} has no words once normalised")
    return words


ARTICLES = frozenset({"a", "an", "the"})
"""Words a script's "a" may be heard as and still be the same prompt. Articles are the least
stressed words of a sentence and the ones recognisers swap most ("check on the refill" for
"check on a refill": about 6-8 nats against the audio, so the audio check cannot rescue
them), and no key, department or company is told apart by its article alone. Only article
for article: a missing or extra article still costs a word (docs/matching.md)."""


def _same_word(expected_word: str, heard_word: str) -> bool:
    return expected_word == heard_word or (expected_word in ARTICLES and heard_word in ARTICLES)


@lru_cache(maxsize=4096)
def _spelling_distance(expected_word: str, heard_word: str) -> float:
    """Share of characters to change, so 'acne' for 'acme' costs 0.25 of a word, not a whole."""
    if _same_word(expected_word, heard_word):
        return 0.0
    longest = max(len(expected_word), len(heard_word))
    return word_edit_distance(expected_word, heard_word) / longest


def _exact_distance(expected_word: str, heard_word: str) -> float:
    return 0.0 if _same_word(expected_word, heard_word) else 1.0


def _cheapest_then_shortest(cell: tuple[float, int]) -> tuple[float, int]:
    cost, start = cell
    return cost, -start


def _best_window(
    expected: Sequence[str],
    heard: Sequence[str],
    substitution: Callable[[str, str], float],
) -> tuple[float, int, int]:
    """(cost, start, end) of the heard words heard[start:end] closest to `expected`.

    An edit alignment where skipping heard words before and after the window is free: missing,
    wrong and extra words inside the window cost one each (a wrong word costs `substitution`).
    Among equal costs the shortest, then earliest window wins.
    """
    previous = [(0.0, column) for column in range(len(heard) + 1)]
    for row, expected_word in enumerate(expected, start=1):
        current = [(float(row), 0)]
        for column, heard_word in enumerate(heard, start=1):
            diagonal_cost, diagonal_start = previous[column - 1]
            missing_cost, missing_start = previous[column]
            extra_cost, extra_start = current[column - 1]
            current.append(
                min(
                    (diagonal_cost + substitution(expected_word, heard_word), diagonal_start),
                    (missing_cost + 1.0, missing_start),
                    (extra_cost + 1.0, extra_start),
                    key=_cheapest_then_shortest,
                )
            )
        previous = current
    cost, start, end = min(
        ((cost, start, end) for end, (cost, start) in enumerate(previous)),
        key=lambda window: (window[0], window[2] - window[1], window[2]),
    )
    return cost, start, end


WindowKind = Literal["contains", "fuzzy"]
_DISTANCES: dict[WindowKind, Callable[[str, str], float]] = {
    "contains": _exact_distance,
    "fuzzy": _spelling_distance,
}
"""How much a heard word differs from an expected one: all or nothing, or by its letters."""


@dataclass(frozen=True, slots=True)
class _WordWindow:
    """The best-fitting window of heard words, scored by the word distance of its kind."""

    expected: str
    min_score: float
    mishearings: Mishearings = ()
    _words: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _kind: ClassVar[WindowKind]

    def __post_init__(self) -> None:
        _check_min_score(self.min_score)
        object.__setattr__(self, "_words", _expected_words(self.expected, self.mishearings))

    def match(self, heard: str) -> Match:
        heard_words = normalize(heard, dict(self.mishearings)).split()
        cost, start, end = _best_window(self._words, heard_words, _DISTANCES[self._kind])
        score = max(0.0, 1.0 - cost / len(self._words))
        span = " ".join(heard_words[start:end]) if end > start else None
        return Match(score=score, matched=score >= self.min_score, span=span, kind=self._kind)


@dataclass(frozen=True, slots=True)
class Contains(_WordWindow):
    """The expected words, in order and as whole words, somewhere in what was heard.

    Score 1.0 exactly when they appear contiguously; otherwise 1 - (missing, wrong or extra
    words in the best window) / (expected words), so a min_score below 1 tolerates a few.
    """

    min_score: float = 1.0
    _kind: ClassVar[WindowKind] = "contains"


@dataclass(frozen=True, slots=True)
class Fuzzy(_WordWindow):
    """Like Contains, but a misheard word counts by how many of its letters differ.

    Robust to the ASR confusing a letter or two ("acne bank" scores 0.875 for "acme bank"); a
    word split in two ("ack me") costs much more, and belongs in a mishearings table.
    """

    min_score: float = 0.8
    _kind: ClassVar[WindowKind] = "fuzzy"


_PATTERN_SYNTAX_RE = re.compile(r"\\.|\{\d*,?\d*\}|\(\?P?<[^>]*>|\(\?P=[^)]*\)")
_DIGIT_CLASS_RE = re.compile(r"(?<!\\)(?:\\\\)*\\d")


@dataclass(frozen=True, slots=True)
class Regex:
    """A regular expression searched in the *normalised* heard text, case-insensitively.

    Normalised text only, so one pattern serves every engine: write 'press (one|two)', never
    'press [12]', since digits, '#' and '*' have become words by then.
    """

    pattern: str
    mishearings: Mishearings = ()
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str):
            raise ValueError(f"regex must be a string, got {self.pattern!r}")
        try:
            compiled = re.compile(self.pattern, re.IGNORECASE)
        except re.error as error:
            raise ValueError(f"invalid regex {self.pattern!r}: {error}") from None
        literal_text = _PATTERN_SYNTAX_RE.sub("", self.pattern)
        if any(char.isdigit() for char in literal_text) or _DIGIT_CLASS_RE.search(self.pattern):
            raise ValueError(
                f"regex {self.pattern!r} contains digits, which normalised text never does: "
                "write numbers as words ('press one')"
            )
        object.__setattr__(self, "_compiled", compiled)

    def match(self, heard: str) -> Match:
        found = self._compiled.search(normalize(heard, dict(self.mishearings)))
        if found is None:
            return Match(score=0.0, matched=False, span=None, kind="regex")
        return Match(score=1.0, matched=True, span=found[0], kind="regex")


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Several acceptable phrasings: the result of the best one, passing results first."""

    matchers: tuple[Matcher, ...]

    def __post_init__(self) -> None:
        if not self.matchers:
            raise ValueError("any_of needs at least one matcher")

    def match(self, heard: str) -> Match:
        results = [matcher.match(heard) for matcher in self.matchers]
        return max(results, key=lambda result: (result.matched, result.score))


def contains(
    expected: str, min_score: float = 1.0, mishearings: Mapping[str, str] | None = None
) -> Contains:
    return Contains(expected, min_score, mishearing_entries(mishearings))


def fuzzy(
    expected: str, min_score: float = 0.8, mishearings: Mapping[str, str] | None = None
) -> Fuzzy:
    return Fuzzy(expected, min_score, mishearing_entries(mishearings))


def regex(pattern: str, mishearings: Mapping[str, str] | None = None) -> Regex:
    return Regex(pattern, mishearing_entries(mishearings))


def any_of(matchers: Sequence[Matcher]) -> AnyOf:
    return AnyOf(tuple(matchers))


_SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "contains": ("contains", "min"),
    "fuzzy": ("fuzzy", "min"),
    "regex": ("regex",),
    "any": ("any",),
}
_VALID_SHAPES = "a string, or a mapping with one of: " + ", ".join(sorted(_SPEC_KEYS))


def _spec_text(kind: str, value: object, where: str) -> str:
    if not isinstance(value, str):
        raise MatcherSpecError(f"{where}{kind}: expected a quoted string, got {value!r}")
    return value


def _build(spec: object, mishearings: Mishearings, where: str) -> Matcher:
    if isinstance(spec, str):
        return _build({"contains": spec}, mishearings, where)
    if not isinstance(spec, Mapping):
        raise MatcherSpecError(f"{where}matcher spec must be {_VALID_SHAPES}; got {spec!r}")
    kinds = [key for key in spec if key in _SPEC_KEYS]
    if not kinds and spec:
        raise MatcherSpecError(
            f"{where}unknown key {next(iter(spec))!r} in matcher spec; "
            f"a spec needs one of: {', '.join(sorted(_SPEC_KEYS))}"
        )
    if len(kinds) != 1:
        found = ", ".join(map(str, kinds)) or "none"
        raise MatcherSpecError(
            f"{where}matcher spec {dict(spec)!r} needs exactly one of "
            f"{', '.join(sorted(_SPEC_KEYS))} (found: {found})"
        )
    kind = kinds[0]
    valid = _SPEC_KEYS[kind]
    for key in spec:
        if key not in valid:
            raise MatcherSpecError(
                f"{where}unknown key {key!r} in {kind} matcher; valid keys: {', '.join(valid)}"
            )
    value = spec[kind]
    if kind == "any":
        if not isinstance(value, list | tuple) or not value:
            raise MatcherSpecError(f"{where}any: expected a non-empty list of matchers")
        return AnyOf(
            tuple(
                _build(item, mishearings, f"{where}any[{index}]: ")
                for index, item in enumerate(value)
            )
        )
    text = _spec_text(kind, value, where)
    try:
        if kind == "regex":
            return Regex(text, mishearings)
        min_score = spec.get("min", 1.0 if kind == "contains" else 0.8)
        if kind == "contains":
            return Contains(text, min_score, mishearings)
        return Fuzzy(text, min_score, mishearings)
    except ValueError as error:
        raise MatcherSpecError(f"{where}{error}") from None


def matcher_from_spec(
    spec: str | Mapping[str, Any], mishearings: Mapping[str, str] | None = None
) -> Matcher:
    """The matcher a script's `expect:` value describes.

    Shapes: "text" (contains), {contains: "text", min: 0.9}, {fuzzy: "text", min: 0.8},
    {regex: "pattern"}, {any: [spec, ...]}. Every problem is a MatcherSpecError (a ValueError)
    whose message says where in the spec it is.
    """
    return _build(spec, mishearing_entries(mishearings), "")
