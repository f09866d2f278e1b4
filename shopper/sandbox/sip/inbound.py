"""The caller's audio as it arrives over RTP, handed to the phone system 20 ms at a time.

aiortp delivers decoded audio when packets arrive (after its reordering buffer, with lost
packets concealed); the media clock takes one frame per tick. Arrival and ticks drift and
jitter against each other, so this is a small FIFO: an empty buffer gives silence (a gap on
the line), and more than `MAX_BUFFERED_FRAMES` waiting drops the oldest, so the caller's audio
is never heard more than that late.
"""

from __future__ import annotations

import numpy as np

from shopper.audio.frame import FRAME_SAMPLES, Samples

MAX_BUFFERED_FRAMES = 10
BYTES_PER_FRAME = FRAME_SAMPLES * 2


class CallerAudio:
    """16-bit PCM from the caller, in arrival order."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self.packets = 0
        """How many frames of audio have arrived (a call with none is one-way audio)."""

    def arrived(self, pcm: bytes) -> None:
        self.packets += 1
        self._pending += pcm
        excess = len(self._pending) - MAX_BUFFERED_FRAMES * BYTES_PER_FRAME
        if excess > 0:
            del self._pending[: excess + excess % 2]

    def take(self) -> Samples:
        """The next 20 ms, padded with silence when less has arrived."""
        chunk = bytes(self._pending[:BYTES_PER_FRAME])
        del self._pending[:BYTES_PER_FRAME]
        frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        usable = len(chunk) // 2
        frame[:usable] = np.frombuffer(chunk[: usable * 2], dtype="<i2")
        return frame
