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


def words(text: str) -> list[str]:
    return normalize(text).split()


def similarity(a: str, b: str) -> float:
    """1 - word edit distance / longer length: 1.0 for the same words, 0.0 for nothing shared."""
    first, second = words(a), words(b)
    longest = max(len(first), len(second))
    if longest == 0:
        return 1.0
    return 1.0 - word_edit_distance(first, second) / longest


def same_prompt(a: str, b: str) -> bool:
    return similarity(a, b) >= SAME_PROMPT_SIMILARITY


def find_opening(prompt: str, heard: list[str]) -> int | None:
    """Word index in `heard` where `prompt`'s opening words begin, or None if they are absent."""
    opening = words(prompt)[:OPENING_WORDS]
    if not opening or len(heard) < len(opening):
        return None
    size = len(opening)
    allowed = (1.0 - OPENING_SIMILARITY) * size
    best: tuple[int, int] | None = None
    for start in range(len(heard) - size + 1):
        distance = word_edit_distance(opening, heard[start : start + size])
        if distance <= allowed and (best is None or distance < best[0]):
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
