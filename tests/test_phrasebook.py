"""The announcement classifier: the corpus, the shipped model, the API the engine uses."""

import random
from pathlib import Path

import pytest

from shopper.text.phrasebook import (
    PromptKind,
    is_callback_offer,
    is_retry_notice,
    kinds,
    sounds_like_person,
)
from shopper.text.phrasebook.corpus import (
    PhrasebookError,
    heldout_phrasings,
    read_phrasings,
    training_phrasings,
)
from shopper.text.phrasebook.model import shipped_model
from shopper.text.phrasebook.noise import garble
from shopper.text.phrasebook.scoring import score_kinds


def test_every_kind_has_many_phrasings_and_the_held_out_ones_are_not_trained_on() -> None:
    training = training_phrasings()
    for kind in PromptKind:
        assert sum(kind in p.kinds for p in training) >= 50, kind
    trained = {p.text.lower() for p in training}
    assert not [p.text for p in heldout_phrasings() if p.text.lower() in trained]


def test_the_shipped_model_knows_its_own_training_phrasings() -> None:
    """Fails when the corpus was changed without `python -m shopper.text.phrasebook.train`."""
    training = training_phrasings()
    model = shipped_model()
    scores = score_kinds([p.kinds for p in training], [model.kinds_of(p.text) for p in training])
    for score in scores:
        assert score.recall >= 0.9 and score.precision >= 0.9, score


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("To be rung back when a colleague is free, press 2.", {"callback-offer"}),
        ("Hmm, that one isn't on the list. Let's have another go.", {"retry"}),
        ("For balances and statements, press 2.", set()),
        ("We will call you back tomorrow morning. Goodbye.", set()),
        ("Leave a message after the tone and we'll call you.", {"voicemail"}),
    ],
)
def test_kinds_of_sentences_worded_outside_the_corpus(text: str, expected: set[str]) -> None:
    assert {kind.value for kind in kinds(text)} == expected


def test_a_callback_offer_in_a_second_sentence_is_read_with_the_first() -> None:
    assert is_callback_offer("We can ring you back when it's your turn. Press one for that.")
    assert not is_callback_offer("Thanks, we'll ring you back when it's your turn.")


def test_the_api_survives_a_recogniser_without_punctuation_or_case() -> None:
    assert is_retry_notice("sorry that is not a valid selection please try again")
    assert sounds_like_person("hi this is dana how can i help you")


def test_garble_drops_and_swaps_words_reproducibly() -> None:
    text = "Please hold while we transfer your call to the next available agent."
    first = [garble(text, random.Random(seed), rate=0.3) for seed in range(5)]
    assert first == [garble(text, random.Random(seed), rate=0.3) for seed in range(5)]
    assert all(version != text for version in first)
    untouched = {garble(text, random.Random(seed), rate=0.0) for seed in range(10)}
    assert untouched == {text, text.removesuffix(".")}


def test_a_malformed_corpus_line_names_its_file_and_line(tmp_path: Path) -> None:
    corpus = tmp_path / "bad.tsv"
    corpus.write_text("# comment\nhold\tPlease hold.\nholdd\tPlease wait.\n")
    with pytest.raises(PhrasebookError, match=r"bad\.tsv:3: unknown kind 'holdd'"):
        read_phrasings(corpus)
    corpus.write_text("hold Please hold.\n")
    with pytest.raises(PhrasebookError, match=r"bad\.tsv:1: expected two fields"):
        read_phrasings(corpus)
