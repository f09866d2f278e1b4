"""Menu options from what a recogniser heard: "press 1 for billing", "for billing, press one".

IVR prompts name their keys in two orders ("press 1 for billing" and "for billing press 1"),
and recognisers mishear the key words in predictable ways ("press to" for "press two", "press
free" for "press three"). A word heard right after "press" is almost always a key, so those
mishearings are read as keys there and nowhere else. A label belongs to the key whose press
phrase it stands next to within one sentence: words before the press phrase when there are
any, otherwise the words after the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shopper.crawl.verbs import after_verb
from shopper.text.normalize import normalize
from shopper.text.vocabulary import ivr_words

PRESS_WORDS = frozenset(
    {"press", "dress", "breast", "fresh", "dial", "enter", "push", "select", "touch"}
)
"""Words that introduce a key; "dress", "breast" and "fresh" are how Moonshine hears a
synthetic "press". "key in" introduces one too (see _verbs)."""
KEY_WORDS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "won": "1",
    "two": "2",
    "to": "2",
    "too": "2",
    "tooth": "2",
    "three": "3",
    "free": "3",
    "tree": "3",
    "four": "4",
    "for": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "mine": "9",
    "star": "*",
    "pound": "#",
}
NUMBER_GOES_ON = frozenset(
    {"zero", "one", "three", "five", "six", "seven", "eight", "nine", "hundred", "thousand"}
    | {"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"}
    | {"eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy"}
    | {"eighty", "ninety"}
)
"""Number words that, right after a key, make it the first digit of a number to dial ("dial
911", "dial nine one one"), not a key of the menu. "two" and "four" are left out: after a
key they are more often the next option's "to" and "for", misheard."""
OPTION_WORD = "option"
"""Many IVRs name a key by its option number ("For reservations, select option one", "For
rewards, option three"): "option" followed by a key is a key phrase with or without a verb."""
OPTION_KEYS = frozenset({"zero", "one", "two", "three", "four", "five", "six", "seven"})
OPTION_KEYS |= frozenset({"eight", "nine", "star", "pound"})
"""Keys after "option" are only the keys' own words: "to" and "for", read as keys after a key
verb, are here the option's words ("the option to pay online", "an option for families")."""
ARTICLES = frozenset({"the", "a"})
"""Words between a key verb and its key ("press the pound key"); the recogniser often hears
that "the" as "a" ("press a pound key")."""
FILLER_WORDS = frozenset({"please", "or", "say", "now", "and", "the", "key"})
LEAD_WORDS = frozenset({"for", "to"})
MAX_LABEL_WORDS = 6
MIN_CLAUSE_WORDS = 2
"""A longer label runs on from the sentence before the option, which the recogniser did not
end ("if you know your party's extension you may dial it at any time to establish a sales
partnership"): the option's own clause is its last "to ..." or "for ..."."""
SENTENCE_END = re.compile(r"[.!?;]+")
CLAUSE_BREAK = re.compile(r"[:,]+")
"""Where a clause ends inside a sentence, as the recogniser punctuates speech."""
CLAUSE_LEADS = frozenset({"for", "to", "if"})
"""Words that begin an option's label clause ("for the main menu, press star"; "to pay a
bill"; "if you are calling about an outage")."""
CLAUSE_END = re.compile(r"[.!?;:,]+")
"""Where a numbered list's items end: sentences, and the commas and colons a recogniser
writes after a spoken number ("One, check a balance." / "Two: financial aid")."""
LIST_KEYS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "zero")
"""The digits as the own words a numbered list says them, in the order menus number their
items (zero, the operator, last). Mishearings ("to", "for", "free") are keys only after a
key verb: at a clause's start they are the clause's own words ("To pay a bill", "For
sales")."""
MIN_LIST_ITEMS = 2
"""A numbered list is at least two items in ascending order that no key verb names: one
clause that begins with a number is a sentence like any other ("One moment, please"), and
"for" is often heard "four" ("For lost property, press one, four-time tables, press two")."""


@dataclass(frozen=True, slots=True)
class HeardOption:
    key: str | None
    """None when the prompt was cut off after "press" before the key was said."""
    label: str


