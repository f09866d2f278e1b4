"""Cutting what was heard after a key into the prompts of the nodes the call went through.

Phone systems chain announcements without a pause ("All billing representatives are busy.
Transferring you to customer service." then customer service's own prompt), so node edges
are rarely audible as silence. What marks them is language: a transfer sentence ends its
node, an apology for a wrong key is the menu's retry notice rather than a node (both told
by shopper.text.phrasebook's classifier), and the opening words of a prompt the crawl
already knows start that node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from shopper.crawl.identity import (
    MIN_COMPARED_WORDS,
    OPENING_WORDS,
    SAME_PROMPT_SIMILARITY,
    SENTENCE,
    find_opening,
    opens_with,
    split_words,
    words,
)
from shopper.text.phrasebook import is_retry_notice, is_transfer
from shopper.text.wer import word_edit_distance


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    first: int
    """Index of the utterance the piece begins in; `last` is where it ends."""
    last: int
    known: str | None = None
    """Id of the known node whose prompt this piece opens with; None for a new prompt."""
    start_share: float = 0.0
    """Share of the words of utterance `first` said before the piece begins (a piece may
    begin and end inside an utterance: the recogniser runs prompts said without a pause
    together); `end_share`, the share of utterance `last`'s words said by its end."""
    end_share: float = 1.0


class _Sentence(NamedTuple):
    utterance: int
    """Index of the utterance it was heard in."""
    text: str
    start: float
    """Share of the utterance's words before the sentence; `end`: up to its end."""
    end: float


def split_prompts(utterances: Sequence[str], known: Sequence[tuple[str, str]]) -> list[Piece]:
    """Pieces in order, from the recogniser's utterances (each ends a sentence); `known`
    holds (node id, prompt) of every prompt the crawl knows."""
    pieces: list[Piece] = []
    current: list[_Sentence] = []
    after_notice = False
    prompts = [prompt for _, prompt in known]
    for heard in _sentences(utterances):
        sentence = _after_notice(heard, prompts)
        if sentence is not heard:
            _close(pieces, current)
            after_notice = True
        if sentence is None or not words(sentence.text):
            continue
        opening = _known_opening([said.text for said in [*current, sentence]], known)
        if opening is not None:
            start, node = opening
            known_part = [*current, sentence][start:]
            del current[start:]
            before, known_part[0] = _speech_before(known_part, dict(known)[node])
            current.extend(before)
            _close(pieces, current)
            pieces.append(_piece(known_part, node))
            after_notice = False
            continue
        if not current and not after_notice and _rest_of_known(pieces, sentence, known):
            last = pieces[-1]
            text = f"{last.text} {sentence.text}"
            pieces[-1] = Piece(
                text, last.first, sentence.utterance, last.known, last.start_share, sentence.end
            )
            continue
        if _said_again(sentence.text, current):
            _close(pieces, current)
        current.append(sentence)
        if is_transfer(sentence.text):
            _close(pieces, current)
    _close(pieces, current)
    return pieces


def notice_removed(sentence: str, prompts: Sequence[str]) -> str:
    """`sentence` without a retry notice at its start: empty when it is one ("Sorry, that
    entry wasn't recognized."), the words from a known prompt's opening on when the
    recogniser ran the notice and the prompt replayed after it into one sentence ("We didn't
    receive your selection, billing for your balance and due date, press one."; dropped
    whole, the menu's opening went with the notice), else the sentence itself."""
    if not is_retry_notice(sentence):
        return sentence
    heard = words(sentence)
    starts = (find_opening(prompt, heard) for prompt in prompts)
    at = min((start for start in starts if start), default=None)
    return "" if at is None else split_words(sentence, at)[1]


def _after_notice(sentence: _Sentence, prompts: Sequence[str]) -> _Sentence | None:
    """The sentence as split_prompts reads it: itself, None for a retry notice, or the part
    after a notice run into a known prompt (notice_removed), placed by its share of words."""
    kept = notice_removed(sentence.text, prompts)
    if kept == sentence.text:
        return sentence
    if not kept:
        return None
    share = 1.0 - len(words(kept)) / max(1, len(words(sentence.text)))
    start = sentence.start + share * (sentence.end - sentence.start)
    return _Sentence(sentence.utterance, kept, start, sentence.end)


def _sentences(utterances: Sequence[str]) -> list[_Sentence]:
    """The utterances' sentences in order, each with where it lies in its utterance (by
    words: the recogniser gives no times inside an utterance)."""
    found = []
    for index, text in enumerate(utterances):
        said = SENTENCE.findall(text)
        total = max(1, len(words(text)))
        before = 0
        for sentence in said:
            count = len(words(sentence))
            end = (before + count) / total
            found.append(_Sentence(index, sentence.strip(), before / total, end))
            before += count
    return found


