"""The IVR vocabulary that rivals a phrase's words (shopper.text.vocabulary)."""

from shopper.text.vocabulary import (
    VOCABULARY_FILE,
    common_words,
    corpus_counts,
    ivr_words,
    nearest,
    render_vocabulary,
)


def test_the_shipped_vocabulary_is_the_training_corpus_words() -> None:
    assert VOCABULARY_FILE.read_text(encoding="utf-8") == render_vocabulary(corpus_counts()), (
        "the corpus changed: run `python -m shopper.text.vocabulary`"
    )


def test_nearest_words_are_the_closest_in_letters_and_exclude_no_word() -> None:
    found = nearest("billing", 3)
    assert found[0] == "billing" and len(found) == 3
    assert all(word in ivr_words() for word in found)
    assert "building" in nearest("bulling", 4), "one letter from what was heard"
    assert "skylark" not in ivr_words() and "oakbrook" not in ivr_words(), "no company names"


def test_a_name_the_corpus_only_capitalises_is_no_ivr_word() -> None:
    """The corpus's "Thank you for choosing Sunrise Airlines." names a company: the word
    contrast must not vouch for "sunrise" against an IVR that says "Sunridge"."""
    assert common_words("Thank you for choosing Sunrise Airlines.") == {"you", "for", "choosing"}
    assert common_words("For billing, press 1.") == {"billing", "press", "one"}
    assert "sunrise" not in ivr_words()
