import dataclasses

import pytest

from shopper.bench.corpus import prompt_transcripts
from shopper.text.match import (
    AnyOf,
    Contains,
    Fuzzy,
    Match,
    MatcherSpecError,
    Regex,
    any_of,
    contains,
    fuzzy,
    matcher_from_spec,
    regex,
)

MENU = "Welcome to Acne Bank. For billing, press 1. For an operator, press 0."


def _ivr_main() -> str:
    return next(t for p, t in prompt_transcripts().items() if p.stem == "basic-pbx-ivr-main")


def test_contains_matches_whole_words_after_normalising() -> None:
    result = contains("press one").match(MENU)
    assert result == Match(score=1.0, matched=True, span="press one", kind="contains")
    assert contains("Press 0").match(MENU).matched
    assert contains("for billing press 1").match(MENU).matched


def test_contains_respects_word_boundaries() -> None:
    result = contains("bill").match(MENU)
    assert not result.matched
    assert result.score == 0.0
    assert contains("perat").match(MENU).score == 0.0


def test_contains_needs_the_words_in_order_and_together() -> None:
    assert not contains("press billing").match(MENU).matched
    assert not contains("one press").match(MENU).matched


def test_contains_partial_score_counts_wrong_words_in_the_best_window() -> None:
    result = contains("for billing press two").match(MENU)
    assert not result.matched
    assert result.score == pytest.approx(0.75)
    assert result.span is not None and result.span.startswith("for billing press")
    assert contains("for billing press two", min_score=0.75).match(MENU).matched


def test_contains_on_a_real_asterisk_menu() -> None:
    menu = _ivr_main()
    assert contains("for an operator press 0").match(menu).matched
    assert contains("customer advocate, press two").match(menu).matched
    assert not contains("press nine").match(menu).matched


def test_regex_runs_on_normalised_text() -> None:
    result = regex(r"press (one|two)").match(MENU)
    assert result == Match(score=1.0, matched=True, span="press one", kind="regex")
    assert regex(r"operator press zero$").match(MENU).matched
    assert regex(r"\bacne bank\b").match(MENU).span == "acne bank"


def test_regex_is_case_insensitive_and_reports_misses() -> None:
    assert regex("Welcome To").match(MENU).matched
    assert regex("goodbye").match(MENU) == Match(0.0, False, None, "regex")


def test_invalid_regex_names_the_pattern() -> None:
    with pytest.raises(ValueError, match=r"invalid regex 'press \(one'"):
        regex("press (one")


def test_regex_with_digits_is_rejected_because_it_could_never_match() -> None:
    with pytest.raises(ValueError, match="numbers as words"):
        regex("press [0-9]")
    with pytest.raises(ValueError, match="numbers as words"):
        regex(r"press \d")
    assert regex(r"press\\d").pattern == r"press\\d"
    assert regex(r"(one|two){1,2} \w+").match(MENU).matched


def test_fuzzy_finds_a_misheard_name_inside_a_sentence() -> None:
    matcher = fuzzy("acme bank", min_score=0.8)
    result = matcher.match("welcome to acne bank for billing press one")
    assert result.matched
    assert 0.8 <= result.score < 1.0
    assert result.span == "acne bank"
    assert result.kind == "fuzzy"


def test_fuzzy_exact_text_scores_one() -> None:
    assert fuzzy("super awesome company").match(_ivr_main()).score == 1.0


@pytest.mark.parametrize(
    "heard",
    [
        "thank you for calling please hold",
        "your call is important to us",
        "press one for billing",
        "",
        "bank",
    ],
)
def test_fuzzy_rejects_unrelated_text(heard: str) -> None:
    result = fuzzy("acme bank").match(heard)
    assert not result.matched
    assert result.score < 0.6


def test_fuzzy_rejects_every_real_prompt_that_does_not_say_it() -> None:
    matcher = fuzzy("super awesome company")
    scores = [matcher.match(text).score for text in prompt_transcripts().values()]
    assert sum(score == 1.0 for score in scores) == 1
    assert sorted(scores)[-2] < 0.8


def test_any_of_picks_the_best_result() -> None:
    result = any_of([contains("acme bank"), fuzzy("acme bank"), regex("operator")]).match(MENU)
    assert result.kind == "regex"
    assert result.score == 1.0
    result = any_of([contains("acme bank"), fuzzy("acme bank")]).match(MENU)
    assert result.kind == "fuzzy"
    assert result.matched


