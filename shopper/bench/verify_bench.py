"""`shopper bench verify`: what asking Moonshine "does this audio say X?" is worth, and costs.

Synthetic menu sentences ("For billing, press two.") are rendered by every installed flite
voice and espeak-ng, each heard by a Moonshine stream, then:

- the key after "press" is chosen by scoring all 12 keys (words and numerals, the better
  rendering counting) and, for comparison, read from the transcript;
- the sentence as written and three wrong versions of it (two other keys, another option)
  are scored: how many are accepted at a margin of -3 nats, and how many the transcript
  `contains` check accepts;
- the cost: candidates scored per second of wall time, and worker CPU per candidate, batched
  (24 candidates a request) and one at a time.

The sentences are generic IVR phrasing chosen before any figure was seen; keys are drawn
from the seed.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from shopper.asr.moonshine_engine import MoonshineEngine, MoonshineStream
from shopper.asr.types import Fit, Utterance
from shopper.audio.frame import Samples, silence, split_frames
from shopper.audio.g711 import ulaw_round_trip
from shopper.text.normalize import normalize
from shopper.tts import TtsName, flite_voices, synthesize

ACCEPT_MARGIN = -3.0
"""The margin the research note measured as accepting no wrong phrase (0 of 210)."""
KEY_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven")
KEY_WORDS += ("eight", "nine", "star", "pound")
KEY_NUMERALS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#")
OPTIONS = (
    "For billing and payments,",
    "To report an outage,",
    "For technical support,",
    "To speak to an agent,",
    "For our opening hours,",
    "To check your order status,",
    "For lost or stolen cards,",
    "To make an appointment,",
    "For prescription refills,",
    "To change your flight,",
    "For all other questions,",
)
UNBATCHED_SENTENCES = 6
"""Sentences whose 12 key candidates are also scored one request each (slow by design)."""


@dataclass
class VoiceResult:
    voice: str
    sentences: int = 0
    key_by_scoring: int = 0
    key_by_transcript: int = 0
    expected_accepted: int = 0
    expected_contained: int = 0
    wrong: int = 0
    wrong_accepted: int = 0


@dataclass
class VerifyBenchReport:
    voices: list[VoiceResult] = field(default_factory=list)
    batched_candidates: int = 0
    batched_cpu_s: float = 0.0
    batched_wall_s: float = 0.0
    single_candidates: int = 0
    single_cpu_s: float = 0.0
    read_cpu_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)

    def render(self) -> str:
        lines = [
            f"{'voice':<18} {'sentences':>9} {'key: scoring':>12} {'transcript':>10} "
            f"{'expected >= -3':>14} {'contains':>8} {'wrong >= -3':>11}"
        ]
        for v in [*self.voices, _total(self.voices)]:
            lines.append(
                f"{v.voice:<18} {v.sentences:>9} {v.key_by_scoring:>12} "
                f"{v.key_by_transcript:>10} {v.expected_accepted:>14} "
                f"{v.expected_contained:>8} {f'{v.wrong_accepted}/{v.wrong}':>11}"
            )
        batched_ms = 1000 * self.batched_cpu_s / max(1, self.batched_candidates)
        single_ms = 1000 * self.single_cpu_s / max(1, self.single_candidates)
        rate = self.batched_candidates / self.batched_wall_s if self.batched_wall_s else 0.0
        read_ms = 1000 * self.read_cpu_s / max(1, sum(v.sentences for v in self.voices))
        lines += [
            "",
            f"scoring: {self.batched_candidates} candidates batched, {rate:.1f} candidates/s "
            f"wall, {batched_ms:.1f} ms worker CPU each; one at a time "
            f"({self.single_candidates}): {single_ms:.1f} ms CPU each",
            f"greedy reading of the same sentences: {read_ms:.0f} ms worker CPU each",
            f"load average (1 min) at start / end: {self.load[0]:.1f} / {self.load[1]:.1f} "
            f"on {os.cpu_count()} cores",
        ]
        return "\n".join(lines)


def _total(voices: Sequence[VoiceResult]) -> VoiceResult:
    total = VoiceResult("all")
    for counter in fields(VoiceResult)[1:]:
        setattr(total, counter.name, sum(getattr(v, counter.name) for v in voices))
    return total


def voices() -> list[tuple[str, TtsName]]:
    return [(voice, "flite") for voice in flite_voices()] + [("en-us", "espeak-ng")]


def run_verify_bench(seed: int = 0, engine: MoonshineEngine | None = None) -> VerifyBenchReport:
    engine = engine if engine is not None else MoonshineEngine()
    report = VerifyBenchReport()
    begin_load = os.getloadavg()[0]
    draw = random.Random(seed)
    for voice, tts in voices():
        result = VoiceResult(f"{tts} {voice}")
        for index, option in enumerate(OPTIONS):
            key = draw.randrange(10)
            wrong_keys = draw.sample([k for k in range(12) if k != key], 2)
            other = OPTIONS[(index + 1 + draw.randrange(len(OPTIONS) - 1)) % len(OPTIONS)]
            sentence = _Sentence(option, key, wrong_keys, other)
            _measure(engine, sentence, voice, tts, result, report)
        report.voices.append(result)
    report.load = (begin_load, os.getloadavg()[0])
    return report


@dataclass(frozen=True, slots=True)
class _Sentence:
    option: str
    key: int
    wrong_keys: list[int]
    other_option: str

    def text(self, key: int, option: str | None = None, numeral: bool = False) -> str:
        spoken = KEY_NUMERALS[key] if numeral else KEY_WORDS[key]
        return f"{option or self.option} press {spoken}."


def _measure(
    engine: MoonshineEngine,
    sentence: _Sentence,
    voice: str,
    tts: TtsName,
    result: VoiceResult,
    report: VerifyBenchReport,
) -> None:
    cpu = engine.worker_cpu_s
    stream, utterance = _hear(engine, synthesize(sentence.text(sentence.key), voice, tts=tts))
    report.read_cpu_s += engine.worker_cpu_s - cpu
    result.sentences += 1
    if utterance is None:
        return
    keys = [sentence.text(k, numeral=n) for n in (False, True) for k in range(12)]
    wrong = [sentence.text(k) for k in sentence.wrong_keys]
    wrong.append(sentence.text(sentence.key, sentence.other_option))
    candidates = keys + wrong + [_numerals(text) for text in wrong]
    cpu, wall = engine.worker_cpu_s, time.perf_counter()
    fits = _margins(asyncio.run(stream.verify(utterance, candidates)))
    report.batched_wall_s += time.perf_counter() - wall
    report.batched_cpu_s += engine.worker_cpu_s - cpu
    report.batched_candidates += len(candidates)
    best_key = max(range(12), key=lambda k: max(fits[keys[k]], fits[keys[12 + k]]))
    result.key_by_scoring += best_key == sentence.key
    result.key_by_transcript += _key_in_transcript(utterance.text) == sentence.key
    expected = sentence.text(sentence.key)
    result.expected_accepted += max(fits[expected], fits[_numerals(expected)]) >= ACCEPT_MARGIN
    result.expected_contained += normalize(expected) in normalize(utterance.text)
    for text in wrong:
        result.wrong += 1
        result.wrong_accepted += max(fits[text], fits[_numerals(text)]) >= ACCEPT_MARGIN
    if report.single_candidates < UNBATCHED_SENTENCES * 12:
        cpu = engine.worker_cpu_s
        for text in keys[:12]:
            asyncio.run(stream.verify(utterance, [text]))
        report.single_cpu_s += engine.worker_cpu_s - cpu
        report.single_candidates += 12


def _hear(engine: MoonshineEngine, speech: Samples) -> tuple[MoonshineStream, Utterance | None]:
    """The stream and the longest final it heard in the sentence on a quiet μ-law line."""
    stream = engine.stream()
    line = ulaw_round_trip(np.concatenate([silence(0.3), speech, silence(1.5)]))
    finals = [u for frame in split_frames(line) for u in stream.feed(frame)]
    finals += asyncio.run(stream.finish())
    return stream, max(finals, key=lambda u: u.end - u.start, default=None)


def _margins(fits: list[Fit]) -> dict[str, float]:
    return {fit.text: fit.margin for fit in fits}


def _numerals(text: str) -> str:
    for number, word in enumerate(KEY_WORDS[:10]):
        text = re.sub(rf"\b{word}\b", KEY_NUMERALS[number], text)
    return text


def _key_in_transcript(text: str) -> int | None:
    """The key a reader of the transcript would take: the word after "press"."""
    match = re.search(r"\bpress\s+([^\s,.;:!?]+)", text, re.IGNORECASE)
    if match is None:
        return None
    said = match.group(1).lower()
    for key, (word, numeral) in enumerate(zip(KEY_WORDS, KEY_NUMERALS, strict=True)):
        if said in (word, numeral):
            return key
    return None
