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

from shopper.crawl.identity import SENTENCE, find_opening, words
from shopper.text.phrasebook import is_retry_notice, is_transfer


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    first: int
    """Index of the utterance the piece begins in; `last` is where it ends."""
    last: int
    known: str | None = None
    """Id of the known node whose prompt this piece opens with; None for a new prompt."""


def split_prompts(utterances: Sequence[str], known: Sequence[tuple[str, str]]) -> list[Piece]:
    """Pieces in order, from the recogniser's utterances (each ends a sentence); `known`
    holds (node id, prompt) of every prompt the crawl knows."""
    pieces: list[Piece] = []
    current: list[tuple[int, str]] = []
    sentences = [
        (index, s.strip()) for index, text in enumerate(utterances) for s in SENTENCE.findall(text)
    ]
    after_notice = False
    for index, sentence in sentences:
        if not words(sentence):
            continue
        if is_retry_notice(sentence):
            _close(pieces, current)
            after_notice = True
            continue
        opening = _known_opening([text for _, text in [*current, (index, sentence)]], known)
        if opening is not None:
            start, node = opening
            known_part = [*current, (index, sentence)][start:]
            del current[start:]
            _close(pieces, current)
            pieces.append(_piece(known_part, node))
            after_notice = False
            continue
        if pieces and pieces[-1].known is not None and not current and not after_notice:
            last = pieces[-1]
            pieces[-1] = Piece(f"{last.text} {sentence}", last.first, index, last.known)
            continue
        current.append((index, sentence))
        if is_transfer(sentence):
            _close(pieces, current)
    _close(pieces, current)
    return pieces


def _piece(sentences: list[tuple[int, str]], known: str | None = None) -> Piece:
    text = " ".join(sentence for _, sentence in sentences)
    return Piece(text, sentences[0][0], sentences[-1][0], known)


def _known_opening(
    sentences: list[str], known: Sequence[tuple[str, str]]
) -> tuple[int, str] | None:
    """(index of the sentence a known prompt opens in, its node), latest opening first."""
    for start in range(len(sentences) - 1, -1, -1):
        heard = words(" ".join(sentences[start:]))
        for node, prompt in known:
            if find_opening(prompt, heard) is not None:
                return start, node
    return None


def _close(pieces: list[Piece], current: list[tuple[int, str]]) -> None:
    if current:
        pieces.append(_piece(current))
        current.clear()
