"""Words that begin like a key verb ("press", "dial", "enter", "select", "push"), by their
letters, however the recogniser spelt them: "Prestew", "breast", "perasu", "peress".

Both the audio check of key phrases (shopper.crawl.keys_by_audio: where to ask which key the
audio names) and the option parser (shopper.crawl.options.names_unread_key: a menu naming a
key nobody could read) look for them, so no list of mishearings has to cover the next voice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shopper.text.wer import word_edit_distance

KEY_PHRASE_WORDS = ("press", "dial", "enter", "select", "push")
"""The verbs that introduce a key, as the model writes them: those the option parser reads
(shopper.crawl.options.PRESS_WORDS, less its mishearings of "press"), so an option whose verb
the parser knows never misses the audio check ("Select nine" heard "Select ign")."""
MAX_LETTER_ERRORS = 2
"""Letters a heard word's beginning may differ from a key verb by ("breast", "brass" and
"dress" for "press"; one letter for a four-letter verb such as "dial")."""
MIN_FUSED_LETTERS = 2
MAX_FUSED_LETTERS = 6
"""Letters after the verb's beginning that make the rest of the word the key ("Prestew":
"tew"); fewer ("breast") and the key is the next word; more ("prescriptions") and the word
is another word, no key phrase."""
_NOT_LETTERS = re.compile(r"[^a-z]")


def letters_of(token: str) -> str:
    """A token's letters, lower case: 'Press,' gives 'press'."""
    return _NOT_LETTERS.sub("", token.lower())


def after_verb(
    token: str, verbs: Sequence[str] = KEY_PHRASE_WORDS, max_errors: int = MAX_LETTER_ERRORS
) -> int | None:
    """How many letters of `token` follow a beginning that is one of `verbs` misheard by at
    most a letter or two (None when it begins like none)."""
    letters = letters_of(token)
    best: tuple[int, int] | None = None
    for verb in verbs:
        allowed = min(max_errors, (len(verb) + 1) // 3)
        for size in range(len(verb) - 1, len(verb) + 2):
            if size > len(letters):
                break
            errors = word_edit_distance(letters[:size], verb)
            if errors <= allowed and (best is None or errors < best[0]):
                best = (errors, len(letters) - size)
    return None if best is None else best[1]


def verb_of(token: str) -> str:
    """The key verb `token` begins most like."""
    letters = letters_of(token)
    return min(KEY_PHRASE_WORDS, key=lambda verb: word_edit_distance(letters[: len(verb)], verb))
