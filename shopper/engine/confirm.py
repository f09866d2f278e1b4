"""Expectations the transcript missed, decided by their letters or by the utterance's audio.

One `Confirmer` serves one listening step (`expect` or `choose`). Each final utterance the
step hears is examined once, after the text matchers have missed (shopper.text.decide says
how letters and audio decide). The audio is asked once per utterance, for every phrase of
every alternative worth asking, in one batch, together with the utterance's own text: each
margin is taken against that reading as the engine scores it, so an engine whose check only
compares the texts it is given (Vosk's grammar re-recognition) still weighs every phrase
against what it heard, and Moonshine's margins stay exact (its own reading scores about 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from shopper.asr.types import Fit, Utterance, VerifyUnavailable
from shopper.text.decide import LetterFinding, find_letters, phrases
from shopper.text.match import Match, Matcher
from shopper.text.render import InContext


class AudioJudge(Protocol):
    """Scores whole alternative texts of an utterance against its audio (the call's ear)."""

    async def verify(self, utterance: Utterance, candidates: Sequence[str]) -> list[Fit]: ...


class Confirmer:
    def __init__(self, judge: AudioJudge, matchers: Sequence[Matcher]) -> None:
        self._judge = judge
        self._matchers = matchers
        self._examined: set[tuple[int, int]] = set()
        self.closest: Match | None = None
        """The best decision that did not pass, for the failure message."""
        self.unavailable: str | None = None
        """Why the audio could not be asked, when it could not (then text and letters decide)."""
        self.found_at: tuple[Utterance, int] | None = None
        """Where the passing phrase was found: its utterance and the index of the first heard
        word after it."""

    async def confirm(
        self, utterances: Sequence[Utterance], first_words: Mapping[Utterance, int] | None = None
    ) -> tuple[int, Match] | None:
        """(matcher index, passing match) from the first new utterance that says a phrase.
        `first_words`: utterances only heard from a word on (the words before it were the
        last step's)."""
        for utterance in utterances:
            key = (utterance.start, utterance.end)
            if key in self._examined or not utterance.final or not utterance.text:
                continue
            self._examined.add(key)
            found = await self._examine(utterance, (first_words or {}).get(utterance, 0))
            if found is not None:
                return found
        return None

    async def _examine(self, utterance: Utterance, first_word: int) -> tuple[int, Match] | None:
        findings: list[tuple[int, LetterFinding]] = []
        for index, matcher in enumerate(self._matchers):
            for phrase in phrases(matcher):
                finding = find_letters(phrase, utterance.text, first_word)
                if finding is None:
                    continue
                if finding.exact:
                    self.found_at = (utterance, finding.window.end)
                    return index, finding.by_letters()
                if finding.worth_asking:
                    findings.append((index, finding))
                self._remember(finding.by_letters())
        if not findings:
            return None
        decided = await self._ask_audio(utterance, findings)
        passing = [
            (item, finding)
            for item, (_, finding) in zip(decided, findings, strict=False)
            if item[1].matched
        ]
        if passing:
            best, finding = max(passing, key=lambda pair: pair[0][1].margin or 0.0)
            self.found_at = (utterance, finding.window.end)
            return best
        for _, match in decided:
            self._remember(match)
        return None

    async def _ask_audio(
        self, utterance: Utterance, findings: Sequence[tuple[int, LetterFinding]]
    ) -> list[tuple[int, Match]]:
        per_finding = [finding.candidates() for _, finding in findings]
        contexts = [finding.in_context() for _, finding in findings]
        candidates = [text for groups in per_finding for group in groups for text in group]
        candidates += [text for context in contexts for text in _context_texts(context)]
        try:
            margins = await self._margins(utterance, candidates)
        except VerifyUnavailable as error:
            self.unavailable = str(error)
            return []
        scored = iter(margins)
        grouped = [[[next(scored) for _ in group] for group in groups] for groups in per_finding]
        for groups, context, (_, finding) in zip(grouped, contexts, findings, strict=True):
            in_context = [next(scored) for _ in _context_texts(context)]
            _add_context(groups, context, in_context, finding.judged_in_context())
        decided = [
            (index, finding.by_audio(groups))
            for (index, finding), groups in zip(findings, grouped, strict=True)
        ]
        return await self._contrast(utterance, findings, grouped, decided)

    async def _contrast(
        self,
        utterance: Utterance,
        findings: Sequence[tuple[int, LetterFinding]],
        grouped: Sequence[Sequence[Sequence[float]]],
        decided: list[tuple[int, Match]],
    ) -> list[tuple[int, Match]]:
        """Phrases that missed the margin only near their key (LetterFinding.contested), or
        only at IVR words (LetterFinding.worded), are decided again by whether their key or
        words beat every rival: the rivals of all of them in one more batch, asked only when
        some phrase needs it."""
        asked: list[tuple[int, dict[int, dict[str, tuple[str, ...]]]]] = []
        for number, ((_, finding), groups) in enumerate(zip(findings, grouped, strict=True)):
            if decided[number][1].matched:
                continue
            rivals = _rivals(finding, groups)
            if rivals and all(rivals.values()):
                asked.append((number, {at: t for at, t in rivals.items() if t is not None}))
        if not asked:
            return decided
        texts = [
            text
            for _, per_key in asked
            for per_other in per_key.values()
            for group in per_other.values()
            for text in group
        ]
        try:
            scored = iter(await self._margins(utterance, texts))
        except VerifyUnavailable as error:
            self.unavailable = str(error)
            return decided
        for number, per_key in asked:
            finding, groups = findings[number][1], grouped[number]
            contrast = min(
                finding.key_margin(at, groups)
                - max(max(next(scored) for _ in group) for group in per_other.values())
                for at, per_other in per_key.items()
            )
            decided[number] = (decided[number][0], finding.by_contrast(groups, contrast))
        return decided

    async def _margins(self, utterance: Utterance, texts: Sequence[str]) -> list[float]:
        """Each text's margin over the utterance's own reading, as the judge scores both
        (each distinct text scored once: renderings in several styles often coincide)."""
        distinct = list(dict.fromkeys(texts))
        fits = await self._judge.verify(utterance, [utterance.text, *distinct])
        margins = {
            text: fit.margin - fits[0].margin for text, fit in zip(distinct, fits[1:], strict=True)
        }
        return [margins[text] for text in texts]

    def _remember(self, match: Match) -> None:
        if self.closest is None or _closeness(match) > _closeness(self.closest):
            self.closest = match


def _context_texts(context: InContext | None) -> list[str]:
    """The texts of a phrase's `InContext`, to score: whole, then without each group."""
    if context is None:
        return []
    return [*context.whole, *(text for texts in context.without for text in texts)]


def _add_context(
    groups: list[list[float]],
    context: InContext | None,
    margins: list[float],
    eligible: Sequence[bool],
) -> None:
    """Each eligible group's margin among the phrase's other words, added to the group's
    margins as one more way to say it: the best, over styles, of the phrase said whole less
    the phrase said but for the group's stretch (`margins` as `_context_texts` lists the
    texts; `eligible` as LetterFinding.judged_in_context says)."""
    if context is None:
        return
    styles = len(context.whole)
    whole, rest = margins[:styles], margins[styles:]
    for number, (group, judged) in enumerate(zip(groups, eligible, strict=True)):
        if judged:
            without = rest[number * styles : (number + 1) * styles]
            group.append(max(w - o for w, o in zip(whole, without, strict=True)))


def _rivals(
    finding: LetterFinding, groups: Sequence[Sequence[float]]
) -> dict[int, dict[str, tuple[str, ...]] | None]:
    """Per contested word of the phrase, its rivals' texts: the other keys where it missed
    only near its key, else IVR words where it missed only at such words; none otherwise."""
    keys = finding.contested(groups)
    if keys:
        return {at: finding.rivals(at) for at in keys}
    return {at: finding.word_rivals(at) for at in finding.worded(groups)}


def _closeness(match: Match) -> tuple[bool, float]:
    """Audio verdicts before letter-only ones, then the higher margin or letter similarity."""
    if match.margin is not None:
        return True, match.margin
    return False, match.score