def parse_options(text: str) -> list[HeardOption]:
    """Every key the prompt offers, in the order heard; a key offered twice is kept once.
    Keys named by a key verb ("press 1 for billing") come first, then the items of a
    numbered list the verbs did not name ("Press one for billing, two for sales"; "Enter the
    number of your choice. One, check a balance. Two, a lost card")."""
    found: list[HeardOption] = []
    left: list[str] = []
    for sentence in SENTENCE_END.split(text):
        options, left = _sentence_options(*_sentence_words(sentence), left)
        found.extend(options)
    found.extend(_numbered_items(text))
    unique: list[HeardOption] = []
    for option in found:
        if option.key is None or all(option.key != kept.key for kept in unique):
            unique.append(option)
    return unique


def _numbered_items(text: str) -> list[HeardOption]:
    """The items of a numbered list: clauses that begin with a digit's own word followed by
    a label ("One: undergraduate admissions", "Two, a lost card"), when at least
    `MIN_LIST_ITEMS` of them with no key verb come in ascending order (a clause that begins
    with a key verb and a number may be the list's first item: "Press one for billing, two
    for sales, three for support"; one with a key verb later is a key phrase, not an item:
    "Four billing, press one" for "For billing"). An item's label is the rest of its
    clause, or the next clause when the number stands alone ("Five. The campus police
    line"). A number followed by another ("one eight hundred", "five five five") is part of
    a phone number, not an item; an item out of order ends the list."""
    items: list[tuple[str, list[str]]] = []
    unnamed = 0
    for clause in CLAUSE_END.split(text):
        words = normalize(clause).split()
        named = len(words) > 1 and words[0] in PRESS_WORDS
        if named:
            words = words[1:]  # "Press one for billing, two for sales": the list's first item
        if _list_item(words) and (named or not _verbs(words)):
            if items and LIST_KEYS.index(words[0]) <= LIST_KEYS.index(items[-1][0]):
                break
            items.append((words[0], words[1:]))
            unnamed += not named
        elif items and not items[-1][1] and not _verbs(words):
            items[-1][1].extend(words)
    if unnamed < MIN_LIST_ITEMS:
        return []
    return [HeardOption(KEY_WORDS[key], _label(label)) for key, label in items]


def _list_item(words: list[str]) -> bool:
    """Whether a clause begins with a digit's own word that is no phone number's."""
    return bool(words) and words[0] in LIST_KEYS and not _in_number(words, 0)


def _verbs(words: list[str]) -> list[int]:
    """Where a key verb is: a press word, the "in" of "key in" (as in "key in 5"), or an
    "option" followed by a key's own word that no key verb comes right before ("option
    three"; in "select option one" the verb is "select")."""
    return [
        i
        for i, word in enumerate(words)
        if word in PRESS_WORDS
        or (word == "in" and i > 0 and words[i - 1] == "key")
        or (_names_option(words, i) and (i == 0 or words[i - 1] not in PRESS_WORDS))
    ]


def _names_option(words: list[str], at: int) -> bool:
    """Whether words[at] is "option" followed by a key's own word ("option one")."""
    return words[at] == OPTION_WORD and at + 1 < len(words) and words[at + 1] in OPTION_KEYS


def _key_at(words: list[str], verb_at: int) -> int:
    """Where the key after the key verb at `verb_at` is: past an article ("press the pound
    key") or an option word ("select option one")."""
    key_at = verb_at + 1
    if key_at < len(words) and (words[key_at] in ARTICLES or _names_option(words, key_at)):
        key_at += 1
    return key_at


def _sentence_words(sentence: str) -> tuple[list[str], frozenset[int]]:
    """The sentence's normalised words, and where each of its clauses but the first begins."""
    words: list[str] = []
    starts: set[int] = set()
    for clause in CLAUSE_BREAK.split(sentence):
        said = normalize(clause).split()
        if said and words:
            starts.add(len(words))
        words += said
    return words, frozenset(starts)


