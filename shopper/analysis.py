"""Everything shopper's ear hears in one recording: sound segments, keys, tones and words.

The recording is fed frame by frame through the same streaming detectors a live call uses,
so `shopper analyze` on a saved call shows exactly what the call engine would have heard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopper.asr.types import SpeechEngine, Utterance
from shopper.audio.callprogress import ToneEvent
from shopper.audio.dtmf import DtmfDigit
from shopper.audio.frame import TELEPHONY_RATE, Samples, split_frames
from shopper.audio.segments import Segment
from shopper.engine.ear import Ear

ANALYSIS_SCHEMA = "shopper.analysis/1"


@dataclass(frozen=True, slots=True)
class Analysis:
    duration_s: float
    engine: str
    segments: list[Segment]
    dtmf: list[DtmfDigit]
    tones: list[ToneEvent]
    transcript: list[Utterance]

    def to_json(self) -> dict[str, Any]:
        """The document `shopper analyze --json` prints (documented in docs/analyze.md)."""
        return {
            "schema": ANALYSIS_SCHEMA,
            "duration_s": round(self.duration_s, 3),
            "engine": self.engine,
            "segments": [
                {"start_s": _s(s.start_s), "end_s": _s(s.end_s), "kind": s.kind}
                for s in self.segments
            ],
            "dtmf": [{"t_s": _s(d.start_s), "digit": d.digit} for d in self.dtmf],
            "tones": [
                {"start_s": _s(t.start_s), "end_s": _s(t.end_s), "kind": t.kind} for t in self.tones
            ],
            "transcript": [
                {
                    "start_s": _s(u.start_s),
                    "end_s": _s(u.end_s),
                    "text": u.text,
                    "confidence": round(u.confidence, 3),
                }
                for u in self.transcript
            ],
        }


def _s(seconds: float) -> float:
    return round(seconds, 3)


def analyze_samples(samples: Samples, engine: SpeechEngine) -> Analysis:
    """Feed 8 kHz audio through the call engine's ear, 20 ms at a time, as a live call would."""
    ear = Ear(engine)
    heard = [ear.hear(frame) for frame in split_frames(samples)]
    heard.append(ear.finish())
    return Analysis(
        duration_s=len(samples) / TELEPHONY_RATE,
        engine=engine.name,
        segments=[s for h in heard for s in h.segments],
        dtmf=[d for h in heard for d in h.digits],
        tones=[t for h in heard for t in h.tones],
        transcript=[u for h in heard for u in h.utterances if u.final and u.text],
    )
