"""The receive buffer that puts RTP audio back on media time.

Packets arrive late, early, twice, out of order, or not at all; the engine needs one 20 ms
frame per 20 ms of media time. Each packet's place is its RTP timestamp, anchored once per
stream to the media time it arrived at (a new SSRC, or a timestamp that jumps by more than
`RESYNC` from where arrival puts it, re-anchors): so reordering is undone, duplicates (same
SSRC and sequence number) are dropped, and a frame nobody filled is silence, which keeps
media time true across losses. A burst of packets that all arrive late together (a sender or
a receiver that stalled for a moment on a busy machine, a network that queued them) keeps
its timestamps' places: only lateness that lasts `RESYNC` of arrival time (a timestamp that
jumped back, a sender's clock running slow) re-anchors. Re-anchoring on such a burst moved
the rest of the stream by the stall and wrote speech over speech: ten calls at once on a
loaded machine heard their menus garbled ("for card services, press 2" as "a fresh breast,
too"). Frames are taken in order (`pop`); the caller releases each
a little after its time (the buffer's depth) so that jittered packets are in by then, and a
packet whose place has already been taken is late: dropped, and counted as lost.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, Samples

RESYNC = TELEPHONY_RATE // 2
"""How far (samples) a packet may land from where its arrival puts it before the stream is
re-anchored: a sender's restart or timestamp jump, or clock drift built up over a long call."""
REMEMBERED = 512
"""Sequence numbers remembered per call to recognise duplicates."""

Placement = Literal["placed", "duplicate", "late"]


@dataclass(slots=True)
class _Anchor:
    ssrc: int
    timestamp: int
    position: int


class JitterBuffer:
    def __init__(self) -> None:
        self._frames: dict[int, Samples] = {}
        self._anchor: _Anchor | None = None
        self._seen: set[tuple[int, int]] = set()
        self._seen_order: deque[tuple[int, int]] = deque()
        self._late_since: int | None = None
        """Arrival (media time) of the first of the packets that have kept arriving more
        than RESYNC late; None while packets arrive in time."""
        self.next_frame = 0
        """Index of the next frame `pop` returns (frame k covers samples 160k..160k+160)."""

    def push(
        self, ssrc: int, sequence: int, timestamp: int, samples: Samples, arrival: int
    ) -> Placement:
        """Place a packet's decoded audio; `arrival` is the media time it arrived at."""
        if not self._remember(ssrc, sequence):
            return "duplicate"
        start = self.position(ssrc, timestamp, arrival - len(samples))
        released = self.next_frame * FRAME_SAMPLES
        if start + len(samples) <= released:
            return "late"
        self._write(max(start, released), samples[max(0, released - start) :])
        return "placed"

    def position(self, ssrc: int, timestamp: int, expected: int) -> int:
        """Media time of `timestamp` in stream `ssrc`, re-anchoring it at `expected` when it is
        a new stream, lands more than RESYNC ahead of its arrival, or has kept landing more
        than RESYNC behind it for RESYNC of arrival time (see the module docstring)."""
        anchor = self._anchor
        if anchor is not None and anchor.ssrc == ssrc:
            position = anchor.position + _signed32(timestamp - anchor.timestamp)
            late_by = expected - position
            if -RESYNC <= late_by <= RESYNC:
                self._late_since = None
                return position
            if late_by > RESYNC:
                if self._late_since is None:
                    self._late_since = expected
                if expected - self._late_since < RESYNC:
                    return position
        self._late_since = None
        grid = max(0, expected // FRAME_SAMPLES * FRAME_SAMPLES)
        self._anchor = _Anchor(ssrc, timestamp, grid)
        return grid

    def holds_from(self, index: int) -> bool:
        """Whether audio has been placed for frame `index` or any later frame."""
        return any(held >= index for held in self._frames)

    def pop(self) -> tuple[Samples, bool]:
        """The next frame, and whether any audio arrived for it (else it is silence)."""
        frame = self._frames.pop(self.next_frame, None)
        self.next_frame += 1
        if frame is None:
            return np.zeros(FRAME_SAMPLES, dtype=np.int16), False
        return frame, True

    def _remember(self, ssrc: int, sequence: int) -> bool:
        key = (ssrc, sequence)
        if key in self._seen:
            return False
        self._seen.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > REMEMBERED:
            self._seen.discard(self._seen_order.popleft())
        return True

    def _write(self, start: int, samples: Samples) -> None:
        """Copy samples into the frames they span."""
        done = 0
        while done < len(samples):
            index, offset = divmod(start + done, FRAME_SAMPLES)
            frame = self._frames.get(index)
            if frame is None:
                frame = self._frames[index] = np.zeros(FRAME_SAMPLES, dtype=np.int16)
            taken = min(FRAME_SAMPLES - offset, len(samples) - done)
            frame[offset : offset + taken] = samples[done : done + taken]
            done += taken


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value