def _sentence_options(
    words: list[str], clause_starts: frozenset[int], left_before: list[str]
) -> tuple[list[HeardOption], list[str]]:
    """The sentence's options, and its words after the last one no option took (the label of
    a key in the next sentence, when the recogniser ended the sentence in the wrong place:
    "press eight to hear these options again. press the pound key"). `left_before` are those
    of the sentence before: the label of this sentence's first key when it has no words of
    its own on either side."""
    presses = _verbs(words)
    options: list[HeardOption] = []
    consumed = 0
    for n, at in enumerate(presses):
        next_press = presses[n + 1] if n + 1 < len(presses) else len(words)
        key_at = _key_at(words, at)
        key = KEY_WORDS.get(words[key_at]) if key_at < len(words) else None
        if (key is None and key_at < next_press) or _in_number(words, key_at):
            continue
        before = _label(words[consumed:at])
        if before:
            label = before
            consumed = key_at + 1
        else:
            consumed = _label_end(key_at + 1, next_press, words, clause_starts)
            label = _label(words[key_at + 1 : consumed])
            if not label and not options:
                label = _label(left_before)
        options.append(HeardOption(key, label))
    return options, words[consumed:] if presses else []


def _label_end(start: int, next_press: int, words: list[str], clause_starts: frozenset[int]) -> int:
    """Where the label after a key ends: at the next key phrase, or earlier, at the last
    clause before it that begins like a label of its own ("Press zero to talk with an agent,
    for the main menu, press star": "for the main menu" is the star key's)."""
    if next_press >= len(words):
        return next_press
    leads = [at for at in clause_starts if start < at < next_press and words[at] in CLAUSE_LEADS]
    return max(leads, default=next_press)


def names_unread_key(text: str) -> bool:
    """Whether a sentence of `text` has a key verb ("press", "select", "enter") followed by a
    word that is no key ("press tar" for "press star", "Select ign" for "Select nine"): the
    prompt offers a key the recogniser garbled, so it is a menu to read by the audio
    (shopper.crawl.keys_by_audio), not a message. A verb ending its sentence counts too (the
    key swallowed)."""
    for sentence in SENTENCE_END.split(text):
        said = normalize(sentence).split()
        for at in _verbs(said):
            key_at = _key_at(said, at)
            if key_at >= len(said) or said[key_at] not in KEY_WORDS:
                return True
    return False


def may_name_unread_key(text: str) -> bool:
    """`names_unread_key`, or a sentence with a word no IVR says that begins like "press"
    misheard by a letter, followed by more words ("peress you" and "pressed you" for "press
    two", flite slt): for a menu, reason to try the key after its run too. Not reason enough
    to take a prompt for a menu: such a word is more often some other word misheard."""
    if names_unread_key(text):
        return True
    for sentence in SENTENCE_END.split(text):
        said = normalize(sentence).split()
        if any(_garbled_press(word) for word in said[:-1]):
            return True
    return False


GARBLED_PRESS_REST = 3
"""Letters after the "press" in such a word: a fused key ("Prestew") or an ending
("pressed"); more, and it is another word ("presently", "presidents")."""


def _garbled_press(word: str) -> bool:
    """Whether `word` begins like "press" misheard by a letter and is no word of IVR language
    (shopper.text.vocabulary) nor of the parser's key verbs."""
    rest = after_verb(word, ("press",), max_errors=1)
    if rest is None or rest > GARBLED_PRESS_REST:
        return False
    return word not in PRESS_WORDS and word not in ivr_words()


def _in_number(words: list[str], key_at: int) -> bool:
    return key_at + 1 < len(words) and words[key_at + 1] in NUMBER_GOES_ON


def _label(words: list[str]) -> str:
    kept = [w for w in words if w not in FILLER_WORDS]
    if len(kept) > MAX_LABEL_WORDS:
        leads = [i for i, w in enumerate(kept[:-MIN_CLAUSE_WORDS]) if w in LEAD_WORDS]
        kept = kept[leads[-1] :] if leads else kept
    while kept and kept[0] in LEAD_WORDS:
        kept = kept[1:]
    while kept and kept[-1] in FILLER_WORDS | LEAD_WORDS:
        kept = kept[:-1]
    return " ".join(kept)
