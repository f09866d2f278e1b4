"""Deciding an expectation the transcript missed: by its letters, else by asking the audio.

Text first: a matcher that passes on the heard words decides as it always did. When it does
not, each phrase the expectation says (`contains`, `fuzzy`, and those inside `any`) is
looked for letter by letter in each heard utterance (shopper.text.letters):

- the very same letters over whole heard words ("north wind" for "Northwind") pass on the
  letters alone: the same letters in the same order are the same sounds, so only the
  spelling differs, which is what the audio cannot judge anyway;
- a window at least `LETTER_GATE` similar is rendered in the recogniser's style
  (shopper.text.render) and the speech model is asked how well each rendering fits the
  utterance's audio. Each stretch where the phrase differs from the heard words is judged
  on its own, by its best rendering; the phrase passes when every one of them is at
  `ACCEPT_MARGIN_NATS` or above (the worst difference is the phrase's margin);
- anything further away fails as before, without costing an audio check.

`regex` expectations are decided by text only: a pattern names no one phrase to render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from shopper.text.letters import LetterWindow, heard_words, letter_window, phrase_letters
from shopper.text.match import AnyOf, Contains, Fuzzy, Match, Matcher, MatchKind
from shopper.text.normalize import Mishearings
from shopper.text.render import renderings

ACCEPT_MARGIN_NATS = -3.0
"""An expected phrase passes when its best rendering is at most 3 nats less likely, given the
audio, than the recogniser's own reading. Measured (shared research, phrase-scoring.md): at
-3 nats 0 of 210 wrong phrases were accepted on five synthetic voices and 0 of 120 on the
recorded voice, and 2 of 210 at -4; the expected phrase was accepted 53 of 70 times on the
synthetic voices where the transcript contained it 34 times."""

LETTER_GATE = 0.5
"""Letter similarity below which the audio is not asked: more than half the phrase's letters
would have to be misheard. A cost bound, not a judgement — a phrase this far from every heard
window fails as it did before the audio check existed (docs/matching.md, limits)."""


@dataclass(frozen=True, slots=True)
class Phrase:
    """One phrase an expectation says in words, with how its matcher treats mishearings."""

    text: str
    kind: MatchKind
    mishearings: Mishearings


@dataclass(frozen=True, slots=True)
class LetterFinding:
    """Where a phrase's letters best fit one heard utterance."""

    phrase: Phrase
    heard: str
    """The utterance's text as the recogniser wrote it."""
    window: LetterWindow
    span: str
    """The heard words of the window, as written."""

    @property
    def exact(self) -> bool:
        return self.window.exact

    @property
    def worth_asking(self) -> bool:
        """Close enough that the audio may say it: the audio check is worth its cost."""
        return not self.window.exact and self.window.similarity >= LETTER_GATE

    def candidates(self, word_breaks: bool = False) -> tuple[tuple[str, ...], ...]:
        """Per difference between the phrase and the window, whole-utterance texts that say
        the phrase there (shopper.text.render), to score against the utterance's audio.
        Differences in word breaks only are left as heard unless `word_breaks`."""
        mishearings = dict(self.phrase.mishearings)
        return renderings(
            self.heard, self.phrase.text, self.window, mishearings, word_breaks=word_breaks
        )

    def by_letters(self) -> Match:
        return Match(
            score=self.window.similarity,
            matched=self.exact,
            span=self.span,
            kind=self.phrase.kind,
            method="letters",
        )

    def by_audio(self, margins: Sequence[Sequence[float]]) -> Match:
        """The decision from the candidates' margins (nats), grouped by difference as
        `candidates()` gives them: each difference counts by its best rendering, and the
        phrase by its worst difference, so a wrong word is not outweighed by right ones."""
        worst = min((max(group) for group in margins), default=float("-inf"))
        return Match(
            score=self.window.similarity,
            matched=worst >= ACCEPT_MARGIN_NATS,
            span=self.span,
            kind=self.phrase.kind,
            method="audio",
            margin=worst,
        )


def phrases(matcher: Matcher) -> tuple[Phrase, ...]:
    """The phrases a matcher expects, in order; none for regexes and unknown matchers."""
    if isinstance(matcher, Contains):
        return (Phrase(matcher.expected, "contains", matcher.mishearings),)
    if isinstance(matcher, Fuzzy):
        return (Phrase(matcher.expected, "fuzzy", matcher.mishearings),)
    if isinstance(matcher, AnyOf):
        return tuple(phrase for inner in matcher.matchers for phrase in phrases(inner))
    return ()


def find_letters(phrase: Phrase, heard: str, first_word: int = 0) -> LetterFinding | None:
    """The phrase's best letter window in one utterance's text, from its word `first_word` on
    (the words before it were another step's); None if nothing fits at all."""
    mishearings = dict(phrase.mishearings)
    words = heard_words(heard, mishearings)
    found = letter_window(phrase_letters(phrase.text, mishearings), words[first_word:])
    if found is None:
        return None
    window = replace(found, start=found.start + first_word, end=found.end + first_word)
    span = " ".join(word.raw for word in words[window.start : window.end])
    return LetterFinding(phrase, heard, window, span)
