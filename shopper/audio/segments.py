"""What was heard, and when: the timed labels that every detector produces.

Positions are sample indices at the telephony rate since the call began (media time);
seconds are derived for reports only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from shopper.audio.frame import TELEPHONY_RATE

SoundKind = Literal["speech", "music", "silence", "tone"]
SOUND_KINDS: tuple[SoundKind, ...] = get_args(SoundKind)


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the call's audio, [start, end) in samples."""

    start: int
    end: int

    @property
    def start_s(self) -> float:
        return self.start / TELEPHONY_RATE

    @property
    def end_s(self) -> float:
        return self.end / TELEPHONY_RATE

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / TELEPHONY_RATE


@dataclass(frozen=True, slots=True)
class Segment(Span):
    """A stretch of one kind of sound, as the sound classifier labels it."""

    kind: SoundKind


@dataclass(frozen=True, slots=True)
class SoundContext:
    """What a sound classifier already running on the same audio said about one frame.

    Passed along so that a consumer that needs speech segments (an utterance-level speech
    recogniser) does not classify the same audio a second time.
    """

    closed: Sequence[Segment]
    """Segments closed by this frame."""
    judge: Callable[[], SoundKind | None]
    """Works out the classifier's label of this frame (on the evidence up to it) when asked:
    that costs a second of context features, and a consumer needs it only now and then.
    Ask while taking the frame, before the classifier is fed more audio."""

    @property
    def current(self) -> SoundKind | None:
        """The classifier's label of this frame, its newest."""
        return self.judge()


def no_kind() -> SoundKind | None:
    """The label of a frame no classifier judged (a `SoundContext.judge`)."""
    return None
