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

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shopper.text.letters import LetterWindow
from shopper.text.normalize import ONES, TENS, normalize, plain_apostrophes
from shopper.text.wer import word_edit_distance

_NUMBER_WORDS = {word: value for value, word in enumerate(ONES)}
_TENS_WORDS = {word: 10 * value for value, word in enumerate(TENS) if word}
_SENTENCE_ENDS = (".", "?", "!")


@dataclass(frozen=True, slots=True)
class _Written:
    """A recogniser's word split into what surrounds it and what it says."""

    leading: str
    core: str
    trailing: str
    spoken: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Difference:
    """One stretch where the phrase and the heard words disagree: heard words start:end
    (indices in the whole utterance) should have said `said` (normalised words)."""

    start: int
    end: int
    said: tuple[str, ...]
    said_start: int
    """Index of `said`'s first word among the phrase's normalised words."""

    def says(self, at: int) -> bool:
        """Whether phrase word `at` is one of those this difference says."""
        return self.said_start <= at < self.said_start + len(self.said)


@dataclass(frozen=True, slots=True)
class Stretch:
    """One difference's renderings, and which of the phrase's words it judges."""

    said_at: tuple[int, ...]
    """Indices of the phrase's normalised words this difference says (none for heard words
    the phrase leaves out)."""
    texts: tuple[str, ...]
    heard: tuple[str, ...] = ()
    """The letters of the heard words the difference replaces (spaces and case dropped; ""
    when it replaces none), then of each heard word beyond the window that a rendering at
    its edge also replaces."""


def renderings(
    heard: str,
    phrase: str,
    window: LetterWindow,
    mishearings: Mapping[str, str] | None = None,
    *,
    word_breaks: bool = False,
) -> tuple[tuple[str, ...], ...]:
    """For each difference between the phrase and heard words window.start:end, whole-utterance
    alternatives that change only that difference (the rest stays as heard).

    A difference in word breaks only ("Lake Shore" for `lakeshore`: the same letters) is the
    same sounds spelt otherwise, so it is left as heard: the model's margin for a re-spelling
    measures its taste in spelling (-5.7 nats for "Lakeshore" over its own "Lake Shore"), not
    the audio. `word_breaks=True` renders those too, to measure that taste.

    Each difference is judged on its own (shopper.text.decide), so words the recogniser got
    wrong elsewhere in the phrase cannot make up for a wrong one; a stretch whose words line
    up one to one is also judged word by word (`_word_by_word`), its whole rendering then
    part of each word's alternatives. Variants of a difference:
    its numbers as words and as numerals; at an edge of the window, also widened by the heard
    word beyond it (a neighbour the recogniser made of the phrase's sounds is replaced too).
    Distinct texts, the plain rendering first.
    """
    found = stretches(heard, phrase, window, mishearings, word_breaks=word_breaks)
    return tuple(stretch.texts for stretch in found)


def stretches(
    heard: str,
    phrase: str,
    window: LetterWindow,
    mishearings: Mapping[str, str] | None = None,
    *,
    word_breaks: bool = False,
) -> tuple[Stretch, ...]:
    """`renderings`, each group with the phrase words it judges (a word-by-word group judges
    its one word; any other, the words of its stretch)."""
    written = [_written(raw, mishearings) for raw in heard.split()]
    said = _said(phrase, mishearings)
    found: list[Stretch] = []
    for group in _differences(written, said, window, word_breaks):
        texts = [
            text
            for difference in group
            for text in _rendered(written, window, difference, said.forms)
        ]
        first = group[0]
        said_at = tuple(range(first.said_start, first.said_start + len(first.said)))
        found.append(Stretch(said_at, tuple(dict.fromkeys(texts)), _heard(written, window, first)))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class InContext:
    """Renderings that say several of the phrase's differences at once, to judge each
    difference among the phrase's other words rather than among the misheard ones: "Thank"
    for "And" in "And you foretolding North Star" scored -14.2 nats alone, where the text
    then reads "Thank you foretolding", and its cost beside "for calling" is what says
    whether the audio begins with "Thank". One text per style (numbers as words or numerals,
    the script's spelling or none)."""

    whole: tuple[str, ...]
    """The utterance with every difference said."""
    without: tuple[tuple[str, ...], ...]
    """Per group of `stretches`, in order: every difference said but that group's stretch,
    which stays as heard."""


