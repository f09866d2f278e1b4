"""What the classifier sees of a sentence: words, word pairs and letter runs.

Words and word pairs carry the meaning ("call you back", "not valid"); runs of four letters
across the whole sentence, spaces included, keep most of it when a recogniser splits, joins
or garbles a word ("callback" / "call back", "representatives" / "represent"). The digit
words a key is read as are one token, so "press nine" teaches what "press one" means.
"""

from __future__ import annotations

from itertools import pairwise

from shopper.text.normalize import normalize

KEY_TOKEN = "#"
KEY_WORDS = frozenset(
    {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
    | {"star", "pound", "hash"}
)
"""Words that name a key: grammar, not topic (which key is offered says nothing of kind)."""
LETTER_RUN = 4


def tokens(text: str) -> list[str]:
    return [KEY_TOKEN if word in KEY_WORDS else word for word in normalize(text).split()]


def features(text: str) -> set[str]:
    words = tokens(text)
    found = {f"w:{word}" for word in words}
    found.update(f"b:{a} {b}" for a, b in pairwise(words))
    padded = f" {' '.join(words)} "
    found.update(f"c:{padded[i : i + LETTER_RUN]}" for i in range(len(padded) - LETTER_RUN + 1))
    return found
