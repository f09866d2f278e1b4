"""Audio frames that carry their own media time.

Every timing shopper reports is a position in the call's audio (a sample index at the
call's rate), never a wall-clock reading: the same recording analysed twice, or a
simulated call run faster than real time, must give the same figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

TELEPHONY_RATE = 8000
"""Narrowband call audio: G.711 on every carrier shopper speaks to."""

FRAME_SAMPLES = 160
"""20 ms at 8 kHz, the packetisation of RTP and Twilio media streams."""

Samples = NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """A run of mono 16-bit PCM and the sample index, since the call began, of its first sample."""

    samples: Samples
    start: int
    rate: int = TELEPHONY_RATE

    @property
    def end(self) -> int:
        return self.start + len(self.samples)

    @property
    def start_s(self) -> float:
        return self.start / self.rate

    @property
    def end_s(self) -> float:
        return self.end / self.rate


def as_pcm16(samples: NDArray[np.generic]) -> Samples:
    """Clip and round any numeric array to int16 PCM."""
    if samples.dtype == np.int16:
        return samples.astype(np.int16, copy=False)
    if np.issubdtype(samples.dtype, np.floating):
        scaled = np.rint(samples.astype(np.float64))
    else:
        scaled = samples.astype(np.int64)
    return np.minimum(np.maximum(scaled, -32768), 32767).astype(np.int16)


def split_frames(
    samples: Samples, start: int = 0, size: int = FRAME_SAMPLES, rate: int = TELEPHONY_RATE
) -> Iterator[AudioFrame]:
    """Cut a buffer into consecutive frames as a carrier delivers them (the last may be short)."""
    for offset in range(0, len(samples), size):
        yield AudioFrame(samples[offset : offset + size], start + offset, rate)


def silence(seconds: float, rate: int = TELEPHONY_RATE) -> Samples:
    return np.zeros(round(seconds * rate), dtype=np.int16)
