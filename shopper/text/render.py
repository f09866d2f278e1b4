"""An expected phrase written the way the recogniser writes, spliced into what it heard.

The audio check asks the speech model how likely a whole alternative text is given the
utterance's audio, against its own reading. The model also scores spelling: the published
transcript of a prompt, written in another style, scored a median 3.7 nats below the model's
own reading even where the words were the same (docs/matching.md). So the alternative keeps
everything the recogniser wrote outside the phrase, and inside it keeps each word the phrase
agrees with exactly as written (case, punctuation, '1' or 'one'); only the words that differ
are replaced, in the style of the words they replace. Since the right window and digit style
are not certain, a few renderings are made and the best one counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shopper.text.letters import LetterWindow
from shopper.text.normalize import normalize

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORDS = {word: value for value, word in enumerate(_UNITS)} | {
    word: 10 + value for value, word in enumerate(_TEENS)
}
_TENS_WORDS = {word: 20 + 10 * value for value, word in enumerate(_TENS)}
_SENTENCE_ENDS = (".", "?", "!")


@dataclass(frozen=True, slots=True)
class _Written:
    """A recogniser's word split into what surrounds it and what it says."""

    leading: str
    core: str
    trailing: str
    spoken: tuple[str, ...]


def renderings(
    heard: str,
    phrase: str,
    window: LetterWindow,
    mishearings: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """Whole-utterance alternatives saying `phrase` in place of heard words window.start:end.

    Variants: the phrase's numbers as words and as numerals; the window as found and widened
    by one heard word at either side (a neighbour that the recogniser made of the phrase's
    sounds is replaced too). Distinct texts, the plain rendering first.
    """
    written = [_written(raw, mishearings) for raw in heard.split()]
    spoken = tuple(normalize(phrase, mishearings).split())
    styles = _phrase_case(phrase, mishearings)
    windows = [(window.start, window.end)]
    if window.start > 0:
        windows.append((window.start - 1, window.end))
    if window.end < len(written):
        windows.append((window.start, window.end + 1))
    texts: list[str] = []
    for start, end in windows:
        for numerals in (False, True):
            middle = _spliced(written[start:end], spoken, styles, numerals, _starts(written, start))
            words = [_raw(w) for w in written[:start]] + middle + [_raw(w) for w in written[end:]]
            text = " ".join(words)
            if text not in texts:
                texts.append(text)
    return tuple(texts)


def _written(raw: str, mishearings: Mapping[str, str] | None) -> _Written:
    first = next((i for i, char in enumerate(raw) if char.isalnum()), len(raw))
    last = max((i + 1 for i, char in enumerate(raw) if char.isalnum()), default=first)
    return _Written(
        raw[:first], raw[first:last], raw[last:], tuple(normalize(raw, mishearings).split())
    )


def _raw(word: _Written) -> str:
    return word.leading + word.core + word.trailing


def _starts(written: Sequence[_Written], index: int) -> bool:
    """Whether a word at `index` begins a sentence of the recogniser's text."""
    return index == 0 or written[index - 1].trailing.rstrip().endswith(_SENTENCE_ENDS)


def _phrase_case(phrase: str, mishearings: Mapping[str, str] | None) -> dict[str, str]:
    """The script's own capitalisation of a word ('Northwind'), where it wrote one."""
    cased: dict[str, str] = {}
    for raw in phrase.split():
        word = _written(raw, mishearings)
        if len(word.spoken) == 1 and word.core != word.core.lower() and word.core.isalpha():
            cased[word.spoken[0]] = word.core
    return cased


def _spliced(
    window: Sequence[_Written],
    spoken: Sequence[str],
    cased: Mapping[str, str],
    numerals: bool,
    sentence_start: bool,
) -> list[str]:
    """The window rewritten to say `spoken`: agreeing words kept, differing ones replaced."""
    out: list[str] = []
    heard_at = said_at = 0
    for heard_end, said_end in [*_agreements(window, spoken), (len(window), len(spoken))]:
        replaced = window[heard_at:heard_end]
        said = spoken[said_at:said_end]
        starts = (
            sentence_start
            if heard_at == 0
            else window[heard_at - 1].trailing.endswith(_SENTENCE_ENDS)
        )
        out = _joined(out, _replacement(replaced, said, cased, numerals, starts))
        if heard_end < len(window):
            kept = window[heard_end]
            out.append(_raw(kept))
            heard_at, said_at = heard_end + 1, said_end + len(kept.spoken)
    return out


def _agreements(window: Sequence[_Written], spoken: Sequence[str]) -> list[tuple[int, int]]:
    """(heard index, phrase index) of heard words kept as written: the longest run of agreement.

    A heard word agrees when its normalised words are the phrase's next words ('1' agrees with
    'one', '24' with 'twenty four'). Words that say nothing ('um') never anchor anything.
    """
    rows, columns = len(window), len(spoken)
    best = [[0] * (columns + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        size = len(window[i].spoken)
        for j in range(columns - 1, -1, -1):
            agrees = size > 0 and tuple(spoken[j : j + size]) == window[i].spoken
            best[i][j] = max(
                best[i + 1][j], best[i][j + 1], best[i + 1][j + size] + size if agrees else 0
            )
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < rows and j < columns:
        size = len(window[i].spoken)
        if (
            size > 0
            and tuple(spoken[j : j + size]) == window[i].spoken
            and best[i][j] == best[i + 1][j + size] + size
        ):
            pairs.append((i, j))
            i, j = i + 1, j + size
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def _replacement(
    replaced: Sequence[_Written],
    said: Sequence[str],
    cased: Mapping[str, str],
    numerals: bool,
    sentence_start: bool,
) -> list[str]:
    """`said` in the style of the heard words it replaces (their case, outer punctuation)."""
    words = _numerals(said) if numerals else list(said)
    words = [cased.get(word, word) for word in words]
    if replaced:
        if all(w.core[:1].isupper() for w in replaced) and len(replaced) > 1:
            words = [_capitalised(word) for word in words]
        elif replaced[0].core[:1].isupper():
            words[:1] = [_capitalised(word) for word in words[:1]]
    elif sentence_start:
        words[:1] = [_capitalised(word) for word in words[:1]]
    if not replaced:
        return words
    leading, trailing = replaced[0].leading, replaced[-1].trailing
    if not words:
        return [leading + trailing] if leading + trailing else []
    words[0] = leading + words[0]
    words[-1] = words[-1] + trailing
    return words


def _joined(out: list[str], more: list[str]) -> list[str]:
    """Punctuation left by replaced words that became nothing sticks to the word before."""
    if len(more) == 1 and not any(char.isalnum() for char in more[0]):
        if out:
            return [*out[:-1], out[-1] + more[0]]
        return out
    return out + more


def _capitalised(word: str) -> str:
    return word[:1].upper() + word[1:]


def _numerals(words: Sequence[str]) -> list[str]:
    """Number words 0-99 as digits, the way the recogniser writes key numbers ('press 2')."""
    out: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word in _TENS_WORDS:
            value = _TENS_WORDS[word]
            following = words[index + 1] if index + 1 < len(words) else ""
            if 0 < _NUMBER_WORDS.get(following, 0) < 10:
                value += _NUMBER_WORDS[following]
                index += 1
            out.append(str(value))
        elif word in _NUMBER_WORDS:
            out.append(str(_NUMBER_WORDS[word]))
        else:
            out.append(word)
        index += 1
    return out
