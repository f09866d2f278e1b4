"""Word error rate, the figure by which shopper's speech engines are compared.

Both sides are normalised first, so "Press 1." against "press one" counts as no error: the
benchmark measures wrong words, not spelling conventions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from shopper.text.normalize import normalize


def word_edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Fewest substitutions, insertions and deletions turning `reference` into `hypothesis`."""
    previous = list(range(len(hypothesis) + 1))
    for row, ref_word in enumerate(reference, start=1):
        current = [row]
        for column, hyp_word in enumerate(hypothesis, start=1):
            current.append(
                min(
                    previous[column - 1] + (ref_word != hyp_word),
                    previous[column] + 1,
                    current[column - 1] + 1,
                )
            )
        previous = current
    return previous[-1]


def word_errors(
    reference: str, hypothesis: str, mishearings: Mapping[str, str] | None = None
) -> tuple[int, int]:
    """(word edit distance, number of reference words), both after normalisation.

    Returned as counts rather than a rate so a corpus WER weighs every word equally instead of
    averaging per-utterance rates, where a one-word prompt would count as much as a long menu.
    """
    ref_words = normalize(reference, mishearings).split()
    hyp_words = normalize(hypothesis, mishearings).split()
    return word_edit_distance(ref_words, hyp_words), len(ref_words)


def word_error_rate(
    pairs: Iterable[tuple[str, str]], mishearings: Mapping[str, str] | None = None
) -> float:
    """Corpus WER of (reference, hypothesis) pairs: total errors over total reference words.

    Raises ValueError when the references hold no words at all, where the rate is undefined.
    """
    errors = 0
    words = 0
    for reference, hypothesis in pairs:
        pair_errors, pair_words = word_errors(reference, hypothesis, mishearings)
        errors += pair_errors
        words += pair_words
    if words == 0:
        raise ValueError("word error rate is undefined: the references contain no words")
    return errors / words
