"""The receivers' word on tones overrides the sound classifier's for the audio they claim.

The classifier tells a tone from music by how it switches on and holds its level, over about
a second of context: a ringback, busy or SIT straight after hold music is labelled music for
up to 1.6 s. The DTMF and call-progress receivers measure the tone's own frequencies and
place its edges within a few milliseconds, but only once a key has ended or a pattern is
confirmed. So the classifier's segments are held back while a receiver may still claim part
of them (it has a run or pattern in the making), and what a receiver then claims is labelled
`tone`: a pattern's bursts are tone; what the classifier called music in the gaps between
them (it bridges pauses inside music) is silence, unless shorter than the pauses it keeps
inside a tone. Where the classifier already says tone or silence, it is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from shopper.audio.callprogress import ToneDetector, ToneEvent
from shopper.audio.classifier import bridged_pause
from shopper.audio.dtmf import DtmfDetector, DtmfDigit
from shopper.audio.features import HOP
from shopper.audio.frame import AudioFrame
from shopper.audio.segments import Segment, SoundKind, Span

SLIVER = 3 * HOP
"""What is left of a classifier segment beside a receiver's claim, if shorter than this
(60 ms), goes with the claim: the classifier's edges lie on its 20 ms grid and its windows
smear them by a frame or two."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A receiver's detection: its span, and the parts of it in which the tone was on."""

    span: Span
    parts: tuple[Span, ...]


@dataclass(slots=True)
class Received:
    """What the receivers heard in some audio, and the segments they let through."""

    digits: list[DtmfDigit] = field(default_factory=list)
    tones: list[ToneEvent] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)


class Receivers:
    """The DTMF and call-progress receivers on one stream, and the classifier's segments
    relabelled by what they hear."""

    def __init__(self) -> None:
        self._dtmf = DtmfDetector()
        self._tones = ToneDetector()
        self._labels = ToneLabels()
        self._claimed: set[tuple[int, int]] = set()

    def feed(self, audio: AudioFrame, segments: Sequence[Segment]) -> Received:
        """Hear `audio`; `segments` are those the classifier closed on the same audio."""
        digits, tones = self._dtmf.feed(audio), self._tones.feed(audio)
        self._claim(digits, tones)
        return Received(digits, tones, self._labels.release(segments, self._undecided_from()))

    def finish(self, segments: Sequence[Segment]) -> Received:
        digits, tones = self._dtmf.finish(), self._tones.finish()
        self._claim(digits, tones)
        return Received(digits, tones, self._labels.finish(segments))

    def _claim(self, digits: list[DtmfDigit], tones: list[ToneEvent]) -> None:
        """Tell the labels what the receivers heard: each pattern as soon as it is confirmed,
        again as it grows, and once it is over."""
        ongoing = self._tones.ongoing
        claims = [Claim(Span(d.start, d.end), ()) for d in digits]
        claims += [Claim(Span(e.start, e.end), e.parts) for e in [*tones, *ongoing]]
        fresh = [c for c in claims if (c.span.start, c.span.end) not in self._claimed]
        self._claimed = {(c.span.start, c.span.end) for c in fresh}
        self._claimed |= {(e.start, e.end) for e in ongoing}
        self._labels.claim(fresh)

    def _undecided_from(self) -> int | None:
        starts = [self._tones.undecided_from, self._dtmf.undecided_from]
        return min((start for start in starts if start is not None), default=None)


class ToneLabels:
    """Holds segments back while a receiver may claim them; relabels what receivers claim."""

    def __init__(self) -> None:
        self._held: list[Segment] = []
        self._claims: list[Claim] = []

    def claim(self, claims: Iterable[Claim]) -> None:
        self._claims += claims

    def release(self, segments: Sequence[Segment], undecided_from: int | None) -> list[Segment]:
        """The held and new segments that no receiver can claim any more, relabelled.
        `undecided_from`: where audio a receiver may still claim begins (None: nowhere).
        The last segment, if a receiver claimed it, is kept until the next one, which may
        be the classifier's own tone segment for the same tone (merged with it)."""
        self._held = relabel([*self._held, *segments], self._claims)
        ready = 0
        while ready < len(self._held) and (
            undecided_from is None or self._held[ready].end <= undecided_from
        ):
            ready += 1
        if ready == len(self._held) and ready and self._claimed(self._held[-1]):
            ready -= 1
        released, self._held = self._held[:ready], self._held[ready:]
        if released:
            edge = released[-1].end
            self._claims = [c for c in self._claims if c.span.end > edge]
        return released

    def _claimed(self, segment: Segment) -> bool:
        return segment.kind == "tone" and any(
            c.span.start < segment.end and segment.start < c.span.end for c in self._claims
        )

    def finish(self, segments: Sequence[Segment]) -> list[Segment]:
        released = relabel([*self._held, *segments], self._claims)
        self._held, self._claims = [], []
        return released


def relabel(segments: Sequence[Segment], claims: Sequence[Claim]) -> list[Segment]:
    """`segments` with the receivers' claims applied, adjacent segments of a kind merged."""
    pieces = list(segments)
    for claim in claims:
        pieces = _override(pieces, claim.span, "silence", keep=("silence", "speech", "tone"))
        for part in _bridged(claim.parts or (claim.span,)):
            pieces = _override(pieces, part, "tone", keep=("tone",))
    return _merged(pieces)


def _bridged(parts: Sequence[Span]) -> list[Span]:
    """Parts joined across pauses the classifier would keep inside a tone."""
    joined: list[Span] = []
    for part in parts:
        if joined and part.start - joined[-1].end <= bridged_pause("tone"):
            joined[-1] = Span(joined[-1].start, part.end)
        else:
            joined.append(part)
    return joined


def _override(
    segments: Sequence[Segment], span: Span, kind: SoundKind, keep: tuple[SoundKind, ...]
) -> list[Segment]:
    """Label `kind` the parts of `segments` inside `span`, except segments of a `keep` kind."""
    result: list[Segment] = []
    for segment in segments:
        if segment.kind in keep or segment.end <= span.start or segment.start >= span.end:
            result.append(segment)
            continue
        start, end = max(segment.start, span.start), min(segment.end, span.end)
        if start - segment.start < SLIVER:
            start = segment.start
        if segment.end - end < SLIVER:
            end = segment.end
        if segment.start < start:
            result.append(Segment(segment.start, start, segment.kind))
        result.append(Segment(start, end, kind))
        if end < segment.end:
            result.append(Segment(end, segment.end, segment.kind))
    return result


def _merged(segments: Sequence[Segment]) -> list[Segment]:
    result: list[Segment] = []
    for segment in segments:
        if segment.end <= segment.start:
            continue
        if result and result[-1].kind == segment.kind and result[-1].end == segment.start:
            result[-1] = Segment(result[-1].start, segment.end, segment.kind)
        else:
            result.append(segment)
    return result
