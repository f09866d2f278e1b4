"""Recognising a recording heard before: the same announcement played again on hold.

Phone systems replay the same prompt files — a queue announcement every 30 seconds for as
long as the caller holds. Transcribing each replay again costs the recogniser the most CPU of
a long call for no new information, so a stretch of speech whose spectral envelope matches
one already transcribed is given that transcript. Two plays of one file differ only by line
noise and by where the classifier put the edges (which may take in a little of the sound
beside the speech), so the match compares the plays' insides and allows a few frames of shift
and a small difference in length, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, Samples

BAND_SPLIT_HZ = 1000
HOP_SAMPLES = FRAME_SAMPLES // 4
"""5 ms between 20 ms windows, so two plays cut at different samples still line up."""
MAX_SHIFT_FRAMES = 60
"""How far (5 ms hops: 0.3 s) the classifier's edges may move between two plays."""
MAX_LENGTH_DIFFERENCE = 0.08
MIN_CORRELATION = 0.97
MIN_FRAMES = 400
"""Two seconds: shorter speech ("thank you", a letter) is too generic to be called the same
recording, and too cheap to transcribe for reuse to matter."""
EDGE_FRAMES = MAX_SHIFT_FRAMES
"""Frames left out at each end of both plays before they are compared. An edge the classifier
may put 0.3 s off can hold that much of the sound beside the speech, and that sound differs
between plays: espeak-ng's queue announcement, each time right after hold music, began with
0.14 s of music at -22 dBFS once and -35 dBFS the next, and the two whole plays correlated
0.967; their insides 0.9997. Over every pair of the 210 Asterisk prompts of 2 s or more, two
different prompts' insides correlated 0.856 at best (measured once; tests/test_fingerprint.py
checks that none matches)."""
MIN_OVERLAP_FRAMES = MIN_FRAMES - 2 * EDGE_FRAMES
"""The least of two plays' insides that must line up (1.4 s)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """Log energy below and above 1 kHz in 20 ms windows every 5 ms."""

    bands: NDArray[np.float64]
    """Shape (frames, 2)."""

    @property
    def frames(self) -> int:
        return len(self.bands)


def envelope(samples: Samples) -> Envelope:
    if len(samples) < FRAME_SAMPLES:
        return Envelope(np.zeros((0, 2)))
    frames = np.lib.stride_tricks.sliding_window_view(samples, FRAME_SAMPLES)[::HOP_SAMPLES]
    frames = frames.astype(np.float64)
    power = np.abs(np.fft.rfft(frames * np.hanning(FRAME_SAMPLES), axis=1)) ** 2
    split = round(BAND_SPLIT_HZ * FRAME_SAMPLES / TELEPHONY_RATE)
    bands = np.stack([power[:, :split].sum(axis=1), power[:, split:].sum(axis=1)], axis=1)
    return Envelope(np.log10(bands + 1.0))


def same_recording(a: Envelope, b: Envelope) -> bool:
    """Whether `a` and `b` are two plays of one recording (see the module docstring): their
    insides (`EDGE_FRAMES`) correlate at MIN_CORRELATION or more at some shift."""
    shorter, longer = sorted((a.frames, b.frames))
    if shorter < MIN_FRAMES or longer - shorter > MAX_LENGTH_DIFFERENCE * longer:
        return False
    inside_a = a.bands[EDGE_FRAMES:-EDGE_FRAMES]
    inside_b = b.bands[EDGE_FRAMES:-EDGE_FRAMES]
    return best_correlation(inside_a, inside_b, MIN_OVERLAP_FRAMES) >= MIN_CORRELATION


def best_correlation(x: NDArray[np.float64], y: NDArray[np.float64], min_overlap: int) -> float:
    """The highest correlation of two stretches of envelope over the shifts the classifier's
    edges allow (MAX_SHIFT_FRAMES) that leave `min_overlap` frames lined up; -1 if none do."""
    best = -1.0
    for shift in range(-MAX_SHIFT_FRAMES, MAX_SHIFT_FRAMES + 1):
        shifted_x = x[max(0, shift) : len(x) + min(0, shift)]
        shifted_y = y[max(0, -shift) : len(y) + min(0, -shift)]
        overlap = min(len(shifted_x), len(shifted_y))
        if overlap >= min_overlap:
            best = max(best, correlation(shifted_x[:overlap], shifted_y[:overlap]))
    return best


def correlation(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Pearson correlation of two equally long stretches of envelope, both bands together."""
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    denominator = float(np.sqrt((x**2).sum() * (y**2).sum()))
    return float((x * y).sum()) / denominator if denominator > 0 else 0.0
