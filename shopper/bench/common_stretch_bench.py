"""Is this recording inside that span? How often shopper.audio.common_stretch is right, and
what one comparison costs at the sizes a crawl compares.

Different recordings: every pair of Asterisk prompts of 2.2 s or more (one studio voice),
every pair of a set of IVR sentences in each of three flite voices (some sharing a phrase
word for word, as menus do), and every pair of prompts made of two of those sentences with a
pause between them (each sentence in one prompt only). The same recording: each of those
prompts cut out of two spans as a crawl keeps them, once after the last 0.1-1 s of another
prompt (a cut prompt's tail) and missing its first 0-0.3 s, once with the first 0.5-3 s of
another prompt joined after it. Everything goes through line noise and a μ-law round trip.
Speed: spans of 5, 10 and 20 s (prompts strung together) compared with their envelopes
already made, as the crawl's cache keeps them, plus the cost of making an envelope.
"""

from __future__ import annotations

import itertools
import resource
from dataclasses import dataclass

import numpy as np

from shopper.audio.common_stretch import align, shares_recording
from shopper.audio.files import read_audio
from shopper.audio.fingerprint import HOP_SAMPLES, MIN_FRAMES, Envelope, envelope
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.g711 import ulaw_round_trip
from shopper.bench.corpus import prompt_files
from shopper.tts import synthesize

MIN_PROMPT_S = 2.2
FLITE_VOICES = ("awb", "slt", "rms")
SENTENCES = (
    "For billing and payments, press 1. For card services, press 2.",
    "For claims, press 1. For roadside assistance, press 2.",
    "To hear your balance, press 1. To make a payment, press 2.",
    "To report a lost or stolen card, press 1. To activate a new card, press 2.",
    "Please hold while we connect you with the next available representative.",
    "Please hold while we try to connect you.",
    "Thank you for holding. Your call is important to us.",
    "Our offices are closed. We are open Monday through Friday, eight to eight.",
    "To return to the main menu, press 9. To speak with a representative, press 0.",
    "Sorry, that is not a valid choice. Please try again.",
    "Policies and billing. For auto policies, press 1. For home policies, press 2.",
    "Loans and mortgages. For an existing mortgage, press 1. For a new loan, press 2.",
    "Thank you for calling Acme Bank. For billing and payments, press 1.",
    "Thank you for calling Northwind Insurance. For claims, press 1.",
    "Your card has been activated. Thank you for choosing Acme Bank.",
    "Please leave your message after the tone. When done, hang up or press the pound key.",
    "All billing representatives are busy. Transferring you to customer service.",
    "Customer service cannot help with billing questions. Transferring you to billing.",
    "Technical support. For internet problems, press 1. For phone service, press 2.",
    "The number you have dialed is not in service. Please check the number and try again.",
)
PAUSE_S = (0.5, 1.5)
"""Between two sentences of one prompt: where only line noise tells two calls apart."""
SAME_FROM_S = 2.5
SPAN_SECONDS = (5, 10, 20)
SPEED_PAIRS = 60


@dataclass(frozen=True, slots=True)
class SetResult:
    name: str
    recordings: int
    different_pairs: int
    different_accepted: int
    longest_shared_s: float
    """Longest stretch two different recordings share (accepted or not)."""
    largest_different_share: float
    """Largest part of the shorter span two different recordings share over 2 s or more."""
    same_pairs: int
    same_accepted: int
    same_accepted_from_2_5_s: str
    """Accepted / pairs, counting recordings of 2.5 s or more only."""
    smallest_same_share: float
    """Smallest part of the shorter span one recording's two spans share."""


@dataclass(frozen=True, slots=True)
class CommonStretchBenchReport:
    sets: tuple[SetResult, ...]
    ms_per_comparison: tuple[tuple[int, float], ...]
    """(span seconds, CPU milliseconds per comparison of two envelopes)."""
    envelope_ms_per_second: float

    def render(self) -> str:
        lines = [
            "set: recordings | different pairs: accepted, longest shared, largest share "
            "(>= 2 s) | same recording in two spans: accepted (of those >= 2.5 s), "
            "smallest share"
        ]
        lines += [
            f"{s.name}: {s.recordings} | {s.different_pairs}: {s.different_accepted}, "
            f"{s.longest_shared_s:.2f} s, {s.largest_different_share:.2f} | "
            f"{s.same_accepted}/{s.same_pairs} ({s.same_accepted_from_2_5_s}), "
            f"{s.smallest_same_share:.2f}"
            for s in self.sets
        ]
        speeds = ", ".join(f"{s} s spans {ms:.2f} ms" for s, ms in self.ms_per_comparison)
        lines.append(f"CPU per comparison: {speeds}")
        lines.append(f"envelope: {self.envelope_ms_per_second:.2f} ms CPU per second of audio")
        return "\n".join(lines)


