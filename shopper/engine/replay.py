"""Whether far-end speech is a recording the call already played.

A phone system replays its files (a callback offer between stretches of hold music, a
"please hold" every thirty seconds); a person never says a sentence twice with the same
sound. Judged on the audio (shopper.audio.fingerprint: the energy envelope of two plays of
one file correlates above 0.97), so it holds whatever the recogniser made of the words, and
on any voice. Speech under two seconds is too generic to be called the same recording
(`MIN_FRAMES`), so a short replayed sentence ("Rather not wait?") is not caught by this.
"""

from __future__ import annotations

from collections.abc import Sequence

from shopper.audio.fingerprint import (
    HOP_SAMPLES,
    MAX_LENGTH_DIFFERENCE,
    MIN_FRAMES,
    envelope,
    same_recording,
)
from shopper.audio.frame import Samples

MIN_SAMPLES = MIN_FRAMES * HOP_SAMPLES
"""The shortest stretch of speech compared (two seconds)."""


def replayed(stretches: Sequence[Samples], earlier: Sequence[Samples]) -> bool:
    """Whether any of `stretches` (the speech judged) is the same recording as one of
    `earlier` (speech heard before it in the call). CPU work: run it off the event loop."""
    heard = [envelope(stretch) for stretch in stretches if len(stretch) >= MIN_SAMPLES]
    for before in earlier:
        comparable = [h for h in heard if _comparable(h.frames * HOP_SAMPLES, len(before))]
        if comparable and any(same_recording(h, envelope(before)) for h in comparable):
            return True
    return False


def _comparable(length: int, other: int) -> bool:
    """Lengths two plays of one recording can have (the envelope's own tolerance)."""
    return abs(length - other) <= MAX_LENGTH_DIFFERENCE * max(length, other) + HOP_SAMPLES