def in_context(
    heard: str, phrase: str, window: LetterWindow, mishearings: Mapping[str, str] | None = None
) -> InContext | None:
    """`InContext` of the phrase's differences in heard words window.start:end; None when the
    phrase differs there in one stretch only (its renderings already judge it in context)."""
    written = [_written(raw, mishearings) for raw in heard.split()]
    said = _said(phrase, mishearings)
    outers = [group[-1] for group in _differences(written, said, window, word_breaks=False)]
    distinct = list(dict.fromkeys(outers))
    if len(distinct) < 2:
        return None
    styles = list(itertools.product((False, True), (said.forms, {})))
    return InContext(
        tuple(_all_said(written, distinct, *style) for style in styles),
        tuple(
            tuple(
                _all_said(written, [d for d in distinct if d != outer], *style) for style in styles
            )
            for outer in outers
        ),
    )


def _all_said(
    written: Sequence[_Written],
    differences: Sequence[Difference],
    numerals: bool,
    spelling: Mapping[tuple[str, ...], str],
) -> str:
    """The utterance with each of `differences` (no two overlapping) replaced by what the
    phrase says there, in the style of the heard words it replaces."""
    words: list[str] = [_raw(word) for word in written]
    for difference in sorted(differences, key=lambda d: d.start, reverse=True):
        said = _replacement(
            written[difference.start : difference.end],
            difference.said,
            spelling,
            numerals,
            _starts(written, difference.start),
        )
        if len(said) == 1 and not any(char.isalnum() for char in said[0]):
            if difference.start > 0:
                words[difference.start - 1] += said[0]
            said = []
        words[difference.start : difference.end] = said
    return " ".join(words)


def swapped(
    heard: str,
    phrase: str,
    window: LetterWindow,
    at: int,
    other: str,
    mishearings: Mapping[str, str] | None = None,
) -> tuple[str, ...] | None:
    """Whole-utterance texts that say the phrase with its word `at` replaced by `other`, at
    the very place and in the very style the phrase's own renderings say that word: a rival
    to score against the phrase's renderings of the same word (shopper.text.decide).

    Where the recogniser wrote the word as the phrase says it, the rival replaces that heard
    word; where the word lies in a difference, the rival is that difference (and, word by
    word, its whole stretch) with the word swapped. Re-aligning the rival phrase on its own
    would compare other stretches: `press four for billing` against "Press to four billing"
    lines its "four" up with the heard "four". None when the heard word that says `at` says
    more than it ("24" for `twenty four`)."""
    written = [_written(raw, mishearings) for raw in heard.split()]
    phrase_words = _said(phrase, mishearings)
    spoken = phrase_words.spoken
    inside = written[window.start : window.end]
    differences: list[Difference] = []
    for heard_at, said_at in _agreements(inside, phrase_words):
        size = len(inside[heard_at].spoken)
        if said_at <= at < said_at + size:
            if size != 1:
                return None
            start = window.start + heard_at
            differences = [Difference(start, start + 1, (spoken[at],), at)]
            break
    else:
        groups = _differences(written, phrase_words, window, word_breaks=False)
        covering = [d for group in groups for d in group if d.says(at)]
        differences = list(dict.fromkeys(covering))
    if not differences:
        return None
    texts: list[str] = []
    for difference in differences:
        said = list(difference.said)
        said[at - difference.said_start] = other
        rival = Difference(difference.start, difference.end, tuple(said), difference.said_start)
        texts += _rendered(written, window, rival, phrase_words.forms)
    return tuple(dict.fromkeys(texts))


def _heard(
    written: Sequence[_Written], window: LetterWindow, difference: Difference
) -> tuple[str, ...]:
    """`Stretch.heard`: the letters the difference replaces, then those of any neighbour beyond
    the window's edge that `_rendered` widens it by."""
    found = ["".join("".join(w.spoken) for w in written[difference.start : difference.end])]
    if difference.start == window.start > 0:
        found.append("".join(written[difference.start - 1].spoken))
    if difference.end == window.end < len(written):
        found.append("".join(written[difference.end].spoken))
    return tuple(found)


