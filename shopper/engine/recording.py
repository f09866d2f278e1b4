"""The call's recording: both directions, streamed to a stereo WAV as the call goes.

The far end is on the left, shopper on the right, sample-aligned in media time. Nothing of the
call's audio stays in memory but the far end's latest frames (`RECENT_FRAMES`, which the
steps judge key reactions and prompt ends on) and the half second not yet written
(shopper.audio.wav_stream): an hour on hold costs no more memory than a minute, and a process
that dies mid-call leaves a readable WAV of what it heard. Older audio (a beep's frequency, a
crawled prompt's envelope) is read back from the file by range.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shopper.audio.frame import Samples
from shopper.audio.wav_stream import GrowingWav
from shopper.engine.reaction import STRETCH_LOOKBACK_FRAMES

RECENT_FRAMES = STRETCH_LOOKBACK_FRAMES
"""Far-end frames kept in memory: as many as the longest look back a step takes."""


class Recording:
    """Both directions of the call, appended frame by frame to a stereo WAV at `path` (an
    anonymous temporary file when None: the record's writer copies it into place)."""

    def __init__(self, path: Path | None) -> None:
        self.file = GrowingWav(path, channels=2)
        self._far: list[Samples] = []

    @property
    def far(self) -> Sequence[Samples]:
        """The far end's latest frames, oldest first: at least the last RECENT_FRAMES (all of
        them early in the call)."""
        return self._far

    def add(self, far: Samples, near: Samples) -> None:
        """Append one frame of each direction; the tester's is fitted to the far end's length,
        which is the media time both share."""
        both = np.zeros((len(far), 2), dtype=np.int16)
        both[:, 0] = far
        fitted = near[: len(far)]
        both[: len(fitted), 1] = fitted
        self.file.append(both)
        self._far.append(far)
        if len(self._far) >= 2 * RECENT_FRAMES:
            del self._far[:-RECENT_FRAMES]

    def discard(self) -> None:
        """Remove the file of a call that was never placed (a bad target, an unknown carrier),
        and its folder when that leaves it empty: such a call leaves no evidence behind."""
        path = self.file.path
        self.file.close()
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()
                path.parent.rmdir()

    def far_between(self, start: int, end: int) -> Samples:
        """The far end's samples from `start` to `end` (media time), read back from the file."""
        left: Samples = self.file.read(start, end)[:, 0].copy()
        return left
