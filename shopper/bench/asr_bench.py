"""How well, and how fast, each speech engine hears real IVR prompts over a phone line.

Every Asterisk prompt with a transcript goes through a μ-law round trip (what G.711 does to
it on a call) and is transcribed whole. Accuracy is the corpus word error rate after
shopper's normalisation (total word errors over total reference words, so long menus weigh
more than one-word prompts); speed is the real-time factor, CPU seconds per second of audio
(all threads of this process, plus Moonshine's worker process, including its model loads).

The published transcripts carry notes that are not spoken: "(simple tone sound plays)",
"(note: does not say "2")", "dot [.]", "<beep ascending>". Bracketed and parenthesised text
is removed from references, and prompts with nothing left to say (the silence files, beeps)
are skipped. That is a fixed rule about the transcript format, not tuned on any engine's
output.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from shopper.asr.models import find_vosk_model
from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine
from shopper.audio.files import read_audio
from shopper.audio.frame import TELEPHONY_RATE, Samples, split_frames
from shopper.audio.g711 import ulaw_round_trip
from shopper.bench.corpus import prompt_transcripts
from shopper.sandbox.sounds import PROMPTS_DIR
from shopper.text.normalize import normalize
from shopper.text.wer import word_errors

TARGET_WER = 0.06
WORST_SHOWN = 10

_NOTES = re.compile(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>")


def spoken_reference(transcript: str) -> str:
    """The words a published transcript says are spoken, without its notes and symbols."""
    return " ".join(_NOTES.sub(" ", transcript).split())


def benchmark_prompts(limit: int | None = None) -> list[tuple[Path, str]]:
    """(prompt file, spoken reference) pairs, sorted by path; `limit` takes evenly spaced ones.

    Evenly spaced rather than the first few, because the sorted list runs through families
    of prompts (agent-*, conf-*, vm-*) that sound alike.
    """
    pairs = sorted((path, spoken_reference(text)) for path, text in prompt_transcripts().items())
    pairs = [(path, text) for path, text in pairs if normalize(text)]
    if limit is None or limit >= len(pairs):
        return pairs
    if limit <= 0:
        return []
    return [pairs[math.floor(index * len(pairs) / limit)] for index in range(limit)]


def transcribe_whole(engine: SpeechEngine, samples: Samples) -> str:
    """Text of one recording: Moonshine's utterance call, or any engine's stream fed in 20 ms
    frames (finals only)."""
    if isinstance(engine, MoonshineEngine):
        return engine.transcribe(samples)
    stream = engine.stream()
    heard = []
    for frame in split_frames(samples):
        heard += stream.feed(frame)
    heard += asyncio.run(stream.finish())
    return " ".join(utterance.text for utterance in heard if utterance.final)


@dataclass(frozen=True, slots=True)
class PromptResult:
    path: Path
    reference: str
    hypothesis: str
    errors: int
    words: int


@dataclass
class EngineResult:
    name: str
    prompts: list[PromptResult] = field(default_factory=list)
    audio_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def errors(self) -> int:
        return sum(prompt.errors for prompt in self.prompts)

    @property
    def words(self) -> int:
        return sum(prompt.words for prompt in self.prompts)

    @property
    def wer(self) -> float:
        return self.errors / self.words if self.words else math.nan

    @property
    def rtf(self) -> float:
        return self.cpu_s / self.audio_s if self.audio_s else math.nan

    def worst(self, count: int = WORST_SHOWN) -> list[PromptResult]:
        """Most word errors first; a higher per-prompt rate breaks ties."""
        return sorted(
            (prompt for prompt in self.prompts if prompt.errors),
            key=lambda prompt: (-prompt.errors, -prompt.errors / max(1, prompt.words)),
        )[:count]


@dataclass
class AsrBenchReport:
    engines: list[EngineResult]

    def render(self) -> str:
        lines = [
            f"{'engine':<34} {'prompts':>7} {'words':>6} {'errors':>6} {'WER':>7} "
            f"{'audio s':>8} {'CPU s':>7} {'RTF':>6}"
        ]
        for result in self.engines:
            verdict = "meets" if result.wer <= TARGET_WER else "misses"
            lines.append(
                f"{result.name:<34} {len(result.prompts):>7} {result.words:>6} "
                f"{result.errors:>6} {result.wer:>7.2%} {result.audio_s:>8.1f} "
                f"{result.cpu_s:>7.1f} {result.rtf:>6.3f}  ({verdict} target {TARGET_WER:.0%})"
            )
        for result in self.engines:
            lines.append("")
            lines.append(f"worst prompts, {result.name}:")
            for prompt in result.worst():
                name = (
                    prompt.path.relative_to(PROMPTS_DIR)
                    if prompt.path.is_relative_to(PROMPTS_DIR)
                    else prompt.path
                )
                lines.append(f"  {name} ({prompt.errors}/{prompt.words} errors)")
                lines.append(f"    ref: {prompt.reference}")
                lines.append(f"    hyp: {prompt.hypothesis}")
        return "\n".join(lines)


def default_engines() -> list[SpeechEngine]:
    """Moonshine always; Vosk too when a model is found (dither off, for repeatable figures)."""
    engines: list[SpeechEngine] = [MoonshineEngine()]
    model = find_vosk_model()
    if model is not None:
        from shopper.asr.vosk_engine import VoskEngine

        engines.append(VoskEngine(model, deterministic=True))
    return engines


def _cpu_seconds(engine: SpeechEngine) -> float:
    """This process's CPU time, plus Moonshine's worker process where that does the work."""
    worker = engine.worker_cpu_s if isinstance(engine, MoonshineEngine) else 0.0
    return time.process_time() + worker


def run_asr_bench(
    engines: list[SpeechEngine] | None = None, limit: int | None = None
) -> AsrBenchReport:
    """Transcribe the prompt corpus (or `limit` evenly spaced prompts) with each engine."""
    prompts = [
        (path, reference, ulaw_round_trip(read_audio(path)))
        for path, reference in benchmark_prompts(limit)
    ]
    results: list[EngineResult] = []
    for engine in engines if engines is not None else default_engines():
        result = EngineResult(engine.name)
        for path, reference, samples in prompts:
            began = _cpu_seconds(engine)
            hypothesis = transcribe_whole(engine, samples)
            result.cpu_s += _cpu_seconds(engine) - began
            result.audio_s += len(samples) / TELEPHONY_RATE
            errors, words = word_errors(reference, hypothesis)
            result.prompts.append(PromptResult(path, reference, hypothesis, errors, words))
        results.append(result)
    return AsrBenchReport(results)