def _rendered(
    written: Sequence[_Written],
    window: LetterWindow,
    difference: Difference,
    forms: Mapping[tuple[str, ...], str],
) -> list[str]:
    """Whole-utterance texts that say the phrase at one difference, the plain one first."""
    spans = [(difference.start, difference.end)]
    if difference.start == window.start > 0:
        spans.append((difference.start - 1, difference.end))
    if difference.end == window.end < len(written):
        spans.append((difference.start, difference.end + 1))
    texts: list[str] = []
    for start, end in spans:
        for numerals, spelling in itertools.product((False, True), (forms, {})):
            said = _replacement(
                written[start:end], difference.said, spelling, numerals, _starts(written, start)
            )
            texts.append(_spliced(written, start, end, said))
    split = _split_as_heard(written[difference.start : difference.end], difference.said)
    if split is not None:
        texts.append(_spliced(written, difference.start, difference.end, split))
    return texts


def _differences(
    written: Sequence[_Written], said: _Said, window: LetterWindow, word_breaks: bool
) -> list[list[Difference]]:
    """The stretches of the window the phrase does not agree with, in order (without those
    that differ only in word breaks, unless asked), each as the differences any of which
    may say it there (see `_word_by_word`)."""
    inside = written[window.start : window.end]
    spoken = said.spoken
    found: list[list[Difference]] = []
    heard_at = said_at = 0
    for heard_end, said_end in [*_agreements(inside, said), (len(inside), len(spoken))]:
        heard_letters = "".join("".join(w.spoken) for w in inside[heard_at:heard_end])
        same_letters = heard_letters == "".join(spoken[said_at:said_end])
        if (heard_end > heard_at or said_end > said_at) and (word_breaks or not same_letters):
            found += _word_by_word(
                Difference(
                    window.start + heard_at,
                    window.start + heard_end,
                    tuple(spoken[said_at:said_end]),
                    said_at,
                ),
                written,
                said,
                word_breaks,
            )
        if heard_end < len(inside):
            heard_at, said_at = heard_end + 1, said_end + len(inside[heard_end].spoken)
    return found


def _word_by_word(
    difference: Difference, written: Sequence[_Written], said: _Said, word_breaks: bool
) -> list[list[Difference]]:
    """A stretch where each heard word stands for one word of the phrase ("Press to four
    billing" for `press two for billing`) is also judged word by word: one group per word
    that differs, holding that word's substitution alone and the whole stretch's, so the
    stretch passes when it does as a whole or when every word of it does on its own.

    Judged only as a whole, the costs of several words add up: "to"→"two" cost 2.9 nats and
    "four"→"for" 1.9 on one utterance (flite awb), together 4.4, so two right words the
    recogniser spelt as their homophones failed where each alone passes. Judged only word by
    word, a right word beside a garbled neighbour pays for the odd pair it makes. Word by
    word adds a way to pass only when every word passes alone, so a stretch holding a wrong
    word passes only if that word alone is within the margin ("three" for "to": -11.8).
    The words line up one to one when there are as many on each side and
    pairing them in order costs no more letter edits than the whole stretch does
    ("clinked apartment" for `civiclink department` does not: its letters line up across
    the word break). Any other stretch (words split, joined, left out or added), and one
    that says part of a contraction (`didn't`, normalised 'did not'), stays whole."""
    heard = written[difference.start : difference.end]
    if len(heard) < 2 or len(heard) != len(difference.said):
        return [[difference]]
    if not all(said.whole(difference.said_start + at, 1) for at in range(len(heard))):
        return [[difference]]
    if any(len(word.spoken) != 1 for word in heard):
        return [[difference]]
    pairs = [(word.spoken[0], said) for word, said in zip(heard, difference.said, strict=True)]
    whole = word_edit_distance("".join(h for h, _ in pairs), "".join(s for _, s in pairs))
    if sum(word_edit_distance(h, s) for h, s in pairs) > whole:
        return [[difference]]
    return [
        [
            Difference(
                difference.start + index,
                difference.start + index + 1,
                (said,),
                difference.said_start + index,
            ),
            difference,
        ]
        for index, (word, said) in enumerate(zip(heard, difference.said, strict=True))
        if word_breaks or word.spoken[0] != said
    ]


