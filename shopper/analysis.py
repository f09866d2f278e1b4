"""Everything shopper's ear hears in one recording: sound segments, keys, tones and words.

The recording is fed frame by frame through the same streaming detectors a live call uses,
so `shopper analyze` on a saved call shows exactly what the call engine would have heard.
Each channel is heard on its own: a call recording holds each side of the call in its own
channel (shopper writes the far end left and the tester right), and a mix would put one
side's keys and speech into the other's audio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shopper.asr.types import SpeechEngine, Utterance
from shopper.audio.callprogress import ToneEvent
from shopper.audio.dtmf import DtmfDigit
from shopper.audio.frame import TELEPHONY_RATE, Samples, split_frames
from shopper.audio.segments import Segment
from shopper.engine.ear import Ear

ANALYSIS_SCHEMA = "shopper.analysis/2"
STEREO_CHANNELS = ("far", "tester")
"""What the two channels of a stereo recording are, as shopper writes them (left, right)."""


@dataclass(frozen=True, slots=True)
class ChannelAnalysis:
    """What the ear heard in one channel."""

    channel: str
    """`mono`, `far` or `tester` (stereo), `channel-N` (more channels, from 1)."""
    segments: list[Segment]
    dtmf: list[DtmfDigit]
    tones: list[ToneEvent]
    transcript: list[Utterance]

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
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


@dataclass(frozen=True, slots=True)
class Analysis:
    duration_s: float
    engine: str
    channels: list[ChannelAnalysis]

    def to_json(self) -> dict[str, Any]:
        """The document `shopper analyze --json` prints (documented in docs/analyze.md)."""
        return {
            "schema": ANALYSIS_SCHEMA,
            "duration_s": round(self.duration_s, 3),
            "engine": self.engine,
            "channels": [channel.to_json() for channel in self.channels],
        }


def _s(seconds: float) -> float:
    return round(seconds, 3)


def channel_names(count: int) -> tuple[str, ...]:
    if count == 1:
        return ("mono",)
    if count == len(STEREO_CHANNELS):
        return STEREO_CHANNELS
    return tuple(f"channel-{number}" for number in range(1, count + 1))


def analyze_channels(channels: Sequence[Samples], engine: SpeechEngine) -> Analysis:
    """Hear each channel (8 kHz) on its own, through an ear of its own."""
    names = channel_names(len(channels))
    return Analysis(
        duration_s=max((len(c) for c in channels), default=0) / TELEPHONY_RATE,
        engine=engine.name,
        channels=[hear_channel(name, c, engine) for name, c in zip(names, channels, strict=True)],
    )


def hear_channel(name: str, samples: Samples, engine: SpeechEngine) -> ChannelAnalysis:
    """Feed one channel through a call engine's ear, 20 ms at a time, as a live call would."""
    ear = Ear(engine)
    heard = [ear.hear(frame) for frame in split_frames(samples)]
    heard.append(asyncio.run(ear.finish()))
    return ChannelAnalysis(
        channel=name,
        segments=[s for h in heard for s in h.segments],
        dtmf=[d for h in heard for d in h.digits],
        tones=[t for h in heard for t in h.tones],
        transcript=[u for h in heard for u in h.utterances if u.final and u.text],
    )
