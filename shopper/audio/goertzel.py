"""Goertzel filters: the power of a few known frequencies in each block of samples.

Tone receivers (DTMF, call-progress, SIT) need only a handful of frequencies, which a
Goertzel filter bank gives far more cheaply than a full FFT, and vectorised over blocks.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from shopper.audio.frame import TELEPHONY_RATE

Floats = NDArray[np.float64]


def block_view(samples: NDArray[np.generic], size: int, step: int) -> Floats:
    """Overlapping blocks of `size` samples every `step` samples, as float64 rows."""
    if len(samples) < size:
        return np.zeros((0, size), dtype=np.float64)
    count = 1 + (len(samples) - size) // step
    strided = np.lib.stride_tricks.sliding_window_view(samples, size)[::step][:count]
    return strided.astype(np.float64)


def goertzel_power(
    blocks: Floats, frequencies: NDArray[np.float64] | list[float], rate: int = TELEPHONY_RATE
) -> Floats:
    """Power of each frequency in each block, shape (blocks, frequencies).

    Scaled so that a sinusoid of amplitude A on one of the frequencies reads about A², whatever
    the block length: thresholds can then be written in signal terms.
    """
    size = blocks.shape[1]
    freqs = np.asarray(frequencies, dtype=np.float64)
    n = np.arange(size)
    phase = 2.0 * np.pi * np.outer(n, freqs) / rate
    real = blocks @ np.cos(phase)
    imag = blocks @ np.sin(phase)
    power: Floats = (real**2 + imag**2) * (4.0 / size**2)
    return power


def block_energy(blocks: Floats) -> Floats:
    """Mean square of each block, on the same scale as goertzel_power (A²/2 for a sinusoid)."""
    energy: Floats = np.mean(blocks**2, axis=1)
    return energy
