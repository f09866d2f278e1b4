"""Everything shopper listens for in the far end's audio, frame by frame.

The call engine and `shopper analyze` share this one listener, so what an analysis of a
saved recording shows is exactly what the engine heard during the live call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from shopper.asr.types import RecognizerStream, SpeechEngine, Utterance
from shopper.audio.callprogress import ToneDetector, ToneEvent
from shopper.audio.classifier import SoundClassifier
from shopper.audio.dtmf import DtmfDetector, DtmfDigit
from shopper.audio.frame import AudioFrame
from shopper.audio.segments import Segment, SoundContext, SoundKind


@dataclass(slots=True)
class Heard:
    """What became known while listening to one frame (or at the end of the audio)."""

    segments: list[Segment] = field(default_factory=list)
    digits: list[DtmfDigit] = field(default_factory=list)
    tones: list[ToneEvent] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)
    """Partials and finals, in the order the recogniser gave them."""


class Ear:
    """Sound classifier, DTMF and call-progress receivers, and a speech recogniser in one."""

    def __init__(self, engine: SpeechEngine, phrases: Sequence[str] | None = None) -> None:
        self._classifier = SoundClassifier()
        self._dtmf = DtmfDetector()
        self._tones = ToneDetector()
        self._recognizer: RecognizerStream = engine.stream(phrases)

    @property
    def current(self) -> SoundKind | None:
        """The kind of sound in the latest analysed window (unsmoothed)."""
        return self._classifier.current

    def hear(self, frame: AudioFrame) -> Heard:
        segments = self._classifier.feed(frame)
        sound = SoundContext(segments, self._classifier.current)
        return Heard(
            segments=segments,
            digits=self._dtmf.feed(frame),
            tones=self._tones.feed(frame),
            utterances=self._recognizer.feed(frame, sound),
        )

    def finish(self) -> Heard:
        segments = self._classifier.finish()
        return Heard(
            segments=segments,
            digits=self._dtmf.finish(),
            tones=self._tones.finish(),
            utterances=self._recognizer.finish(SoundContext(segments, None)),
        )