def _split_as_heard(replaced: Sequence[_Written], said: Sequence[str]) -> list[str] | None:
    """`said` broken into words where the recogniser broke the heard words it replaces, each
    piece in the style of the heard word it lines up with ("Claire Bridge" for `carebridge`
    gives "Care Bridge", "first, Arbor" for `firstharbor` gives "first, Harbor"): the model
    writes a name it splits that way, and scores its own way of writing above another. None
    when the heard words add no break inside a word of `said`."""
    heard = ["".join(word.spoken) for word in replaced]
    letters = "".join(said)
    if len(heard) < 2 or not letters or not all(heard):
        return None
    at = _aligned(letters, "".join(heard))
    own = set(itertools.accumulate(len(word) for word in said[:-1]))
    heard_ends = list(itertools.accumulate(len(word) for word in heard[:-1]))
    breaks = [_snapped(at[end], own) for end in heard_ends]
    if not set(breaks) - own or any(b in (0, len(letters)) for b in breaks):
        return None
    cuts = sorted(own | set(breaks))
    pieces = [letters[a:b] for a, b in itertools.pairwise([0, *cuts, len(letters)])]
    starts = [0, *cuts]
    words: list[str] = []
    for piece, begin in zip(pieces, starts, strict=True):
        owner = replaced[sum(1 for b in breaks if b <= begin)]
        first = begin == 0 or begin in breaks
        last = begin + len(piece) == len(letters) or begin + len(piece) in breaks
        styled = _capitalised(piece) if owner.core[:1].isupper() else piece
        words.append((owner.leading if first else "") + styled + (owner.trailing if last else ""))
    return words


def _snapped(position: int, own: set[int]) -> int:
    """A heard break one letter off a break of the phrase's own is that break (the letters
    either side of it were misheard, not the word split)."""
    return next((b for b in own if abs(b - position) <= 1), position)


def _aligned(said: str, heard: str) -> list[int]:
    """For each position in `heard` (0 to its length), the position in `said` that a
    least-edit alignment of the two puts there (the earliest, where letters were dropped)."""
    rows, columns = len(said), len(heard)
    cost = [[i + j if i == 0 or j == 0 else 0 for j in range(columns + 1)] for i in range(rows + 1)]
    for i in range(1, rows + 1):
        for j in range(1, columns + 1):
            cost[i][j] = min(
                cost[i - 1][j - 1] + (said[i - 1] != heard[j - 1]),
                cost[i - 1][j] + 1,
                cost[i][j - 1] + 1,
            )
    at = [rows] * (columns + 1)
    i, j = rows, columns
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (said[i - 1] != heard[j - 1]):
            i, j = i - 1, j - 1
        elif j > 0 and cost[i][j] == cost[i][j - 1] + 1:
            j -= 1
        else:
            i -= 1
        at[j] = i
    return at


def _spliced(written: Sequence[_Written], start: int, end: int, said: list[str]) -> str:
    """The utterance with heard words start:end replaced; punctuation left by words replaced
    with nothing sticks to the word before."""
    before = [_raw(word) for word in written[:start]]
    if len(said) == 1 and not any(char.isalnum() for char in said[0]):
        before[-1:] = [before[-1] + said[0]] if before else []
        said = []
    return " ".join(before + said + [_raw(word) for word in written[end:]])


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


@dataclass(frozen=True, slots=True)
class _Said:
    """The phrase's normalised words, where each of its written words begins among them
    (`you've` is two normalised words, 'you have'), and the script's own spelling of the
    words that normalising changes beyond their case (`forms`)."""

    spoken: tuple[str, ...]
    starts: frozenset[int]
    forms: Mapping[tuple[str, ...], str]
    """Capitals ('Northwind') and contractions ("we'll", which normalises to 'well'; "you've"
    to 'you have'), keyed by the normalised words each stands for. The model writes a
    contraction it hears as one: on one flite slt utterance "we'll return your call" scored
    -1.4 nats against its own "reel return your call", and "well return your call" -10.6."""

    def whole(self, at: int, size: int) -> bool:
        """Whether normalised words at:at+size are whole written words of the phrase."""
        return size > 0 and at in self.starts and at + size in self.starts


