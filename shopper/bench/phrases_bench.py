"""How well the phrasebook recognises kinds of announcement: `shopper bench phrases`.

Precision and recall per kind, on:
- the training corpus by five-fold cross-validation (development: the thresholds were
  chosen on these figures), as written and garbled like a recogniser's output;
- the held-out phrasings (heldout.tsv, never trained or tuned on) as written, garbled, and
  as Moonshine hears them spoken by flite voices and by espeak-ng over a μ-law line;
- for comparison, the keyword lists the classifier replaced, on the held-out phrasings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.audio.g711 import ulaw_round_trip
from shopper.text.normalize import normalize
from shopper.text.phrasebook.corpus import Phrasing, heldout_phrasings, training_phrasings
from shopper.text.phrasebook.kinds import PromptKind
from shopper.text.phrasebook.model import shipped_model
from shopper.text.phrasebook.scoring import KindScore, render_scores, score_kinds
from shopper.text.phrasebook.train import Settings, develop, garbled_texts
from shopper.tts import TtsName, synthesize

FLITE_VOICES = ("awb", "slt", "rms", "kal")
"""Each held-out phrasing is spoken by one of these in turn."""


@dataclass(frozen=True, slots=True)
class PhrasesBench:
    columns: list[tuple[str, list[KindScore]]]
    heard_examples: list[tuple[str, str]]
    """(written, heard) of a few held-out phrasings, to show what the recogniser did."""

    def render(self) -> str:
        lines = [
            "precision / recall per kind (n = phrasings of the kind)",
            render_scores(self.columns[:3]),
            "",
            render_scores(self.columns[3:]),
        ]
        if self.heard_examples:
            lines += ["", "as heard, e.g.:"]
            lines += [f"  {written!r} -> {heard!r}" for written, heard in self.heard_examples]
        return "\n".join(lines)


def run_phrases_bench(seed: int = 0, speech: bool = True) -> PhrasesBench:
    development = develop(training_phrasings(), Settings(seed=seed))
    heldout = heldout_phrasings()
    truth = [p.kinds for p in heldout]
    model = shipped_model()
    columns = [
        ("dev as written", development.written),
        ("dev garbled", development.garbled),
        ("held-out old lists", score_kinds(truth, [_old_lists(p.text) for p in heldout])),
        ("held-out as written", score_kinds(truth, [model.kinds_of(p.text) for p in heldout])),
        (
            "held-out garbled",
            score_kinds(truth, [model.kinds_of(t) for t in garbled_texts(heldout, seed)]),
        ),
    ]
    examples: list[tuple[str, str]] = []
    if speech:
        speakers: list[tuple[str, Callable[[int], str], TtsName]] = [
            ("held-out flite+ASR", lambda i: FLITE_VOICES[i % len(FLITE_VOICES)], "flite"),
            ("held-out espeak+ASR", lambda i: "en-us", "espeak-ng"),
        ]
        for title, voice_of, tts in speakers:
            heard = heard_texts(heldout, voice_of, tts)
            columns.append((title, score_kinds(truth, [model.kinds_of(t) for t in heard])))
            examples += [(heldout[i].text, heard[i]) for i in range(0, len(heldout), 60)]
    return PhrasesBench(columns, examples)


def heard_texts(
    phrasings: Sequence[Phrasing], voice_of: Callable[[int], str], tts: TtsName
) -> list[str]:
    """What Moonshine hears of each phrasing spoken by `voice_of(index)` over a μ-law line."""
    engine = MoonshineEngine()
    return [
        engine.transcribe(ulaw_round_trip(synthesize(p.text, voice=voice_of(i), tts=tts)))
        for i, p in enumerate(phrasings)
    ]


_OLD_LISTS: dict[PromptKind, re.Pattern[str]] = {
    PromptKind.CALLBACK_OFFER: re.compile(
        r"\b(call ?back|call you back|return your call|keep your place in line)\b"
        r"(?=.*\b(press|say|dial|option)\b)|\b(press|say|dial|option)\b"
        r"(?=.*\b(call ?back|call you back|return your call|keep your place in line)\b)"
    ),
    PromptKind.HOLD: re.compile(
        r"\b(your call is important|stay on the line|please (continue to )?hold|next available"
        r"|(are|is) (currently )?(busy|assisting)|in the order (it was|they were) received"
        r"|estimated (wait|hold) time|calls? ahead of you|thank you for your patience)\b"
    ),
    PromptKind.TRANSFER: re.compile(
        r"\b(transferring|transfer you|connecting you|put you through|one moment)\b"
    ),
    PromptKind.RETRY: re.compile(
        r"\b(not a valid|invalid|try again|did not hear|didn t hear|didnt hear|not recognized)\b"
    ),
    PromptKind.CLOSED: re.compile(
        r"\b(closed|office hours|business hours|we are open|our hours|open monday)\b"
    ),
    PromptKind.VOICEMAIL: re.compile(
        r"(leave a message|leave your message|after the tone|after the beep)"
    ),
    PromptKind.NAVIGATION: re.compile(
        r"\b(main menu|previous menu|menu|go back|back|return|repeat|start over|again)\b"
    ),
    PromptKind.PERSON: re.compile(
        r"\b(this is [a-z]+|my name is|you are (speaking|talking) (to|with)|[a-z]+ speaking"
        r"|how (can|may|might) i (help|assist)|what can i do for you"
        r"|who am i (speaking|talking) (to|with)|(may|can) i (have|get) your"
        r"|thanks? (you )?for (holding|waiting)|sorry (to keep you|for the wait))\b"
    ),
}
"""The keyword lists of engine/hold.py, engine/human.py, crawl/prompts.py, crawl/explorer.py,
crawl/findings.py and crawl/pathcall.py before the phrasebook replaced them (main at
ff50f21), on normalised text as they were used; "say or press" had no list."""


def _old_lists(text: str) -> frozenset[PromptKind]:
    said = normalize(text)
    return frozenset(kind for kind, pattern in _OLD_LISTS.items() if pattern.search(said))
