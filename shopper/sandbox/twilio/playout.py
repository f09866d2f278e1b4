"""What the called party hears from the caller's side: audio queued by a bidirectional stream
or by `<Play digits>`, played out 20 ms at a time as the media clock asks.

Twilio buffers the audio a stream sends and plays it in real time; a `mark` sent after some
audio is echoed when that audio has been played, and `clear` drops what is still queued and
echoes the marks it held (as Twilio's Media Streams page describes). Nothing queued is silence.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shopper.audio.frame import FRAME_SAMPLES, Samples


@dataclass(frozen=True, slots=True)
class Mark:
    """A point in the queue; `played` is called once the audio before it has been played."""

    name: str
    played: Callable[[str], None]


class Playout:
    """A FIFO of 16-bit PCM chunks and marks."""

    def __init__(self) -> None:
        self._items: deque[Samples | Mark] = deque()

    def add_audio(self, samples: Samples) -> None:
        if len(samples):
            self._items.append(samples)

    def add_mark(self, mark: Mark) -> None:
        self._items.append(mark)

    def clear(self) -> None:
        """Drop the queued audio; every queued mark counts as reached."""
        marks = [item for item in self._items if isinstance(item, Mark)]
        self._items.clear()
        for mark in marks:
            mark.played(mark.name)

    def take(self) -> Samples:
        """The next 20 ms (silence where nothing is queued); marks reached are signalled."""
        frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        filled = 0
        self._reach_marks()
        while filled < FRAME_SAMPLES and self._items:
            head = self._items[0]
            if isinstance(head, Mark):
                break
            used = min(FRAME_SAMPLES - filled, len(head))
            frame[filled : filled + used] = head[:used]
            filled += used
            if used == len(head):
                self._items.popleft()
            else:
                self._items[0] = head[used:]
        return frame

    def _reach_marks(self) -> None:
        while self._items:
            head = self._items[0]
            if not isinstance(head, Mark):
                return
            self._items.popleft()
            head.played(head.name)