def run_common_stretch_bench(seed: int = 0) -> CommonStretchBenchReport:
    rng = np.random.default_rng(seed)
    asterisk = [read_audio(path) for path in prompt_files() if "silence" not in path.parts]
    sets = [("asterisk", [x for x in asterisk if len(x) >= MIN_PROMPT_S * TELEPHONY_RATE])]
    paused: list[Samples] = []
    for voice in FLITE_VOICES:
        spoken = [synthesize(s, voice, 165, "flite") for s in SENTENCES]
        sets.append((f"flite {voice}", spoken))
        for first, second in zip(spoken[::2], spoken[1::2], strict=True):
            pause = np.zeros(round(rng.uniform(*PAUSE_S) * TELEPHONY_RATE), dtype=np.int16)
            paused.append(np.concatenate([first, pause, second]))
    sets.append(("flite, 2 sentences and a pause", paused))
    results = tuple(_measure_set(name, recordings, rng) for name, recordings in sets)
    speeds = tuple((s, _ms_per_comparison(asterisk, s, rng)) for s in SPAN_SECONDS)
    audio = np.concatenate(asterisk[:50])
    began = _cpu_s()
    envelope(audio)
    per_second = 1000 * (_cpu_s() - began) / (len(audio) / TELEPHONY_RATE)
    return CommonStretchBenchReport(results, speeds, per_second)


def _measure_set(name: str, recordings: list[Samples], rng: np.random.Generator) -> SetResult:
    heard = [envelope(_over_the_line(x, rng)) for x in recordings]
    accepted = 0
    longest = 0
    largest_share = 0.0
    for a, b in itertools.combinations(heard, 2):
        shared = align(a, b)
        longest = max(longest, shared.frames)
        if shared.frames >= MIN_FRAMES:
            largest_share = max(largest_share, shared.frames / min(a.frames, b.frames))
        accepted += shares_recording(a, b)
    same = [_two_spans(x, recordings, rng) for x in recordings]
    accepted_same = [shares_recording(first, second) for first, second in same]
    long_enough = [
        ok
        for ok, x in zip(accepted_same, recordings, strict=True)
        if len(x) >= SAME_FROM_S * TELEPHONY_RATE
    ]
    return SetResult(
        name=name,
        recordings=len(recordings),
        different_pairs=len(heard) * (len(heard) - 1) // 2,
        different_accepted=accepted,
        longest_shared_s=longest * HOP_SAMPLES / TELEPHONY_RATE,
        largest_different_share=largest_share,
        same_pairs=len(same),
        same_accepted=sum(accepted_same),
        same_accepted_from_2_5_s=f"{sum(long_enough)}/{len(long_enough)}",
        smallest_same_share=min(
            align(first, second).frames / min(first.frames, second.frames) for first, second in same
        ),
    )


def _two_spans(
    recording: Samples, others: list[Samples], rng: np.random.Generator
) -> tuple[Envelope, Envelope]:
    before, after = (others[int(i)] for i in rng.integers(len(others), size=2))
    tail = before[-round(rng.uniform(0.1, 1.0) * TELEPHONY_RATE) :]
    cut = round(rng.uniform(0.0, 0.3) * TELEPHONY_RATE)
    joined = after[: round(rng.uniform(0.5, 3.0) * TELEPHONY_RATE)]
    first = _over_the_line(np.concatenate([tail, recording[cut:]]), rng)
    second = _over_the_line(np.concatenate([recording, joined]), rng)
    return envelope(first), envelope(second)


def _ms_per_comparison(prompts: list[Samples], seconds: int, rng: np.random.Generator) -> float:
    spans: list[Envelope] = []
    for _ in range(2 * SPEED_PAIRS):
        parts: list[Samples] = []
        while sum(len(p) for p in parts) < seconds * TELEPHONY_RATE:
            parts.append(prompts[int(rng.integers(len(prompts)))])
        spans.append(
            envelope(_over_the_line(np.concatenate(parts)[: seconds * TELEPHONY_RATE], rng))
        )
    began = _cpu_s()
    for a, b in zip(spans[::2], spans[1::2], strict=True):
        shares_recording(a, b)
    return 1000 * (_cpu_s() - began) / SPEED_PAIRS


def _over_the_line(samples: Samples, rng: np.random.Generator) -> Samples:
    noisy = samples + rng.normal(0.0, 8.0, len(samples))
    return ulaw_round_trip(np.clip(noisy, -32768, 32767).astype(np.int16))


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
