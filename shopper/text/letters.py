"""Where in a recogniser's text an expected phrase most likely is, compared letter by letter.

Word-level matchers lose a phrase the recogniser split or joined ("Northwind" heard as
"North Wind"), or garbled by a letter or two ("Prestew" for "press two"). Compared as one
string of letters — spaces, punctuation and case ignored, both sides normalised so "2" reads
"two" — the phrase still lines up with what was heard. The window found here is what the
audio check then re-reads (shopper.text.render), and an exact letter match is a decision of
its own: the same letters in the same order are the same sounds.

One more pair of spellings says the same sounds: a consonant that ends one word and begins
the next is said once in connected speech ("arrived damaged" sounds as "arrive damaged",
"bus stop" as "bustop"), so either copy may be missing at no cost (`ELIDABLE`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shopper.text.normalize import normalize


@dataclass(frozen=True, slots=True)
class HeardWord:
    """One whitespace-separated word of the recogniser's text, and what it says once normalised."""

    raw: str
    """As the recogniser wrote it: 'Wind.', '1,' or 'Hello'."""
    letters: str
    """Its normalised words run together: 'wind', 'one', 'hello' ('' for a dropped 'um')."""


@dataclass(frozen=True, slots=True)
class LetterWindow:
    """The whole heard words heard[start:end] whose letters are closest to the phrase's."""

    start: int
    end: int
    distance: int
    """Letter edits (missing, extra or wrong letters) between the phrase and the window."""
    length: int
    """Letters in the expected phrase."""

    @property
    def similarity(self) -> float:
        """1 - distance / length, floored at 0: 1.0 means the very same letters."""
        return max(0.0, 1.0 - self.distance / self.length)

    @property
    def exact(self) -> bool:
        return self.distance == 0


def heard_words(text: str, mishearings: Mapping[str, str] | None = None) -> tuple[HeardWord, ...]:
    """The recogniser's words with their letters, so a window maps back to its written form."""
    return tuple(
        HeardWord(raw, normalize(raw, mishearings).replace(" ", "")) for raw in text.split()
    )


ELIDABLE = frozenset("bdfjklmnpqrstvz")
"""Consonant letters that spell one sound wherever they stand, so the same letter ending a
word and starting the next is one sound said once. Not 'c' and 'g' (their sound depends on
the letter after: "magic city"), nor 'h', 'w', 'y' and vowels (parts of other sounds)."""


def phrase_letters(phrase: str, mishearings: Mapping[str, str] | None = None) -> str:
    """The phrase's normalised words, separated by single spaces (letter_window needs to know
    where its words end)."""
    return normalize(phrase, mishearings)


def elided(words: Sequence[str]) -> frozenset[int]:
    """Positions, in the words' letters run together, of each word's first letter that may
    go unsaid because the word before ends with it (`ELIDABLE`). The second copy rather than
    the first, so a window cannot end on a word whose last letter it took from the next."""
    positions: set[int] = set()
    offset = 0
    for before, word in zip(["", *words], words, strict=False):
        if before and word and before[-1] == word[0] and word[0] in ELIDABLE:
            positions.add(offset)
        offset += len(word)
    return frozenset(positions)


_INFINITY = 1 << 30


def letter_window(phrase: str, words: Sequence[HeardWord]) -> LetterWindow | None:
    """The window of whole heard words with the fewest letter edits to the phrase's letters
    (`phrase` as `phrase_letters` gives it: words separated by spaces).

    A semi-global edit alignment: heard letters before and after the window are free, but the
    window starts and ends on word boundaries, so 'bill' is never found inside 'billing' at no
    cost. A consonant said once for two words (`elided`) may be missing on either side at no
    cost. Among windows of equal cost the shortest, then the earliest, wins. None when nothing
    was heard or the phrase has no letters.
    """
    letters = phrase.replace(" ", "")
    heard = "".join(word.letters for word in words)
    if not letters or not heard:
        return None
    boundaries = _boundaries(words)
    unsaid = elided(phrase.split())
    unheard = elided([word.letters for word in words if word.letters])
    # Each cell: (cost, start) for the phrase's first i letters ending at heard position j.
    previous = [(0 if j in boundaries else _INFINITY, j) for j in range(len(heard) + 1)]
    for j in range(1, len(heard) + 1):  # extra heard letters at the window's start
        extra = (previous[j - 1][0] + 1, previous[j - 1][1])
        previous[j] = min(previous[j], extra, key=_cheapest_then_shortest)
    for i, letter in enumerate(letters):
        missing = 0 if i in unsaid else 1
        current = [(previous[0][0] + missing, previous[0][1])]
        for j, heard_letter in enumerate(heard, start=1):
            wrong = 0 if letter == heard_letter else 1
            added = 0 if j - 1 in unheard else 1
            current.append(
                min(
                    (previous[j - 1][0] + wrong, previous[j - 1][1]),
                    (previous[j][0] + missing, previous[j][1]),
                    (current[j - 1][0] + added, current[j - 1][1]),
                    key=_cheapest_then_shortest,
                )
            )
        previous = current
    cost, start, end = min(
        ((previous[end][0], previous[end][1], end) for end in sorted(boundaries)),
        key=lambda cell: (cell[0], cell[2] - cell[1], cell[2]),
    )
    first, last = _word_span(words, start, end)
    if first >= last:
        return None
    return LetterWindow(first, last, cost, len(letters))


def _cheapest_then_shortest(cell: tuple[int, int]) -> tuple[int, int]:
    cost, start = cell
    return cost, -start


def _boundaries(words: Sequence[HeardWord]) -> set[int]:
    positions = {0}
    offset = 0
    for word in words:
        offset += len(word.letters)
        positions.add(offset)
    return positions


def _word_span(words: Sequence[HeardWord], start: int, end: int) -> tuple[int, int]:
    """Indices of the first and past-the-last words with letters inside [start, end)."""
    offset = 0
    first, last = len(words), 0
    for index, word in enumerate(words):
        if word.letters and offset >= start and offset + len(word.letters) <= end:
            first, last = min(first, index), index + 1
        offset += len(word.letters)
    return first, last
