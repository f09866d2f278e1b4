"""Which chunks of a long utterance a candidate changes (pure text, no model)."""

from __future__ import annotations

from shopper.asr.chunk_edits import changed_chunks

CHUNKS = ["Thank you for calling.", "For billing, press two.", "For sales, press three."]


def test_the_hypothesis_itself_changes_no_chunk() -> None:
    assert changed_chunks(CHUNKS, " ".join(CHUNKS)) == {}
    assert changed_chunks(CHUNKS, "  ".join(CHUNKS) + "\n") == {}


def test_a_changed_word_changes_only_its_chunk() -> None:
    candidate = "Thank you for calling. For billing, press five. For sales, press three."
    assert changed_chunks(CHUNKS, candidate) == {1: "For billing, press five."}


def test_changes_in_two_chunks_give_both_their_new_text() -> None:
    candidate = "Thank you for calling Acme. For billing, press two. For sales, press 3."
    assert changed_chunks(CHUNKS, candidate) == {
        0: "Thank you for calling Acme.",
        2: "For sales, press 3.",
    }


def test_an_insertion_at_a_boundary_goes_to_the_chunk_before_it() -> None:
    candidate = "Thank you for calling. Welcome! For billing, press two. For sales, press three."
    assert changed_chunks(CHUNKS, candidate) == {0: "Thank you for calling. Welcome!"}


def test_an_insertion_at_the_start_goes_to_the_first_chunk() -> None:
    candidate = "Hello. Thank you for calling. For billing, press two. For sales, press three."
    assert changed_chunks(CHUNKS, candidate) == {0: "Hello. Thank you for calling."}


def test_a_replacement_across_a_boundary_is_shared_in_proportion() -> None:
    chunks = ["one two three four", "five six seven eight"]
    candidate = "one two A B C D seven eight"
    assert changed_chunks(chunks, candidate) == {0: "one two A B", 1: "C D seven eight"}


def test_deleting_a_whole_chunk_leaves_it_empty() -> None:
    chunks = ["Hello.", "Your call matters to us.", "Goodbye."]
    assert changed_chunks(chunks, "Hello. Goodbye.") == {1: ""}


def test_an_empty_chunk_is_skipped_by_the_word_diff() -> None:
    chunks = ["Hello there.", "", "Press one."]
    assert changed_chunks(chunks, "Hello there. Press nine.") == {2: "Press nine."}
