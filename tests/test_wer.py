import pytest

from shopper.bench.corpus import prompt_transcripts
from shopper.text.normalize import normalize
from shopper.text.wer import word_edit_distance, word_error_rate, word_errors


def test_identical_text_has_no_errors() -> None:
    assert word_errors("press one for billing", "press one for billing") == (0, 4)


def test_spelling_conventions_are_not_errors() -> None:
    assert word_errors("Press 1 for Billing.", "press one, for billing") == (0, 4)
    assert word_errors("Press the # key.", "press the hash key") == (0, 4)


def test_substitution_counts_one() -> None:
    assert word_errors("press one for billing", "press two for billing") == (1, 4)


def test_insertion_counts_one() -> None:
    assert word_errors("press one for billing", "press one now for billing") == (1, 4)


def test_deletion_counts_one() -> None:
    assert word_errors("press one for billing", "press for billing") == (1, 4)


def test_mixed_edits_take_the_cheapest_alignment() -> None:
    # "a b c d" -> "b c x d e": delete a, insert x, insert e.
    assert word_errors("a b c d", "b c x d e") == (3, 4)


def test_empty_reference_counts_every_hypothesis_word() -> None:
    assert word_errors("", "hello there") == (2, 0)
    assert word_errors("", "") == (0, 0)


def test_empty_hypothesis_deletes_every_reference_word() -> None:
    assert word_errors("thank you for calling", "") == (4, 4)


def test_edit_distance_on_raw_sequences() -> None:
    assert word_edit_distance(["kitten"], ["sitting"]) == 1
    assert word_edit_distance("kitten", "sitting") == 3


def test_corpus_rate_weighs_words_not_utterances() -> None:
    pairs = [
        ("yes", "no"),
        (
            "one two three four five six seven eight nine",
            "one two three four five six seven eight nine",
        ),
    ]
    assert word_error_rate(pairs) == pytest.approx(1 / 10)


def test_corpus_rate_can_exceed_one() -> None:
    assert word_error_rate([("hi", "oh hi there you")]) == pytest.approx(3.0)


def test_corpus_without_reference_words_is_an_error() -> None:
    with pytest.raises(ValueError, match="no words"):
        word_error_rate([("", "noise")])
    with pytest.raises(ValueError, match="no words"):
        word_error_rate([])


def test_user_mishearings_apply_to_both_sides() -> None:
    assert word_errors("acme bank", "acne bank") == (1, 2)
    assert word_errors("acme bank", "acne bank", {"acne": "acme"}) == (0, 2)


def test_asterisk_transcripts_with_one_word_dropped() -> None:
    transcripts = sorted(prompt_transcripts().values())[:100]
    pairs = [
        (text, " ".join(text.split()[1:])) for text in transcripts if normalize(text.split()[0])
    ]
    assert len(pairs) > 80
    errors_per_pair = [word_errors(reference, hypothesis)[0] for reference, hypothesis in pairs]
    # Dropping a written word drops at least one spoken word ("10" is one, "1234" six).
    assert all(errors >= 1 for errors in errors_per_pair)
    total_words = sum(word_errors(reference, reference)[1] for reference, _ in pairs)
    assert word_error_rate(pairs) == pytest.approx(sum(errors_per_pair) / total_words)
    assert word_error_rate((text, text) for text in transcripts) == 0.0
