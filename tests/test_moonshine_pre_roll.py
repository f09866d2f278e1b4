"""The audio a Moonshine stream sends to be read starts a little before the speech segment.

A sound classifier marks speech where it is sure of it: a word's weak onset (a fricative, a
breath, an aspirated stop) rises above the line's floor tens of milliseconds earlier (median
10-40 ms, up to 300 ms on the dev IVRs' voices; docs/benchmarks.md), and a reading that
starts late hears "And you for calling" for "Thank you for calling". An engine that records
what it is given stands in for the model here.
"""

import numpy as np

from shopper.asr.moonshine_engine import PRE_ROLL_S, MoonshineStream
from shopper.audio.frame import TELEPHONY_RATE, AudioFrame
from shopper.audio.segments import Segment, SoundContext, SoundKind

FRAME = 160


class _Reading:
    text = "words"
    confidence = 0.9
    chunks = ()

    def done(self) -> bool:
        return True

    def result(self) -> "_Reading":
        return self

    async def wait(self) -> "_Reading":
        return self


class _RecordingEngine:
    def __init__(self) -> None:
        self.given: list[np.ndarray] = []

    def submit(self, samples: np.ndarray) -> _Reading:
        self.given.append(samples.copy())
        return _Reading()


def _heard(stream: MoonshineStream, segments: list[Segment]) -> None:
    """Feed the stream frames whose samples are their own media time (mod 30000), closing
    each segment at its end."""
    end = segments[-1].end + 2 * TELEPHONY_RATE
    for start in range(0, end, FRAME):
        closed = [s for s in segments if start < s.end <= start + FRAME]
        kind: SoundKind = next((s.kind for s in segments if s.start <= start < s.end), "silence")
        samples = (np.arange(start, start + FRAME) % 30000).astype(np.int16)
        stream.feed(AudioFrame(samples, start), SoundContext(closed, kind))


def _stream() -> tuple[MoonshineStream, _RecordingEngine]:
    engine = _RecordingEngine()
    return MoonshineStream(engine), engine  # type: ignore[arg-type]


async def test_the_reading_starts_before_the_speech_segment() -> None:
    stream, engine = _stream()
    _heard(stream, [Segment(0, 8000, "silence"), Segment(8000, 16000, "speech")])
    await stream.finish()
    (given,) = engine.given
    pre_roll = round(PRE_ROLL_S * TELEPHONY_RATE)
    assert pre_roll > 0
    assert given[0] == 8000 - pre_roll and given[-1] == 15999


async def test_no_pre_roll_reaches_into_music_or_the_speech_read_before() -> None:
    stream, engine = _stream()
    segments = [
        Segment(0, 8000, "music"),
        Segment(8000, 8100, "silence"),
        Segment(8100, 16000, "speech"),
        Segment(16000, 24000, "silence"),
        Segment(24000, 32000, "speech"),
    ]
    _heard(stream, segments)
    await stream.finish()
    first, second = engine.given
    assert first[0] == 8000 and first[-1] == 15999
    pre_roll = round(PRE_ROLL_S * TELEPHONY_RATE)
    assert second[0] == max(16000, 24000 - pre_roll)
