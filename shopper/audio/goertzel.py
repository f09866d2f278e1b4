"""Blocks of samples and their energy, the framing the tone receivers (DTMF, call progress)
and the speech stream's pause finder share.

The receivers measure a handful of known frequencies per block (Goertzel bins, far cheaper
than a full FFT); their scale is the one `block_energy` uses, so thresholds can be written in
signal terms.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]


def block_view(samples: NDArray[np.generic], size: int, step: int) -> Floats:
    """Overlapping blocks of `size` samples every `step` samples, as float64 rows."""
    if len(samples) < size:
        return np.zeros((0, size), dtype=np.float64)
    count = 1 + (len(samples) - size) // step
    # as_strided straight away: sliding_window_view's checks cost more than the copy, and the
    # ear asks for blocks several times every 100 ms of every call. The view is read once,
    # by the copy, and never written.
    stride = samples.strides[0]
    strided = np.lib.stride_tricks.as_strided(
        samples, shape=(count, size), strides=(step * stride, stride), writeable=False
    )
    return strided.astype(np.float64)


def block_energy(blocks: Floats) -> Floats:
    """Mean square of each block: A²/2 for a sinusoid of amplitude A, half what a Goertzel bin
    on its frequency reads (A²)."""
    energy: Floats = np.add.reduce(blocks**2, axis=1) / blocks.shape[1]
    return energy
