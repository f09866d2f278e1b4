"""Which kind of sound the far end is making now, and since when — with hysteresis.

The classifier's per-window label flickers at boundaries; turn-taking, hold and dead-air
decisions need a label that changes only when the new sound has lasted a little while, and
that remembers when it really began.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopper.audio.frame import TELEPHONY_RATE
from shopper.audio.segments import SoundKind


@dataclass(frozen=True, slots=True)
class Run:
    kind: SoundKind
    since: int
    """Media time (samples) of the first frame of this run."""


RUN_CONFIRM_S = 0.25
"""How long a new label must hold before its run is confirmed."""


class RunTracker:
    def __init__(self, confirm_s: float = RUN_CONFIRM_S) -> None:
        self._confirm = round(confirm_s * TELEPHONY_RATE)
        self.run: Run | None = None
        self._candidate: Run | None = None

    def update(self, kind: SoundKind | None, frame_start: int) -> Run | None:
        """Feed the latest label; returns the new run when one has just been confirmed."""
        if kind is None:
            return None
        if self.run is None:
            self.run = Run(kind, frame_start)
            return self.run
        if kind == self.run.kind:
            self._candidate = None
            return None
        if self._candidate is None or self._candidate.kind != kind:
            self._candidate = Run(kind, frame_start)
        if frame_start - self._candidate.since >= self._confirm:
            self.run, self._candidate = self._candidate, None
            return self.run
        return None
