"""Which key a menu offers, asked of the speech model rather than read from its transcript.

The word after "press" is the one a recogniser gets wrong most: a synthetic "press two" comes
out as "Prestew", "breast-too" or "press to", "press five" as "press I". The transcript then
loses the option, and no list of mishearings covers the next voice. The model can say more
than its greedy reading: scoring the utterance's audio against the same text with each of
the 12 keys in the key's place (shopper.asr.types.RecognizerStream.verify) picked the right
key in 53 of 55 synthetic menus, against 35 read from the transcript, and in 11 of 11 read by
espeak-ng, against 3 (../shared/research/phrase-scoring.md).

Where a key phrase is, is found from the letters of the heard words, not from a list: a word
that begins like "press", "dial" or "enter" (within a letter or two) is a place the phrase may
be. Its key is either the rest of that word ("Prestew": "press" + "tew") or the next word
("press I"). Each place costs one batch of 12 candidates; a place where no key fits the audio
(a "please" that begins like "press") changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from shopper.asr.types import Fit, Utterance, VerifyUnavailable
from shopper.crawl.options import KEY_WORDS, OPTION_WORD
from shopper.crawl.verbs import (
    MAX_FUSED_LETTERS,
    MIN_FUSED_LETTERS,
    after_verb,
    letters_of,
    verb_of,
)

KEY_NAMES = {
    "0": "zero",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
    "*": "star",
    "#": "pound",
}
"""The 12 phone keys, written the way the model writes them after "press" (digits as
words: "Press 3" scored 6.9 nats below "Press three" where the model wrote the word)."""
HEARD_KEYS = frozenset(KEY_WORDS)
"""Words heard after a verb that already name a key (shopper.crawl.options)."""
ACCEPT_MARGIN = -3.0
"""Nats against the model's own reading from which the best key is taken: no wrong phrase of
210 reached it in the research note's synthetic menus."""
KEY_GAP = 3.0
LEAST_MARGIN = -8.0
"""Below ACCEPT_MARGIN, the best key is still taken when it beats every other key by KEY_GAP
nats and is above LEAST_MARGIN: the audio then tells the keys clearly apart at this place,
although the whole candidate is less likely than the garbled reading (flite rms's "press
eight", heard "press it": "press eight" -4.5, the next key -10.5). Otherwise no key fits the
place (a "please" that begins like "press") and the words stay as heard. These two figures
are judgement, not fitted: see docs/crawl.md, Limits."""
AMBIGUOUS_FUSED_LETTERS = 2
"""A rest this short may be the key ("Presto") or the verb's own ending with the key the next
word ("Pressed to" for "press two", "Dialed nine"): both readings are scored."""
_SENTENCE_END = re.compile(r"[.!?;]$")

Verify = Callable[[Utterance, Sequence[str]], Awaitable[list[Fit]]]


@dataclass(frozen=True, slots=True)
class KeyPlace:
    """Words of an utterance (token indices, split on spaces) that may say "press <key>"."""

    first: int
    end: int
    """One past the last token replaced: the verb's token, and the next one when the key is
    a word of its own."""
    or_end: int | None = None
    """The other reading's end when the verb's token may be read both ways (see
    AMBIGUOUS_FUSED_LETTERS): the key fused into it, or the next word."""
    option_end: int | None = None
    """The end of a reading whose verb is followed by the word "option", misheard, and then
    the key ("select auction one" for "select option one", flite slt: the key phrase of a
    whole menu lost)."""
    option: bool = False
    """Whether this reading says "<verb> option <key>" (one of `option_end`'s)."""


def key_places(text: str) -> list[KeyPlace]:
    """Where in `text` a key phrase may be, in order; places do not overlap."""
    tokens = text.split()
    places: list[KeyPlace] = []
    index = 0
    while index < len(tokens):
        rest = after_verb(tokens[index])
        if rest is None or rest > MAX_FUSED_LETTERS:
            index += 1
            continue
        fused = rest >= MIN_FUSED_LETTERS
        end = index + 1 if fused else min(index + 2, len(tokens))
        after = tokens[index + 1] if index + 1 < len(tokens) else ""
        either = rest == AMBIGUOUS_FUSED_LETTERS and bool(after) and after_verb(after) is None
        split_end = None if either else _split_key_end(tokens, end)
        places.append(KeyPlace(index, end, index + 2 if either else split_end, split_end))
        index = end
    return places


def _split_key_end(tokens: list[str], end: int) -> int | None:
    """The end of a reading whose key the recogniser heard as two words ("enter the aero" for
    "enter zero", "press near over" for "press zero"): one more word replaced, when the word
    after the verb is no key and another word follows it in the same sentence."""
    last = tokens[end - 1]
    if end >= len(tokens) or _SENTENCE_END.search(last) or after_verb(last) is not None:
        return None
    return None if letters_of(last) in HEARD_KEYS else end + 1


