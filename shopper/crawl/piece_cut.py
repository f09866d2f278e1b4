"""Cutting one piece of what a call heard in two at a moment of the call.

split_prompts cuts what was heard into prompts by language; the audio can show that a piece
holds two prompts language did not part (a department that hands the caller on in words no
classifier takes for a transfer, "One moment.", run into the next department's prompt). The
recogniser gives no times inside an utterance, so a piece's words are placed in the call by
sharing each utterance's time out by words (as pathcall._heard places a piece's ends), and
the piece is cut at the word nearest the moment, or at a place the recogniser marked with
punctuation (a sentence's end, or a comma or colon inside a run-on sentence) close to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from shopper.asr.types import Utterance
from shopper.audio.frame import TELEPHONY_RATE
from shopper.crawl.identity import words
from shopper.crawl.prompts import Piece

MARKED_END = re.compile(r"[.!?,;:]$")
"""A token after which the recogniser marked a pause or a sentence's end."""
MARK_PULL_S = 1.0
"""A marked place this close to the moment is taken rather than the word boundary nearest
it: words are placed by sharing out an utterance's time, which is off by a word or two,
and a word lasts about 0.4 s at the 165 words a minute the sandbox voices read at here.
Chosen before any crawl used it, and not varied."""


class _Cut(NamedTuple):
    off_s: float
    """How far from the moment the cut lies."""
    unmarked: bool
    token: int
    """Tokens of the piece's text before the cut; `said`, normalised words."""
    said: int


class _Point(NamedTuple):
    seconds: float
    utterance: int
    share: float
    """Share of the utterance's time before the point."""


def cut_at(piece: Piece, finals: Sequence[Utterance], at_s: float) -> tuple[Piece, Piece] | None:
    """`piece` as (what was said before `at_s`, what was said from it), cut at the word
    boundary nearest `at_s`, or at the nearest marked place (MARKED_END) within MARK_PULL_S
    of it; None when the piece has fewer than two words."""
    tokens = piece.text.split()
    total = len(words(piece.text))
    cuts = []
    for token in range(1, len(tokens)):
        said = len(words(" ".join(tokens[:token])))
        if 0 < said < total:
            off_s = abs(_point(piece, finals, said).seconds - at_s)
            cuts.append(_Cut(off_s, not MARKED_END.search(tokens[token - 1]), token, said))
    if not cuts:
        return None
    marked = [cut for cut in cuts if not cut.unmarked and cut.off_s <= MARK_PULL_S]
    chosen = min(marked or cuts)
    point = _point(piece, finals, chosen.said)
    head_text, tail_text = " ".join(tokens[: chosen.token]), " ".join(tokens[chosen.token :])
    starts_utterance = point.share == 0.0
    head_last = point.utterance - 1 if starts_utterance else point.utterance
    head_end = 1.0 if starts_utterance else point.share
    head = Piece(head_text, piece.first, head_last, None, piece.start_share, head_end)
    tail = Piece(tail_text, point.utterance, piece.last, None, point.share, piece.end_share)
    return head, tail


def _point(piece: Piece, finals: Sequence[Utterance], said: int) -> _Point:
    """Where the piece's word `said` begins: each utterance the piece spans holds its share
    of the piece's words (by that utterance's words, the last one the rest), and each word
    its share of that part's time."""
    parts = []
    for index in range(piece.first, piece.last + 1):
        start = piece.start_share if index == piece.first else 0.0
        end = piece.end_share if index == piece.last else 1.0
        parts.append((index, start, end, round((end - start) * len(words(finals[index].text)))))
    left = said
    for index, start, end, count in parts[:-1]:
        if left < count:
            return _at(finals[index], index, start + (end - start) * left / count)
        left -= count
    index, start, end, count = parts[-1]
    along = min(1.0, left / count) if count > 0 else 0.0
    return _at(finals[index], index, start + (end - start) * along)


def _at(utterance: Utterance, index: int, share: float) -> _Point:
    seconds = (utterance.start + share * (utterance.end - utterance.start)) / TELEPHONY_RATE
    return _Point(seconds, index, share)
