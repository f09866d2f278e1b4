"""Is this prompt one the crawl already knows? Judged on normalised words, tolerantly.

The same recording played on two calls is usually transcribed identically, but not always:
a prompt cut by a key press, or merged by the recogniser with the speech around it, comes
out with a few words more or less. So prompts are compared by word edit distance, and a
known prompt is recognised from its opening words anywhere in what was heard, which is what
lets a crawl press a known menu's key before the menu has finished talking.
"""

from __future__ import annotations

import itertools
import re
from typing import NamedTuple

from shopper.crawl.options import KEY_WORDS
from shopper.text.letters import HeardWord, letter_window
from shopper.text.normalize import normalize
from shopper.text.wer import word_edit_distance

SAME_PROMPT_SIMILARITY = 0.75
OPENING_WORDS = 8
"""Words of a known prompt that identify it: enough to tell two menus with a common
greeting apart ("thank you for calling acme bank" opens both the day and night menus)."""
OPENING_SIMILARITY = 0.85
CUT_RESIDUE_WORDS = 2
"""Leading words a prompt may carry that are not its own: the tail of the prompt a key cut,
still playing while the key was processed ("For the billing and payment" for "Billing and
payments"), and heard again, differently, on every call that reaches the prompt."""
MIN_COMPARED_WORDS = 4
SENTENCE = re.compile(r"[^.!?]+[.!?]*")
MIN_STEM_LETTERS = 4
MAX_ENDING_LETTERS = 2
MIN_TAIL_WORDS = 6
MIN_HEAD_WORDS = 3
SNAP_WORDS = 3
"""How far (words) a cut found by time may move to the start of a sentence: a recording begins
at one, and the recogniser's words are spread unevenly over their time (pauses, long words)."""
TAIL_SIMILARITY = 0.85
"""Stricter than SAME_PROMPT_SIMILARITY: a tail is compared word for word with the end of
what was heard, and a looser match would take a few words of the speech before it (a
message ending "... dot com" before a menu whose greeting also ends "... dot com")."""


def words(text: str) -> list[str]:
    return normalize(text).split()


def similarity(a: str, b: str) -> float:
    """1 - word edit distance / longer length: 1.0 for the same words, 0.0 for nothing shared;
    the best over dropping a few leading words of either side (cut residue, see above)."""
    first, second = words(a), words(b)
    best = word_similarity(first, second)
    for drop_first in range(CUT_RESIDUE_WORDS + 1):
        for drop_second in range(CUT_RESIDUE_WORDS + 1):
            x, y = first[drop_first:], second[drop_second:]
            if min(len(x), len(y)) >= MIN_COMPARED_WORDS:
                best = max(best, word_similarity(x, y))
    return best


def word_similarity(first: list[str], second: list[str]) -> float:
    """1 - word edit distance / longer length, word for word (no leading words dropped)."""
    longest = max(len(first), len(second))
    if longest == 0:
        return 1.0
    return 1.0 - word_edit_distance(first, second) / longest


def same_prompt(a: str, b: str) -> bool:
    return similarity(a, b) >= SAME_PROMPT_SIMILARITY


def find_opening(prompt: str, heard: list[str]) -> int | None:
    """Word index in `heard` where `prompt`'s opening words begin, or None if they are absent.

    The opening may be taken after a few leading words of `prompt` (cut residue, see above)."""
    best: tuple[int, int] | None = None
    for opening in _openings(prompt):
        size = len(opening)
        if not opening or len(heard) < size:
            continue
        allowed = (1.0 - OPENING_SIMILARITY) * size
        for start in range(len(heard) - size + 1):
            distance = word_edit_distance(opening, heard[start : start + size])
            if distance <= allowed and (best is None or (distance, start) < best):
                best = (distance, start)
    return None if best is None else best[1]


def find_opening_by_letters(prompt: str, heard: list[str]) -> int | None:
    """`find_opening`, letter by letter: where the letters of whole heard words come within
    OPENING_SIMILARITY of the opening's (shopper.text.letters). For a route's known menu,
    learned with its key phrases as the audio check read them ("Press one"), while each
    call's transcript spells them as it heard them ("Breslon", flite kal): two word edits in
    eight, no match word by word, and Larkspur's reservations menu was never reached again."""
    best: tuple[int, int] | None = None
    spoken = [HeardWord(word, word) for word in heard]
    for opening in _openings(prompt):
        if len(opening) < OPENING_WORDS:
            continue
        window = letter_window(" ".join(opening), spoken)
        if window is None or window.similarity < OPENING_SIMILARITY:
            continue
        if len(heard) - window.start < len(opening):
            continue  # not heard far enough yet: word by word, the opening needs its words too
        if best is None or (window.distance, window.start) < best:
            best = (window.distance, window.start)
    return None if best is None else best[1]