def _rest_of_known(
    pieces: list[Piece], sentence: _Sentence, known: Sequence[tuple[str, str]]
) -> bool:
    """Whether a sentence goes on the known prompt the last piece opened: only while it
    brings the piece closer to that prompt's words. A known prompt heard in full takes in no
    more: a wrong key's notice the classifier does not know, once a node, otherwise took in
    the menu replayed after it sentence by sentence (each too short to show the menu's
    opening), and the notice became a menu with keys of its own."""
    last = pieces[-1] if pieces else None
    prompt = next((text for node, text in known if last and node == last.known), None)
    if last is None or prompt is None:
        return False
    said, heard = words(prompt), words(last.text)
    with_it = word_edit_distance(said, heard + words(sentence.text))
    return with_it <= word_edit_distance(said, heard)


def _said_again(sentence: str, current: list[_Sentence]) -> bool:
    """Whether a sentence repeats one of the prompt being heard: the phone system has come
    round again (a circular transfer whose announcements the transfer wording did not mark),
    and the repeat begins another piece, which the caller of split_prompts can match with the
    first. Otherwise the circle would be one prompt growing until a budget ends the call."""
    said = words(sentence)
    if len(said) < MIN_COMPARED_WORDS:
        return False
    return any(_alike(said, words(earlier.text)) for earlier in current)


def _alike(a: list[str], b: list[str]) -> bool:
    """The same sentence: whole words alike as prompts are (SAME_PROMPT_SIMILARITY), with no
    leading words dropped: short sentences that differ in their subject ("Collections will
    help you." and "The billing office will help you.") are different sentences."""
    return 1.0 - word_edit_distance(a, b) / max(len(a), len(b)) >= SAME_PROMPT_SIMILARITY


def _piece(sentences: list[_Sentence], known: str | None = None) -> Piece:
    text = " ".join(sentence.text for sentence in sentences)
    first, last = sentences[0], sentences[-1]
    return Piece(text, first.utterance, last.utterance, known, first.start, last.end)


def _known_opening(
    sentences: list[str], known: Sequence[tuple[str, str]]
) -> tuple[int, str] | None:
    """(index of the sentence a known prompt opens in, its node), latest opening first; the
    sentences before it that are the prompt's own first words go with it (a title heard as a
    sentence of its own would otherwise become a prompt of its own, in front of the menu).

    split_prompts asks this once per new sentence with the same `known`, so every opening
    that lies wholly before the newest sentence was looked for already and is absent: only
    starts whose later sentences (newest excluded) hold fewer than OPENING_WORDS words can
    find a new one. Looking further back gave the same answers at a cost that grew with the
    square of a long call's sentences (a circular transfer heard for five minutes never
    finished)."""
    between = 0
    for start in range(len(sentences) - 1, -1, -1):
        if between >= OPENING_WORDS:
            break
        if start < len(sentences) - 1:
            between += len(words(sentences[start]))
        heard = words(" ".join(sentences[start:]))
        for node, prompt in known:
            if find_opening(prompt, heard) is not None:
                return _with_title(sentences, start, prompt), node
    return None


def _speech_before(sentences: list[_Sentence], prompt: str) -> tuple[list[_Sentence], _Sentence]:
    """The first sentence of a known prompt's part split where the prompt's opening begins
    inside it after other speech of at least MIN_COMPARED_WORDS words (a message the
    recogniser ran into the menu played after it, one sentence: "Your balance ... shown in
    the app, billing for your balance and due date, press one."): ([what came before], the
    rest), or ([], the sentence) when the opening is at its start or close to it."""
    first = sentences[0]
    heard = words(" ".join(sentence.text for sentence in sentences))
    at = find_opening(prompt, heard)
    if at is None or at < MIN_COMPARED_WORDS or at >= len(words(first.text)):
        return [], first
    said, rest = split_words(first.text, at)
    share = at / len(words(first.text))
    middle = first.start + share * (first.end - first.start)
    return [first._replace(text=said, end=middle)], first._replace(text=rest, start=middle)


def _with_title(sentences: list[str], start: int, prompt: str) -> int:
    while start > 0 and opens_with(prompt, words(" ".join(sentences[start - 1 :]))):
        start -= 1
    return start


def _close(pieces: list[Piece], current: list[_Sentence]) -> None:
    if current:
        pieces.append(_piece(current))
        current.clear()
