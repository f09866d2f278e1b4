"""A one-minute call recording built from real material, with its ground truth.

Until the simulated phone system exists this is shopper's embedded default: a caller hears
a real recorded IVR menu, presses 2, is put on hold with real music and a queue
announcement, and ends on a reorder tone. Because every piece is placed at a known time, the
analysis of it can be checked against the truth.

Run `python -m shopper.bench.demo OUT.wav` to write it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shopper.audio.callprogress import call_progress_tone
from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.files import read_audio, write_wav
from shopper.audio.frame import TELEPHONY_RATE, Samples, silence
from shopper.audio.g711 import ulaw_round_trip
from shopper.sandbox.sounds import MOH_DIR, PROMPTS_DIR


@dataclass(frozen=True, slots=True)
class TruthPart:
    start_s: float
    end_s: float
    kind: str
    """speech, music, silence, dtmf or a call-progress tone kind."""
    label: str
    """The prompt's file name, the digit, or the tone kind."""


@dataclass(frozen=True, slots=True)
class DemoCall:
    samples: Samples
    truth: list[TruthPart]


def _comfort_noise(seconds: float, rng: np.random.Generator) -> Samples:
    return (rng.standard_normal(round(seconds * TELEPHONY_RATE)) * 20).astype(np.int16)


def build_demo_call(seed: int = 0) -> DemoCall:
    """Assemble the call through a μ-law round trip, as a caller would hear it on PCMU."""
    rng = np.random.default_rng(seed)
    moh = read_audio(MOH_DIR / "macroform-cold_day.wav")
    parts: list[tuple[str, str, Samples]] = [
        ("silence", "", _comfort_noise(0.6, rng)),
        ("speech", "basic-pbx-ivr-main", read_audio(PROMPTS_DIR / "basic-pbx-ivr-main.wav")),
        ("silence", "", _comfort_noise(1.0, rng)),
        ("dtmf", "2", dtmf_sequence("2", tone_s=0.12, gap_s=0.0)),
        ("silence", "", silence(0.8)),
        ("speech", "transfer", read_audio(PROMPTS_DIR / "transfer.wav")),
        ("silence", "", silence(0.7)),
        ("music", "macroform-cold_day", moh[30 * TELEPHONY_RATE : 42 * TELEPHONY_RATE]),
        (
            "speech",
            "queue-periodic-announce",
            read_audio(PROMPTS_DIR / "queue-periodic-announce.wav"),
        ),
        ("music", "macroform-cold_day", moh[42 * TELEPHONY_RATE : 48 * TELEPHONY_RATE]),
        ("silence", "", _comfort_noise(1.0, rng)),
        ("reorder", "reorder", call_progress_tone("reorder", 3.0)),
    ]
    truth: list[TruthPart] = []
    position = 0
    for kind, label, audio in parts:
        end = position + len(audio)
        truth.append(TruthPart(position / TELEPHONY_RATE, end / TELEPHONY_RATE, kind, label))
        position = end
    samples = ulaw_round_trip(np.concatenate([audio for _, _, audio in parts]))
    return DemoCall(samples, truth)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m shopper.bench.demo OUT.wav", file=sys.stderr)
        return 2
    write_wav(Path(argv[0]), build_demo_call().samples)
    print(f"wrote {argv[0]}: a one-minute IVR call built from Asterisk prompts and hold music")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