def _openings(prompt: str) -> list[list[str]]:
    """The prompt's opening words, and the same after each of its first few words (cut
    residue, see above)."""
    said = words(prompt)
    skips = range(min(CUT_RESIDUE_WORDS, max(0, len(said) - OPENING_WORDS)) + 1)
    return [said[skip : skip + OPENING_WORDS] for skip in skips]


def opens_with(prompt: str, heard: list[str]) -> bool:
    """Whether `heard` begins with `prompt`'s very first words (its title, none skipped):
    find_opening may recognise a prompt a sentence late, after a short title the recogniser
    heard as a sentence of its own ("Pine Clinic." then "For appointments, press 1...")."""
    opening = words(prompt)[:OPENING_WORDS]
    if not opening or len(heard) < len(opening):
        return False
    allowed = (1.0 - OPENING_SIMILARITY) * len(opening)
    return word_edit_distance(opening, heard[: len(opening)]) <= allowed


def cut_words(heard: list[str], prompt: str, most: int) -> int:
    """How many of `heard`'s first words (at most `most`) are the end of `prompt` cut short.

    A key pressed while a prompt plays cuts it, and the recogniser may join the cut words to
    the next prompt in one utterance; those leading words are found again in the prompt. The
    last of them must be one of the prompt's words: the errors allowed inside the run would
    otherwise take in the next prompt's first word."""
    said = words(prompt)
    row = [0] * (len(said) + 1)
    best = 0
    for i, word in enumerate(heard[:most], start=1):
        previous, row = row, [i]
        matched = i
        for j, other in enumerate(said, start=1):
            same = _same_word(word, other)
            if same:
                matched = min(matched, previous[j - 1])
            row.append(min(previous[j - 1] + (not same), previous[j] + 1, row[j - 1] + 1))
        if matched <= i // 6:
            best = i
    return max(best, _cut_letters(heard[:most], said))


CUT_LETTER_SIMILARITY = SAME_PROMPT_SIMILARITY
"""How alike, letter for letter, the cut words must be to a stretch of the prompt: as alike
as two hearings of one prompt (SAME_PROMPT_SIMILARITY). Word for word the recogniser's two
readings of one stretch differ far more ("If you are calling about a new claim" /
"If you're calling about an acclaim": 3 of 7 words, 2 of 32 letters)."""
MIN_CUT_LETTERS = 12
"""Fewer letters than this are left to the word comparison: a short run of letters is alike
to too many stretches of a long prompt."""


def _cut_letters(heard: list[str], said: list[str]) -> int:
    """How many of `heard`'s first words are a stretch of `said` heard in other words: their
    letters, run together, align with some stretch of `said`'s letters (free start and end)
    at CUT_LETTER_SIMILARITY or better, ending at the end of a word of `said` that is the
    last heard word (so the next prompt's first word, even one `said` also contains, is not
    taken in: "If you're billing" after a cut "If you're calling")."""
    letters = "".join(said)
    ends: dict[int, str] = {}
    at = 0
    for word in said:
        at += len(word)
        ends[at] = word
    row = [0] * (len(letters) + 1)
    done, best = 0, 0
    for count, word in enumerate(heard, start=1):
        for letter in word:
            previous, row = row, [row[0] + 1]
            for j, other in enumerate(letters, start=1):
                row.append(
                    min(previous[j - 1] + (letter != other), previous[j] + 1, row[j - 1] + 1)
                )
        done += len(word)
        allowed = (1.0 - CUT_LETTER_SIMILARITY) * done
        if done >= MIN_CUT_LETTERS and any(
            row[end] <= allowed and _same_word(word, ended) for end, ended in ends.items()
        ):
            best = count
    return best


def _same_word(heard: str, said: str) -> bool:
    """Equal, or one word heard with another ending ("document" for "documents", "option" for
    "options"): the recogniser is least sure of a word's ending; or the start of the word
    ("represent" for "representatives"), as a cut recording leaves its last word; or two
    readings of one key ("to" and "two", "free" and "three"): a menu's key words are written
    as the audio check chose them (shopper.crawl.keys_by_audio), while the cut words come
    straight from the recogniser."""
    if heard == said or (len(heard) >= MIN_STEM_LETTERS and said.startswith(heard)):
        return True
    key = KEY_WORDS.get(heard)
    if key is not None and key == KEY_WORDS.get(said):
        return True
    shorter, longer = sorted((heard, said), key=len)
    return (
        len(shorter) >= MIN_STEM_LETTERS
        and longer.startswith(shorter)
        and len(longer) - len(shorter) <= MAX_ENDING_LETTERS
    )


