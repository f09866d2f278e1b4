"""Is this prompt one the crawl already knows? Judged on normalised words, tolerantly.

The same recording played on two calls is usually transcribed identically, but not always:
a prompt cut by a key press, or merged by the recogniser with the speech around it, comes
out with a few words more or less. So prompts are compared by word edit distance, and a
known prompt is recognised from its opening words anywhere in what was heard, which is what
lets a crawl press a known menu's key before the menu has finished talking.
"""

from __future__ import annotations

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


def words(text: str) -> list[str]:
    return normalize(text).split()


def similarity(a: str, b: str) -> float:
    """1 - word edit distance / longer length: 1.0 for the same words, 0.0 for nothing shared;
    the best over dropping a few leading words of either side (cut residue, see above)."""
    first, second = words(a), words(b)
    best = _similarity(first, second)
    for drop_first in range(CUT_RESIDUE_WORDS + 1):
        for drop_second in range(CUT_RESIDUE_WORDS + 1):
            x, y = first[drop_first:], second[drop_second:]
            if min(len(x), len(y)) >= MIN_COMPARED_WORDS:
                best = max(best, _similarity(x, y))
    return best


def _similarity(first: list[str], second: list[str]) -> float:
    longest = max(len(first), len(second))
    if longest == 0:
        return 1.0
    return 1.0 - word_edit_distance(first, second) / longest


def same_prompt(a: str, b: str) -> bool:
    return similarity(a, b) >= SAME_PROMPT_SIMILARITY


def find_opening(prompt: str, heard: list[str]) -> int | None:
    """Word index in `heard` where `prompt`'s opening words begin, or None if they are absent.

    The opening may be taken after a few leading words of `prompt` (cut residue, see above)."""
    said = words(prompt)
    best: tuple[int, int] | None = None
    for skip in range(min(CUT_RESIDUE_WORDS, max(0, len(said) - OPENING_WORDS)) + 1):
        opening = said[skip : skip + OPENING_WORDS]
        size = len(opening)
        if not opening or len(heard) < size:
            continue
        allowed = (1.0 - OPENING_SIMILARITY) * size
        for start in range(len(heard) - size + 1):
            distance = word_edit_distance(opening, heard[start : start + size])
            if distance <= allowed and (best is None or (distance, start) < best):
                best = (distance, start)
    return None if best is None else best[1]


def cut_words(heard: list[str], prompt: str, most: int) -> int:
    """How many of `heard`'s first words (at most `most`) are the end of `prompt` cut short.

    A key pressed while a prompt plays cuts it, and the recogniser may join the cut words to
    the next prompt in one utterance; those leading words are found again in the prompt."""
    said = words(prompt)
    row = [0] * (len(said) + 1)
    best = 0
    for i, word in enumerate(heard[:most], start=1):
        previous, row = row, [i]
        for j, other in enumerate(said, start=1):
            row.append(min(previous[j - 1] + (word != other), previous[j] + 1, row[j - 1] + 1))
        if min(row) <= i // 6:
            best = i
    return best
