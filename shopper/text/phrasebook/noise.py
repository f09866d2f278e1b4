"""Recogniser-like errors, to train and test the classifier on words as they are heard.

A phone recogniser drops short words, hears a word as one that sounds alike, splits or
joins words and often gives no punctuation. `garble` does each at random, from general
English sound-alikes and letter edits that keep a word's sound roughly (a vowel for a vowel,
a lost final consonant) — not from the mishearings of any one IVR.
"""

from __future__ import annotations

import random
import re

SOUND_ALIKES = (
    ("to", "two", "too"),
    ("for", "four", "fore"),
    ("one", "won"),
    ("our", "are", "hour"),
    ("your", "you're", "you"),
    ("there", "their", "they're"),
    ("here", "hear"),
    ("no", "know"),
    ("by", "buy", "bye"),
    ("right", "write"),
    ("wait", "weight"),
    ("hold", "old", "told"),
    ("call", "cold", "all"),
    ("back", "bag"),
    ("line", "lane"),
    ("press", "dress", "breast", "fresh"),
    ("please", "police"),
    ("leave", "live"),
    ("message", "massage"),
    ("tone", "tune"),
    ("open", "opened"),
    ("closed", "close"),
    ("again", "a gain"),
    ("moment", "movement"),
    ("agent", "agents"),
    ("available", "a valuable"),
    ("menu", "many"),
    ("say", "see"),
    ("the", "a"),
    ("in", "and", "an"),
    ("it", "at"),
    ("is", "his"),
)
_ALIKE = {word: group for group in SOUND_ALIKES for word in group}
_VOWELS = "aeiou"
_PUNCTUATION = re.compile(r"[.,;:!?]")


def garble(text: str, rng: random.Random, rate: float = 0.12) -> str:
    """`text` with about `rate` of its words dropped, swapped for a sound-alike, edited,
    split or joined to the next, and with its punctuation lost half the time."""
    if rng.random() < 0.5:
        text = _PUNCTUATION.sub("", text)
    words = text.split()
    heard: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if rng.random() >= rate:
            heard.append(word)
            continue
        change = rng.randrange(4)
        if change == 0:
            continue
        if change == 1 and index < len(words):
            heard.append(word.rstrip(".,;:!?") + words[index])
            index += 1
        elif change == 2 and len(word) > 5:
            cut = rng.randrange(2, len(word) - 2)
            heard += [word[:cut], word[cut:]]
        else:
            heard.append(_sound_alike(word, rng))
    return " ".join(heard)


def _sound_alike(word: str, rng: random.Random) -> str:
    bare = word.lower().strip(".,;:!?")
    group = _ALIKE.get(bare)
    if group is not None:
        return rng.choice([w for w in group if w != bare] or [bare])
    vowels = [i for i, letter in enumerate(bare) if letter in _VOWELS]
    if vowels and rng.random() < 0.6:
        at = rng.choice(vowels)
        return bare[:at] + rng.choice(_VOWELS.replace(bare[at], "")) + bare[at + 1 :]
    return bare[:-1] if len(bare) > 3 else bare
