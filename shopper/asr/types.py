"""The one streaming interface every speech recogniser offers shopper.

The engine feeds call audio frame by frame and gets back utterances stamped in media time
(sample indices at 8 kHz since the call began), whichever engine did the listening.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shopper.audio.frame import AudioFrame
from shopper.audio.segments import SoundContext, Span


@dataclass(frozen=True, slots=True)
class Word(Span):
    text: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Utterance(Span):
    """A partial (still growing) or final recognition of one stretch of speech."""

    text: str
    confidence: float
    final: bool
    words: tuple[Word, ...] = ()


class RecognizerStream(Protocol):
    """One call's recogniser: not shared between calls, not thread-safe."""

    def feed(self, frame: AudioFrame, sound: SoundContext | None = None) -> list[Utterance]:
        """Take the next frame (8 kHz); return partials and finals that became known.

        `sound`: the caller's sound classifier on this frame, given with every frame or with
        none; engines that need speech segments use it instead of classifying again.
        """
        ...

    def finish(self, sound: SoundContext | None = None) -> list[Utterance]:
        """End of audio: return whatever is still pending, as finals."""
        ...


class SpeechEngine(Protocol):
    """A loaded model, shared by the streams of many concurrent calls."""

    @property
    def name(self) -> str:
        """Engine and model, as recorded in every result: 'vosk:vosk-model-small-en-us-0.15'."""
        ...

    def stream(self, phrases: Sequence[str] | None = None) -> RecognizerStream:
        """A new recogniser; `phrases` biases it towards the prompts the caller expects."""
        ...
