"""Text normalisation and matching: how shopper decides that what it heard is what it expected."""

from shopper.text.match import (
    AnyOf,
    Contains,
    Fuzzy,
    Match,
    Matcher,
    MatcherSpecError,
    MatchKind,
    Regex,
    any_of,
    contains,
    fuzzy,
    matcher_from_spec,
    regex,
)
from shopper.text.normalize import (
    DEFAULT_MISHEARINGS,
    Mishearings,
    MishearingTableError,
    mishearing_entries,
    normalize,
)
from shopper.text.wer import word_edit_distance, word_error_rate, word_errors

__all__ = [
    "DEFAULT_MISHEARINGS",
    "AnyOf",
    "Contains",
    "Fuzzy",
    "Match",
    "MatchKind",
    "Matcher",
    "MatcherSpecError",
    "MishearingTableError",
    "Mishearings",
    "Regex",
    "any_of",
    "contains",
    "fuzzy",
    "matcher_from_spec",
    "mishearing_entries",
    "normalize",
    "regex",
    "word_edit_distance",
    "word_error_rate",
    "word_errors",
]