def candidates(text: str, place: KeyPlace) -> list[str]:
    """`text` with the place's words replaced by "press <key>" (or "press option <key>") for
    each of the 12 keys, in the order of KEY_NAMES, keeping the heard case of the verb and
    the punctuation after it."""
    tokens = text.split()
    verb = verb_of(tokens[place.first])
    if tokens[place.first][:1].isupper():
        verb = verb.capitalize()
    trailing = re.search(r"[^A-Za-z0-9]*$", tokens[place.end - 1])
    tail = trailing.group(0) if trailing is not None else ""
    option = f" {OPTION_WORD}" if place.option else ""
    return [
        " ".join([*tokens[: place.first], f"{verb}{option} {name}{tail}", *tokens[place.end :]])
        for name in KEY_NAMES.values()
    ]


CONTEXT_WORDS = 3
"""Heard words before a changed key phrase that place the change in a longer text: a prompt
may say the same words twice ("press 2. If you'd like to go back to the directory, press 2"
for "... press star"), and only one of them was misheard."""


@dataclass(frozen=True, slots=True)
class KeyChange:
    """A key phrase the audio changed, with the heard words right before it."""

    before: tuple[str, ...]
    heard: str
    confirmed: str

    def apply(self, text: str) -> str:
        """`text` (a prompt cut from the utterance's text) with the change made where it was
        heard: after as many of the words before it as `text` still holds (a prompt may begin
        inside the utterance), else at the first place saying the heard words."""
        for size in range(len(self.before), -1, -1):
            context = " ".join(self.before[len(self.before) - size :])
            heard = f"{context} {self.heard}" if context else self.heard
            if heard in text:
                confirmed = f"{context} {self.confirmed}" if context else self.confirmed
                return text.replace(heard, confirmed, 1)
        return text


@dataclass(frozen=True, slots=True)
class KeyReading:
    """An utterance's text with each key phrase the audio confirmed written as the model
    would write it; `keys` are the keys chosen, with their margins (nats)."""

    text: str
    keys: tuple[tuple[str, float], ...]
    changes: tuple[KeyChange, ...] = ()
    """Each key phrase the audio changed, in the order heard."""


async def read_keys(verify: Verify, utterance: Utterance) -> KeyReading:
    """The utterance with its key phrases chosen by the audio (see the module doc). Without an
    audio check (VerifyUnavailable), the text as heard."""
    tokens = utterance.text.split()
    chosen: list[tuple[KeyPlace, str, float]] = []
    for heard_place in key_places(utterance.text):
        readings = _readings(heard_place)
        texts = [text for place in readings for text in candidates(utterance.text, place)]
        try:
            fits = await verify(utterance, texts)
        except VerifyUnavailable:
            return KeyReading(utterance.text, ())
        best = max(range(len(fits)), key=lambda i: fits[i].margin)
        per_key = [
            max(fit.margin for fit in fits[key :: len(KEY_NAMES)]) for key in range(len(KEY_NAMES))
        ]
        if _fits(fits[best].margin, per_key):
            place = readings[best // len(KEY_NAMES)]
            replaced = texts[best].split()[place.first : place.first + (3 if place.option else 2)]
            chosen.append((place, " ".join(replaced), fits[best].margin))
    changes = tuple(
        KeyChange(
            tuple(tokens[max(0, place.first - CONTEXT_WORDS) : place.first]),
            " ".join(tokens[place.first : place.end]),
            words,
        )
        for place, words, _ in chosen
        if " ".join(tokens[place.first : place.end]) != words
    )
    for place, words, _ in reversed(chosen):
        tokens[place.first : place.end] = [words]
    keys = tuple((_key_of(words), round(margin, 2)) for _, words, margin in chosen)
    return KeyReading(" ".join(tokens), keys, changes)


def _readings(place: KeyPlace) -> list[KeyPlace]:
    """The place's readings: as heard, the other way its verb's token may be read, and
    with a misheard "option" between the verb and the key."""
    readings = [KeyPlace(place.first, place.end)]
    if place.or_end is not None:
        readings.append(KeyPlace(place.first, place.or_end))
    if place.option_end is not None:
        readings.append(KeyPlace(place.first, place.option_end, option=True))
    return readings


def _fits(best: float, margins: list[float]) -> bool:
    """Whether the best key is taken, given each key's best margin."""
    runner_up = sorted(margins)[-2]
    return best >= ACCEPT_MARGIN or (best >= LEAST_MARGIN and best - runner_up >= KEY_GAP)


def _key_of(words: str) -> str:
    name = letters_of(words.split()[-1])
    return next(key for key, key_name in KEY_NAMES.items() if key_name == name)
