"""How well shopper hears key presses, and how often an IVR's own audio fools it.

Detection is measured on random key sequences at the fastest legal dialling (40 ms tone,
40 ms pause) with the level, twist, frequency error and noise a real line gives, all through a
μ-law round trip. Talk-off is measured on every Asterisk prompt and hold-music file, where
any digit at all is a false one. Speed is detector time only (files are read beforehand).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from shopper.audio.dtmf import DTMF_KEYS, DtmfDetector, DtmfDigit, detect_dtmf, dtmf_tone
from shopper.audio.files import read_audio
from shopper.audio.frame import TELEPHONY_RATE, Samples, split_frames
from shopper.audio.g711 import ulaw_round_trip
from shopper.bench.corpus import prompt_files
from shopper.sandbox.sounds import moh_files

SEQUENCES = 200
KEYS_PER_SEQUENCE = 16
TONE = 320
"""40 ms: the shortest tone a receiver must accept."""
PAUSE = 320
"""40 ms: the shortest pause between digits a receiver must accept."""
LEVELS_DBFS = (-28.0, -10.0)
"""Per-tone level range; -10 dBFS leaves room for 8 dB of twist without clipping."""
TWISTS_DB = (-4.0, 8.0)
"""Reverse to normal twist, the receiver's whole acceptance range."""
DEVIATION = 0.015
"""Frequency error up to the 1.5 % a receiver must accept."""
SNRS_DB = (15.0, 35.0)
"""White noise relative to the two tones' total power."""


@dataclass(frozen=True, slots=True)
class DtmfBenchReport:
    sequences: int
    digits_sent: int
    correct: int
    missed: int
    wrong: int
    extra: int
    mean_start_error_ms: float
    max_start_error_ms: float
    files_scanned: int
    audio_hours: float
    talkoff_digits: int
    talkoff_examples: tuple[str, ...]
    """'file: digit at t s' for the first few false digits."""
    whole_buffer_x_realtime: float
    streaming_x_realtime: float
    """In 20 ms frames, as a live call delivers them."""

    @property
    def detection_rate(self) -> float:
        return self.correct / self.digits_sent if self.digits_sent else 0.0

    def render(self) -> str:
        lines = [
            f"detection at 40/40 ms: {100 * self.detection_rate:.2f} % "
            f"({self.correct}/{self.digits_sent} digits in {self.sequences} sequences; "
            f"missed {self.missed}, wrong {self.wrong}, extra {self.extra}; target 100 %)",
            f"start error: mean {self.mean_start_error_ms:.1f} ms, "
            f"max {self.max_start_error_ms:.1f} ms",
            f"talk-off: {self.talkoff_digits} false digits in {self.files_scanned} files, "
            f"{self.audio_hours:.2f} h of prompts and hold music (target 0)",
            f"speed: {self.whole_buffer_x_realtime:.0f}x real time on whole recordings, "
            f"{self.streaming_x_realtime:.0f}x in 20 ms frames",
        ]
        lines += [f"  false: {example}" for example in self.talkoff_examples]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Sequence:
    samples: Samples
    keys: str
    starts: list[int]


def _random_sequence(rng: np.random.Generator) -> _Sequence:
    keys = "".join(rng.choice(list(DTMF_KEYS), KEYS_PER_SEQUENCE))
    level = float(rng.uniform(*LEVELS_DBFS))
    twist = float(rng.uniform(*TWISTS_DB))
    lead = int(rng.integers(400, 1200))
    length = lead + KEYS_PER_SEQUENCE * (TONE + PAUSE) + 800
    clean = np.zeros(length, dtype=np.float64)
    starts = []
    for position, key in enumerate(keys):
        start = lead + position * (TONE + PAUSE)
        deviation = float(rng.uniform(-DEVIATION, DEVIATION))
        tone = dtmf_tone(key, TONE / TELEPHONY_RATE, level, twist_db=twist, deviation=deviation)
        clean[start : start + TONE] += tone
        starts.append(start)
    tone_power = (32767.0 * 10.0 ** (level / 20.0)) ** 2
    snr_db = float(rng.uniform(*SNRS_DB))
    noise = rng.standard_normal(length) * np.sqrt(tone_power / 10.0 ** (snr_db / 10.0))
    noisy = np.clip(np.rint(clean + noise), -32768, 32767).astype(np.int16)
    return _Sequence(ulaw_round_trip(noisy), keys, starts)


@dataclass(slots=True)
class _Tally:
    correct: int = 0
    missed: int = 0
    wrong: int = 0
    extra: int = 0


def _score(found: list[DtmfDigit], sequence: _Sequence, tally: _Tally, errors: list[int]) -> None:
    """Match each sent tone to the heard digits that overlap it."""
    used: set[int] = set()
    for key, start in zip(sequence.keys, sequence.starts, strict=True):
        overlapping = [
            index
            for index, digit in enumerate(found)
            if digit.start < start + TONE and digit.end > start and index not in used
        ]
        if not overlapping:
            tally.missed += 1
            continue
        used.update(overlapping)
        matches = [found[index] for index in overlapping if found[index].digit == key]
        if matches:
            tally.correct += 1
            tally.extra += len(overlapping) - 1
            errors.append(abs(matches[0].start - start))
        else:
            tally.wrong += 1
    tally.extra += len(found) - len(used)


def _streaming_speed(samples: Samples) -> float:
    detector = DtmfDetector()
    began = time.perf_counter()
    for frame in split_frames(samples):
        detector.feed(frame)
    detector.finish()
    return len(samples) / TELEPHONY_RATE / (time.perf_counter() - began)


def run_dtmf_bench(seed: int = 0) -> DtmfBenchReport:
    rng = np.random.default_rng(seed)
    tally = _Tally()
    errors: list[int] = []
    for _ in range(SEQUENCES):
        sequence = _random_sequence(rng)
        _score(detect_dtmf(sequence.samples), sequence, tally, errors)

    files = prompt_files() + moh_files()
    recordings = [(path.name, ulaw_round_trip(read_audio(path))) for path in files]
    total_samples = sum(len(samples) for _, samples in recordings)
    false_digits: list[str] = []
    began = time.perf_counter()
    for name, samples in recordings:
        false_digits += [f"{name}: {d.digit} at {d.start_s:.2f} s" for d in detect_dtmf(samples)]
    scan_seconds = time.perf_counter() - began
    longest = max(recordings, key=lambda item: len(item[1]))[1]

    error_ms = np.asarray(errors, dtype=np.float64) * 1000.0 / TELEPHONY_RATE
    return DtmfBenchReport(
        sequences=SEQUENCES,
        digits_sent=SEQUENCES * KEYS_PER_SEQUENCE,
        correct=tally.correct,
        missed=tally.missed,
        wrong=tally.wrong,
        extra=tally.extra,
        mean_start_error_ms=float(error_ms.mean()) if len(error_ms) else 0.0,
        max_start_error_ms=float(error_ms.max()) if len(error_ms) else 0.0,
        files_scanned=len(files),
        audio_hours=total_samples / TELEPHONY_RATE / 3600.0,
        talkoff_digits=len(false_digits),
        talkoff_examples=tuple(false_digits[:5]),
        whole_buffer_x_realtime=total_samples / TELEPHONY_RATE / scan_seconds,
        streaming_x_realtime=_streaming_speed(longest),
    )