def _said(phrase: str, mishearings: Mapping[str, str] | None) -> _Said:
    """`_Said` of a phrase. Where normalising the whole phrase is not its words normalised one
    by one (a mishearing that spans two of them), every normalised word counts as a written
    one."""
    spoken = tuple(normalize(phrase, mishearings).split())
    words = [_written(raw, mishearings) for raw in phrase.split()]
    starts = frozenset(itertools.accumulate((len(word.spoken) for word in words), initial=0))
    if tuple(part for word in words for part in word.spoken) != spoken:
        starts = frozenset(range(len(spoken) + 1))
    return _Said(spoken, starts, _forms(words))


def _forms(words: Sequence[_Written]) -> dict[tuple[str, ...], str]:
    """`_Said.forms` of the phrase's written words."""
    forms: dict[tuple[str, ...], str] = {}
    for word in words:
        core = plain_apostrophes(word.core)
        if not word.spoken or not core.replace("'", "").isalpha():
            continue
        if (core != core.lower() and len(word.spoken) == 1) or "'" in core:
            forms[word.spoken] = core
    return forms


def _agreements(window: Sequence[_Written], said: _Said) -> list[tuple[int, int]]:
    """(heard index, phrase index) of heard words kept as written: the longest run of agreement.

    A heard word agrees when its normalised words are the phrase's next words ('1' agrees with
    'one', '24' with 'twenty four') and are whole words of the phrase: "You" does not agree
    with the 'you' of `you've` (normalised 'you have'), so the rendering that replaces it can
    say "You've" as the model writes it. Words that say nothing ('um') never anchor anything.
    """
    spoken = said.spoken
    rows, columns = len(window), len(spoken)
    best = [[0] * (columns + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        size = len(window[i].spoken)
        for j in range(columns - 1, -1, -1):
            agrees = said.whole(j, size) and tuple(spoken[j : j + size]) == window[i].spoken
            best[i][j] = max(
                best[i + 1][j], best[i][j + 1], best[i + 1][j + size] + size if agrees else 0
            )
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < rows and j < columns:
        size = len(window[i].spoken)
        if (
            said.whole(j, size)
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
    forms: Mapping[tuple[str, ...], str],
    numerals: bool,
    sentence_start: bool,
) -> list[str]:
    """`said` in the style of the heard words it replaces (their case, outer punctuation),
    in the script's own spelling where `forms` has it."""
    words = _spelt(_numerals(said) if numerals else list(said), forms)
    if len(replaced) == 1 and _is_address(replaced[0]) and "dot" in words:
        words = ["".join("." if word == "dot" else word for word in words)]
    if not replaced:  # words the recogniser left out: capitalised only to start a sentence
        return [_capitalised(word) for word in words[:1]] + words[1:] if sentence_start else words
    if len(replaced) > 1 and all(w.core[:1].isupper() for w in replaced):
        words = [_capitalised(word) for word in words]
    elif replaced[0].core[:1].isupper():
        words[:1] = [_capitalised(word) for word in words[:1]]
    leading, trailing = replaced[0].leading, replaced[-1].trailing
    if not words:
        return [leading + trailing] if leading + trailing else []
    words[0] = leading + words[0]
    words[-1] = words[-1] + trailing
    return words


def _is_address(word: _Written) -> bool:
    """Whether the recogniser wrote a web address as one word ("civecling.gov"): a phrase
    said there is written the same way ("civiclink.gov", not "civiclink dot gov")."""
    return "." in word.core and "dot" in word.spoken


def _spelt(words: Sequence[str], forms: Mapping[tuple[str, ...], str]) -> list[str]:
    """Normalised words with each run that `forms` spells otherwise written its way."""
    longest = max((len(key) for key in forms), default=0)
    out: list[str] = []
    index = 0
    while index < len(words):
        size = next(
            (n for n in range(longest, 0, -1) if tuple(words[index : index + n]) in forms), 0
        )
        if size:
            out.append(forms[tuple(words[index : index + size])])
            index += size
        else:
            out.append(words[index])
            index += 1
    return out


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