def tail_start(prompt: str, heard: str) -> tuple[int, int] | None:
    """Where `heard` ends with the rest of `prompt` without its first sentences: (words of
    `prompt` before that rest, words of `heard` before it), the longest such rest; None when
    `heard` does not end so, or is the whole prompt (its first sentences heard again, in any
    words, right before the rest: see replay_start).

    Hearing only the rest of a known prompt means one of two things: the key pressed in it
    was ignored and the prompt played on, or the prompt is two recordings (a greeting, then a
    menu) and the phone system came back to the second one alone, perhaps after a message."""
    rest = _rest(prompt, heard)
    if rest is None or rest.head_at is not None:
        return None
    return rest.said_at, rest.heard_at


def replay_start(prompt: str, heard: str) -> int | None:
    """Word index in `heard` where the whole of `prompt` begins again after other speech (a
    message, then the menu replayed from its start, its first sentences heard in other
    words: "Thank you. Prescription refills, press one..." for "Foot, prescription, reef
    hills, press one..."); None when `heard` does not end with it or begins with it."""
    rest = _rest(prompt, heard)
    if rest is None or not rest.head_at:
        return None
    return rest.head_at


class _Rest(NamedTuple):
    said_at: int
    heard_at: int
    head_at: int | None
    """Where the prompt's first sentences begin again right before the rest; None if absent."""


def _rest(prompt: str, heard: str) -> _Rest | None:
    said, got = words(prompt), words(heard)
    starts = [0]
    for sentence in SENTENCE.findall(prompt)[:-1]:
        starts.append(starts[-1] + len(words(sentence)))
    for at in starts[1:]:
        size = len(said) - at
        if at < MIN_HEAD_WORDS or size < MIN_TAIL_WORDS or size > len(got):
            continue
        if word_similarity(said[at:], got[-size:]) < TAIL_SIMILARITY:
            continue
        before = got[: len(got) - size]
        return _Rest(at, len(before), _head_again(said[:at], before))
    return None


def _head_again(head: list[str], before: list[str]) -> int | None:
    """Where the words before the rest end with the prompt's head heard again (the best
    alike ending of half to twice its length), or None."""
    endings = range(max(0, len(before) - 2 * len(head)), len(before) - len(head) // 2 + 1)
    alike = [(_head_likeness(head, before[start:]), start) for start in endings]
    best = max(alike, default=(0.0, 0))
    return best[1] if best[0] >= SAME_PROMPT_SIMILARITY else None


def _head_likeness(head: list[str], before: list[str]) -> float:
    """How alike the words before the rest are to the prompt's head: word for word, or
    letter for letter, since the recogniser cuts the same sounds into other words on each
    hearing ("reef hills" / "refills", "Care Bridge" / "CareBridge")."""
    return max(word_similarity(head, before), letter_similarity(head, before))


def letter_similarity(first: list[str], second: list[str]) -> float:
    """1 - letter edit distance / longer length, the words run together without spaces."""
    a, b = "".join(first), "".join(second)
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    return 1.0 - word_edit_distance(list(a), list(b)) / longest


def split_words(text: str, count: int) -> tuple[str, str]:
    """`text` cut after its first `count` normalised words, keeping the punctuation of both
    parts (which is what later cuts them into sentences)."""
    tokens = text.split()
    taken = 0
    dropped = 0
    while taken < len(tokens) and dropped < count:
        dropped += len(words(tokens[taken]))
        taken += 1
    return " ".join(tokens[:taken]), " ".join(tokens[taken:])


def word_at(text: str, start_s: float, end_s: float, at_s: float) -> int:
    """How many normalised words of `text`, heard from `start_s` to `end_s`, were said before
    `at_s`: that share of the words, moved to the nearest sentence start within SNAP_WORDS
    (the recogniser gives no word times). Never all of them: `at_s` lies inside the text."""
    tokens = text.split()
    counts = [len(words(token)) for token in tokens]
    total = sum(counts)
    if total == 0 or end_s <= start_s:
        return 0
    guess = round(total * (at_s - start_s) / (end_s - start_s))
    said_by = itertools.accumulate(counts)
    starts = [said for said, token in zip(said_by, tokens, strict=True) if token[-1] in ".!?"]
    nearest = min(starts, key=lambda said: abs(said - guess), default=guess)
    if abs(nearest - guess) <= SNAP_WORDS:
        guess = nearest
    return min(max(guess, 0), total - 1)
