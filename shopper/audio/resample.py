"""Sample-rate conversion between call audio (8 kHz) and what recognisers want (16 kHz).

libsoxr does the filtering: a well-kept, high-quality resampler with a streaming mode, so a
live call can be converted frame by frame without clicks at frame boundaries.
"""

from __future__ import annotations

import numpy as np
import soxr

from shopper.audio.frame import Samples, as_pcm16


def resample(samples: Samples, from_rate: int, to_rate: int) -> Samples:
    """Convert a whole buffer; the output has round(len * to_rate / from_rate) samples."""
    if from_rate == to_rate or len(samples) == 0:
        return samples.astype(np.int16, copy=False)
    converted = soxr.resample(samples.astype(np.float32), from_rate, to_rate, quality="HQ")
    return as_pcm16(np.asarray(converted))


class StreamResampler:
    """Frame-by-frame conversion for live audio; keeps the filter state between frames."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream = (
            None
            if from_rate == to_rate
            else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality="HQ")
        )

    def process(self, samples: Samples) -> Samples:
        if self._stream is None:
            return samples
        out = self._stream.resample_chunk(samples.astype(np.float32), last=False)
        return as_pcm16(np.asarray(out))

    def flush(self) -> Samples:
        """Return the samples still held in the filter at the end of the stream."""
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        out = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        return as_pcm16(np.asarray(out))
