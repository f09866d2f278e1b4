"""The Twilio stream's incoming audio on media time: every 20 ms chunk in a frame of its own,
wherever on the frame grid the stream's first chunk arrived."""

import numpy as np

from shopper.audio.frame import FRAME_SAMPLES
from shopper.audio.g711 import ulaw_encode
from shopper.carriers.twilio.stream import InboundAudio, MediaClock

CHUNKS = 10


class FixedClock(MediaClock):
    """Media time stopped at `now` samples: the moment the first chunk arrives."""

    def __init__(self, now: int) -> None:
        super().__init__()
        self._now = now

    @property
    def now(self) -> int:
        return self._now


def heard(arrived_at: int) -> list[int]:
    """Which chunk each frame holds (-1: silence), for chunks arriving from `arrived_at`."""
    inbound = InboundAudio(FixedClock(arrived_at))
    for k in range(CHUNKS):
        chunk = np.full(FRAME_SAMPLES, 1000 * (k + 1), dtype=np.int16)
        inbound.media(20 * k, bytes(ulaw_encode(chunk)))
    frames = [inbound.pop()[0] for _ in range(arrived_at // FRAME_SAMPLES + CHUNKS + 2)]
    return [round(float(frame[0]) / 1000) - 1 if np.any(frame) else -1 for frame in frames]


async def test_chunks_arriving_half_a_frame_off_the_grid_fill_one_frame_each() -> None:
    """Anchored half a frame off, rounding half to even put two chunks in one frame and
    none in the next: every other frame of the call was silence."""
    for arrived_at in (
        12 * FRAME_SAMPLES,
        12 * FRAME_SAMPLES + FRAME_SAMPLES // 2,
        12 * FRAME_SAMPLES + 37,
    ):
        frames = heard(arrived_at)
        assert [k for k in frames if k >= 0] == list(range(CHUNKS)), (arrived_at, frames)
