"""Everything shopper listens for in the far end's audio, frame by frame.

The call engine and `shopper analyze` share this one listener, so what an analysis of a
saved recording shows is exactly what the engine heard during the live call.

Frames are analysed `BLOCK_FRAMES` at a time. Each analyser gives the same segments, keys
and tones however the audio is cut, and the cost of a 20 ms frame is mostly numpy's
per-call overhead, which a block shares: the ear costs about half as much, and what it
reports becomes known at most 80 ms of media time later, on a fixed grid, so runs stay
deterministic. The speech recogniser still takes the block frame by frame, each frame with
the segments and the unsmoothed label that frame-by-frame classification would have given
with it (the label worked out only if the recogniser asks): where it ends an utterance
depends on both, frame by frame, and must not depend on the block size.

Hearing a frame never waits for speech to be decoded: a final comes out with the first block
after its text is in, stamped with its own media time. `decoding` says text is still to come;
`settle()` awaits it (the session does, on a virtual clock, so runs stay deterministic).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from shopper.asr.types import Fit, RecognizerStream, SpeechEngine, Utterance
from shopper.audio.callprogress import ToneEvent
from shopper.audio.classifier import SoundClassifier
from shopper.audio.dtmf import DtmfDigit
from shopper.audio.frame import AudioFrame
from shopper.audio.segments import Segment, SoundContext, SoundKind, no_kind
from shopper.audio.tone_labels import Receivers

BLOCK_FRAMES = 5
"""Frames analysed together: 100 ms, the DTMF receiver's own batch."""


@dataclass(slots=True)
class Heard:
    """What became known while listening to one frame, which may complete a block of frames
    (or at the end of the audio)."""

    segments: list[Segment] = field(default_factory=list)
    digits: list[DtmfDigit] = field(default_factory=list)
    tones: list[ToneEvent] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)
    """Partials and finals, in the order the recogniser gave them."""
    ongoing: Segment | None = None
    """The sound segment still open after the block (not closed yet), when one was analysed."""


class Ear:
    """Sound classifier, DTMF and call-progress receivers, and a speech recogniser in one.

    The segments it reports are the classifier's, relabelled where the receivers heard a key
    or a tone (shopper.audio.tone_labels); the recogniser is given the classifier's own."""

    def __init__(self, engine: SpeechEngine, phrases: Sequence[str] | None = None) -> None:
        self._classifier = SoundClassifier()
        self._receivers = Receivers()
        self._recognizer: RecognizerStream = engine.stream(phrases)
        self._block: list[AudioFrame] = []

    @property
    def current(self) -> SoundKind | None:
        """The kind of sound in the latest analysed window (unsmoothed)."""
        return self._classifier.current

    def hear(self, frame: AudioFrame) -> Heard:
        """What the frames up to this one revealed, once `BLOCK_FRAMES` of them are in."""
        heard = Heard()
        if self._block and self._block[-1].end != frame.start:
            heard = self._analyse_block()
        self._block.append(frame)
        if len(self._block) >= BLOCK_FRAMES:
            heard = _joined(heard, self._analyse_block())
        return heard

    @property
    def speech_since(self) -> int | None:
        """Where the speech still being heard began, while the classifier's open segment is
        speech (its end, and so its utterance, is not known yet); None otherwise."""
        ongoing = self._classifier.ongoing
        return ongoing.start if ongoing is not None and ongoing.kind == "speech" else None

    @property
    def unfinished(self) -> bool:
        """Whether speech has been heard that the recogniser has not yet returned as final:
        the speech still going on, speech waiting to be transcribed, or being decoded."""
        recognizer = self._recognizer
        return (
            self.speech_since is not None or recognizer.pending is not None or recognizer.decoding
        )

    def cut(self) -> list[Utterance]:
        """The speech heard so far sent to be recognised now; the finals already in (see
        `RecognizerStream.cut`)."""
        return self._recognizer.cut(self.speech_since)

    async def verify(self, utterance: Utterance, candidates: Sequence[str]) -> list[Fit]:
        """How well alternative texts of an utterance fit its audio (the recogniser's check)."""
        return await self._recognizer.verify(utterance, candidates)

    @property
    def decoding(self) -> bool:
        """Whether speech already heard is still being decoded (its text not yet out)."""
        return self._recognizer.decoding

    async def settle(self) -> list[Utterance]:
        """The finals of every decode under way, awaited (the event loop runs on)."""
        return await self._recognizer.settle()

    async def finish(self) -> Heard:
        heard = self._analyse_block()
        segments = self._classifier.finish()
        received = self._receivers.finish(segments)
        last = _joined(
            heard,
            Heard(
                segments=received.segments,
                digits=received.digits,
                tones=received.tones,
                utterances=await self._recognizer.finish(SoundContext(segments, no_kind)),
            ),
        )
        last.ongoing = None  # the audio is over: the classifier closed every segment
        return last

    def _analyse_block(self) -> Heard:
        if not self._block:
            return Heard()
        first = self._block[0]
        samples = np.concatenate([frame.samples for frame in self._block])
        frames, self._block = self._block, []
        block = AudioFrame(samples, first.start, first.rate)
        segments = self._classifier.feed(block)
        known_at = self._classifier.known_at
        utterances: list[Utterance] = []
        told = 0
        for index, frame in enumerate(frames):
            last = index == len(frames) - 1
            closing = told
            while closing < len(segments) and (last or known_at[closing] <= frame.end):
                closing += 1
            sound = SoundContext(
                segments[told:closing], functools.partial(self._classifier.kind_after, frame.end)
            )
            utterances += self._recognizer.feed(frame, sound)
            told = closing
        received = self._receivers.feed(block, segments)
        return Heard(
            segments=received.segments,
            digits=received.digits,
            tones=received.tones,
            utterances=utterances,
            ongoing=self._classifier.ongoing,
        )


def _joined(earlier: Heard, later: Heard) -> Heard:
    return Heard(
        segments=earlier.segments + later.segments,
        digits=earlier.digits + later.digits,
        tones=earlier.tones + later.tones,
        utterances=earlier.utterances + later.utterances,
        ongoing=later.ongoing or earlier.ongoing,
    )
