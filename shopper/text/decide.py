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
  `ACCEPT_MARGIN_NATS` or above (the worst difference is the phrase's margin). Where the
  phrase differs in several stretches, a stretch of IVR words may also be judged among
  the phrase's other words: by how much the phrase said whole beats it said but for that
  stretch (`in_context`, `judged_in_context`). Its cost is still its own, so a right word
  elsewhere cannot pay for it;
- anything further away fails as before, without costing an audio check.

A phrase that names a key ("press 2 for billing") and misses the margin only near that key,
by no more than `LOOSE_MARGIN_NATS`, is then asked a contrastive question: the same phrase
with the key swapped for each of the other eleven, rendered at the same place in the same
style, is scored too, and the phrase passes when its key beats every other key by
`CONTRAST_NATS` or more (`contested`, `rivals`, `by_contrast`). The model then says which key
the audio names, not only how far the whole phrase is from its own spelling.

A phrase that misses the margin, by no more than `LOOSE_MARGIN_NATS`, only at words IVRs say
(a department, "refill", "agent": words of the phrasebook's corpus, shopper.text.vocabulary;
no key word) is asked the same question about those words (`worded`, `word_rivals`): each is
swapped for the IVR words that look most like it and most like what was heard there
(`WORD_RIVALS` of each), and the phrase passes when every one of its words beats every rival
by `CONTRAST_NATS`. Where the recogniser wrote one IVR word in the place of one of the
phrase's, that word is a rival, and the reading it is beats any phrase that misses the
margin. Words no IVR corpus says (a company's name) keep the margin.

`regex` expectations are decided by text only: a pattern names no one phrase to render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from shopper.text.letters import LetterWindow, heard_words, letter_window, phrase_letters
from shopper.text.match import AnyOf, Contains, Fuzzy, Match, Matcher, MatchKind
from shopper.text.normalize import Mishearings, normalize
from shopper.text.render import InContext, Stretch, in_context, stretches, swapped
from shopper.text.vocabulary import ivr_words, nearest

ACCEPT_MARGIN_NATS = -3.0
"""An expected phrase passes when its best rendering is at most 3 nats less likely, given the
audio, than the recogniser's own reading. Measured (shared research, phrase-scoring.md): at
-3 nats 0 of 210 wrong phrases were accepted on five synthetic voices and 0 of 120 on the
recorded voice, and 2 of 210 at -4; the expected phrase was accepted 53 of 70 times on the
synthetic voices where the transcript contained it 34 times."""

LOOSE_MARGIN_NATS = -6.0
"""How far below the recogniser's reading a phrase may be and still be decided by contrast
(`CONTRAST_NATS`), when all it misses the margin by are the key and its neighbours. The
widest margin the research note measured: 3 of 210 wrong phrases came within it on their own
(phrase-scoring.md); here no phrase passes on the margin alone, the rivals must lose too."""

CONTRAST_NATS = 3.0
"""By how much the phrase's key must beat every other key, each rendered at the same place:
the same distance the accept margin keeps from the recogniser's reading."""

KEYS: tuple[str, ...] = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("star", "pound"),
)
"""The twelve keys of a phone keypad, as the normaliser writes them."""

WORD_RIVALS = 6
"""How many IVR words rival a phrase's word, from each side: the nearest in letters to the
word, and the nearest to what was heard in its place. A cost bound (each rival is 1-6 more
texts to score), comparable to a key's eleven rivals; not tuned."""

KEY_VERBS = frozenset({"press", "dial", "enter", "push", "select", "touch", "choose"})
"""Verbs that name a key in a script's phrase ("press 2"): the key after one has rivals."""

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

    def stretches(self, word_breaks: bool = False) -> tuple[Stretch, ...]:
        """Per difference between the phrase and the window, whole-utterance texts that say
        the phrase there (shopper.text.render), to score against the utterance's audio.
        Differences in word breaks only are left as heard unless `word_breaks`."""
        mishearings = dict(self.phrase.mishearings)
        return stretches(
            self.heard, self.phrase.text, self.window, mishearings, word_breaks=word_breaks
        )

    def in_context(self) -> InContext | None:
        """Renderings that judge each difference among the phrase's other words
        (shopper.text.render.in_context); None for a phrase that differs in one stretch."""
        mishearings = dict(self.phrase.mishearings)
        return in_context(self.heard, self.phrase.text, self.window, mishearings)

    def judged_in_context(self) -> tuple[bool, ...]:
        """Per stretch, whether it may be judged among the phrase's other words
        (`in_context`): when it says only IVR words (shopper.text.vocabulary) and no key.
        Forced to read the phrase's other words, the model grows unsure of what follows
        them, and a name's cost shrinks: "NorthShore" where the audio says "North Star" cost
        1.0 nats beside "Thank you for calling", 13 on its own. A key keeps its contrast."""
        words = normalize(self.phrase.text, dict(self.phrase.mishearings)).split()
        vocabulary = ivr_words()
        return tuple(
            bool(stretch.said_at)
            and all(words[at] in vocabulary and words[at] not in KEYS for at in stretch.said_at)
            for stretch in self.stretches()
        )

    def candidates(self, word_breaks: bool = False) -> tuple[tuple[str, ...], ...]:
        """The texts of `stretches`, grouped by difference."""
        return tuple(stretch.texts for stretch in self.stretches(word_breaks))

    def contested(self, margins: Sequence[Sequence[float]]) -> tuple[int, ...]:
        """The phrase's keys to ask rivals about, given its stretches' margins: none unless
        the phrase misses `ACCEPT_MARGIN_NATS` only at stretches that say a key or a word
        next to one (after a key verb), none below `LOOSE_MARGIN_NATS`."""
        keys = key_slots(normalize(self.phrase.text, dict(self.phrase.mishearings)).split())
        near = {at + step for at in keys for step in (-1, 0, 1)}
        missed = [
            (stretch, max(group))
            for stretch, group in zip(self.stretches(), margins, strict=True)
            if max(group) < ACCEPT_MARGIN_NATS
        ]
        if not keys or not missed:
            return ()
        for stretch, margin in missed:
            if margin < LOOSE_MARGIN_NATS or not stretch.said_at:
                return ()
            if not set(stretch.said_at) <= near:
                return ()
        return keys

    def rivals(self, at: int) -> dict[str, tuple[str, ...]] | None:
        """For each other key, the texts that say the phrase with it instead of key `at`;
        None when the key cannot be swapped on its own (shopper.text.render.swapped)."""
        words = normalize(self.phrase.text, dict(self.phrase.mishearings)).split()
        return self._swaps(at, [other for other in KEYS if other != words[at]])

    def worded(self, margins: Sequence[Sequence[float]]) -> tuple[int, ...]:
        """The phrase's words to ask rivals about when it missed `ACCEPT_MARGIN_NATS` at
        stretches saying only IVR words (shopper.text.vocabulary) that are not keys, none
        below `LOOSE_MARGIN_NATS`: the words of those stretches; else none."""
        words = normalize(self.phrase.text, dict(self.phrase.mishearings)).split()
        vocabulary = ivr_words()
        slots: list[int] = []
        for stretch, group in zip(self.stretches(), margins, strict=True):
            if max(group) >= ACCEPT_MARGIN_NATS:
                continue
            if max(group) < LOOSE_MARGIN_NATS or not stretch.said_at:
                return ()
            said = [words[at] for at in stretch.said_at]
            if any(word in KEYS or word not in vocabulary for word in said):
                return ()
            if not stretch.heard or not stretch.heard[0]:
                return ()  # said where nothing was heard: no word in its place to rival it
            slots += stretch.said_at
        return tuple(dict.fromkeys(slots))

    def word_rivals(self, at: int) -> dict[str, tuple[str, ...]] | None:
        """For each IVR word nearest the phrase's word `at` or what was heard in its place,
        the texts that say the phrase with it instead; None when the word cannot be swapped
        on its own (shopper.text.render.swapped)."""
        words = normalize(self.phrase.text, dict(self.phrase.mishearings)).split()
        heard = [part for s in self.stretches() if at in s.said_at for part in s.heard if part]
        others = [*nearest(words[at], WORD_RIVALS + 1)]
        for letters in dict.fromkeys(heard):
            others += nearest(letters, WORD_RIVALS)
        return self._swaps(at, [other for other in dict.fromkeys(others) if other != words[at]])

    def _swaps(self, at: int, others: Sequence[str]) -> dict[str, tuple[str, ...]] | None:
        """For each of `others`, the texts that say the phrase with it instead of its word
        `at`; None when the word cannot be swapped on its own."""
        found: dict[str, tuple[str, ...]] = {}
        for other in others:
            texts = swapped(
                self.heard, self.phrase.text, self.window, at, other, dict(self.phrase.mishearings)
            )
            if texts is None:
                return None
            found[other] = texts
        return found

    def key_margin(self, at: int, margins: Sequence[Sequence[float]]) -> float:
        """The phrase's own key `at`: the best margin of the stretch that says it, or 0 when
        the recogniser wrote it as the phrase says it (its own reading says the key)."""
        saying = [
            max(group)
            for stretch, group in zip(self.stretches(), margins, strict=True)
            if at in stretch.said_at
        ]
        return max(saying, default=0.0)

    def by_contrast(self, margins: Sequence[Sequence[float]], contrast: float) -> Match:
        """The decision of a contested phrase: `contrast` is by how many nats its keys beat
        their best rivals (the smallest over its keys)."""
        worst = min((max(group) for group in margins), default=float("-inf"))
        return Match(
            score=self.window.similarity,
            matched=worst >= LOOSE_MARGIN_NATS and contrast >= CONTRAST_NATS,
            span=self.span,
            kind=self.phrase.kind,
            method="contrast",
            margin=worst,
            contrast=contrast,
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


def key_slots(words: Sequence[str]) -> tuple[int, ...]:
    """Indices of the words that name a key right after a key verb ("press two")."""
    return tuple(
        at for at in range(1, len(words)) if words[at] in KEYS and words[at - 1] in KEY_VERBS
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
