"""Which chunks of a long utterance a candidate text changes, and their text in it.

A long utterance is read in chunks (see shopper.asr.moonshine_engine.MAX_CHUNK_S), each
scored on its own audio. A candidate for the whole utterance is compared word by word with
the hypothesis (the chunks' texts joined); only the chunks it changes are scored, each with
its part of the candidate. A change that spans a chunk boundary shares its new words among
the chunks in proportion to the old words each held, since nothing tells where the audio
of an inserted or replaced word lies.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher


def changed_chunks(chunks: Sequence[str], candidate: str) -> dict[int, str]:
    """{chunk index: its text in the candidate} for every chunk the candidate changes.

    An insertion between two chunks goes to the chunk before it (at the start, to the first
    chunk with words). Chunks with no text can only change by such an insertion's neighbour.
    """
    old: list[str] = []
    owner: list[int] = []
    for index, text in enumerate(chunks):
        words = text.split()
        old += words
        owner += [index] * len(words)
    new = candidate.split()
    parts: dict[int, list[str]] = {index: [] for index in range(len(chunks))}
    changed: set[int] = set()
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(old_end - old_start):
                parts[owner[old_start + offset]].append(new[new_start + offset])
            continue
        spanned = owner[old_start:old_end] or [_insertion_chunk(owner, old_start)]
        changed.update(spanned)
        for index, words in _share(spanned, new[new_start:new_end]):
            parts[index] += words
    return {index: " ".join(parts[index]) for index in sorted(changed)}


def _insertion_chunk(owner: Sequence[int], position: int) -> int:
    if position > 0:
        return owner[position - 1]
    return owner[0] if owner else 0


def _share(spanned: Sequence[int], words: Sequence[str]) -> list[tuple[int, list[str]]]:
    """The new words divided among the chunks in proportion to their old words, in order."""
    counts: dict[int, int] = {}
    for index in spanned:
        counts[index] = counts.get(index, 0) + 1
    total = sum(counts.values())
    shares: list[tuple[int, list[str]]] = []
    given = seen = 0
    for index, count in counts.items():
        seen += count
        upto = round(len(words) * seen / total)
        shares.append((index, list(words[given:upto])))
        given = upto
    return shares