def test_any_of_prefers_a_passing_result_over_a_higher_failing_score() -> None:
    strict = contains("for billing press two", min_score=1.0)
    lenient = fuzzy("operator now", min_score=0.5)
    assert strict.match(MENU).score > lenient.match(MENU).score
    assert any_of([strict, lenient]).match(MENU).kind == "fuzzy"


def test_any_of_reports_the_best_miss() -> None:
    result = any_of([contains("goodbye"), fuzzy("acme banc")]).match("press one")
    assert not result.matched
    assert result.kind == "fuzzy"


def test_matchers_are_frozen_and_comparable() -> None:
    matcher = fuzzy("acme bank", 0.7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        matcher.min_score = 0.1  # type: ignore[misc]
    assert matcher == Fuzzy("acme bank", 0.7)
    assert hash(matcher) == hash(Fuzzy("acme bank", 0.7))


def test_matcher_mishearings_apply_to_heard_and_expected() -> None:
    matcher = contains("acme bank", mishearings={"acne": "acme"})
    assert matcher.match(MENU) == Match(1.0, True, "acme bank", "contains")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("press one", Contains("press one")),
        ({"contains": "press one", "min": 0.5}, Contains("press one", 0.5)),
        ({"regex": "press (one|two)"}, Regex("press (one|two)")),
        ({"fuzzy": "acme bank"}, Fuzzy("acme bank", 0.8)),
        ({"fuzzy": "acme bank", "min": 0.9}, Fuzzy("acme bank", 0.9)),
        ({"fuzzy": "acme bank", "min": 1}, Fuzzy("acme bank", 1.0)),
        (
            {"any": ["operator", {"regex": "agent|representative"}]},
            AnyOf((Contains("operator"), Regex("agent|representative"))),
        ),
    ],
)
def test_matcher_from_spec_shapes(spec: object, expected: object) -> None:
    assert matcher_from_spec(spec) == expected  # type: ignore[arg-type]


def test_matcher_from_spec_carries_the_mishearings_table_into_nested_matchers() -> None:
    matcher = matcher_from_spec({"any": ["acme bank"]}, {"acne": "acme"})
    assert matcher.match(MENU).matched


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (3, "must be a string, or a mapping with one of: any, contains, fuzzy, regex"),
        ({}, "needs exactly one of any, contains, fuzzy, regex"),
        (
            {"fuzz": "acme"},
            "unknown key 'fuzz' in matcher spec; a spec needs one of: any, contains",
        ),
        ({"fuzzy": "a", "regex": "b"}, r"found: fuzzy, regex"),
        (
            {"fuzzy": "acme", "minimum": 0.5},
            "unknown key 'minimum' in fuzzy matcher; valid keys: fuzzy, min",
        ),
        ({"regex": "x", "min": 0.5}, "unknown key 'min' in regex matcher; valid keys: regex"),
        ({"regex": "("}, r"invalid regex '\('"),
        ({"fuzzy": "acme", "min": 1.5}, "between 0 and 1"),
        ({"fuzzy": "acme", "min": "high"}, "must be a number"),
        ({"contains": 5}, "contains: expected a quoted string"),
        ({"contains": "..."}, "no words once normalised"),
        ({"any": []}, "any: expected a non-empty list"),
        ({"any": "press one"}, "any: expected a non-empty list"),
        ({"any": ["ok", {"fuzzy": "x", "min": -1}]}, r"^any\[1\]: min score must be between"),
        ({"any": [{"any": [None]}]}, r"^any\[0\]: any\[0\]: matcher spec must be"),
    ],
)
def test_matcher_from_spec_errors_say_what_is_wrong(spec: object, message: str) -> None:
    with pytest.raises(MatcherSpecError, match=message):
        matcher_from_spec(spec)  # type: ignore[arg-type]


def test_spec_errors_are_value_errors() -> None:
    assert issubclass(MatcherSpecError, ValueError)


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        contains("press one", min_score=2.0)
    with pytest.raises(ValueError, match="at least one matcher"):
        any_of([])


def test_articles_stand_for_each_other_and_nothing_else() -> None:
    """Recognisers swap unstressed articles; an article is still a word, and no other word
    (a digit, a department) is forgiven."""
    assert contains("check on a refill").match("Press two to check on the refill.").matched
    assert fuzzy("status of a flight").match("check the status of the flight").matched
    assert contains("speak with an agent").match("to speak with the agent press zero").matched
    assert not contains("check on a refill").match("check on refill").matched, "missing"
    assert not contains("press two for a refill").match("press three for a refill").matched
    assert not contains("a refill").match("the refund").matched
