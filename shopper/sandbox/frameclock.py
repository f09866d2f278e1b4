"""A served call's media clock (the Twilio emulator's streams): a 20 ms frame at a time, in
step with real time.

Media streams carry a frame every 20 ms; the phone system computes a frame only when the clock
asks for it. A tick that comes late (the event loop was busy) is made up at once, so media
time keeps up with the wall clock; after a stall longer than `MAX_LAG_S` the clock re-anchors
instead of bursting a backlog of packets no jitter buffer would keep, and media time then runs
that much behind the wall clock.
"""

from __future__ import annotations

import asyncio

from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE

FRAME_S = FRAME_SAMPLES / TELEPHONY_RATE
MAX_LAG_S = 0.2


class FrameClock:
    """Ticks for frames 0, 1, 2, ...: frame n is due `n * FRAME_S` after the clock starts."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._anchor = self._loop.time()
        self._due = 0
        self.stalls = 0
        """How many times the clock fell more than `MAX_LAG_S` behind and re-anchored."""

    async def tick(self) -> None:
        """Wait until the next frame is due (at once for frame 0, or when running late)."""
        due_at = self._anchor + self._due * FRAME_S
        delay = due_at - self._loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif -delay > MAX_LAG_S:
            self.stalls += 1
            self._anchor = self._loop.time() - self._due * FRAME_S
        self._due += 1
