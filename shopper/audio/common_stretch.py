"""Finding one recording inside another stretch of call audio: the same prompt heard on two
calls, each time cut out of the call with different audio around it.

`same_recording` (shopper.audio.fingerprint) compares two whole plays of a file. The spans a
crawl keeps are cut where the recogniser's utterances begin and end, so the same prompt
comes with the tail of the prompt a key interrupted before it, or the next prompt joined
after it, different on every call. Here the longest stretch over which two envelopes move
together is taken as what they share. The lag is found on the envelopes' changes (onsets and
ends of syllables, whose cross-correlation peaks sharply at the true lag); the stretch is
the longest run of half-second windows that correlate at that lag (or, where the prompt is
quiet, barely differ). Two spans hold the same recording when that stretch is long and
covers most of the shorter span: identical phrases inside different prompts ("For billing
and payments, press 1." in two menus of one synthesised voice, or one studio take spliced
into several prompts) share real audio too, but only part of either span.

Thresholds were measured on the Asterisk prompts (184 prompts of 2.2 s or more: 16,836
pairs), on 20 IVR sentences in each of flite's awb, slt and rms voices and on prompts of two
of them with a pause between, all through a μ-law round trip with line noise
(shopper.bench.common_stretch_bench); figures in docs/crawl.md ("How identity is judged").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from shopper.audio.fingerprint import MIN_FRAMES, Envelope, correlation

WINDOW_FRAMES = 100
"""Half a second of 5 ms hops: long enough for a stable correlation, short enough that the
run of agreeing windows stops close to where the shared audio stops."""
EDGE_FRAMES = WINDOW_FRAMES // 2
"""Frames left out at each end of a run of agreeing windows: a window partly over the edge of
the shared audio may still agree."""
MIN_WINDOW_CORRELATION = 0.9
"""Windows of one recording correlate at 0.95 or more through μ-law and line noise; at 0.9,
no two different Asterisk prompts agree for longer than 1.54 s."""
MAX_WINDOW_DIFFERENCE = 0.1
"""Variance of the difference of two windows (log10 energy, both bands, levels removed) below
which they agree whatever their correlation: where a prompt is quiet (a pause, a word fading
into line noise) the line noise of each call decides the correlation, not the recording."""
DELTA_FRAMES = 2
"""Envelope changes are taken over 2 hops each side (20 ms) to find the lag."""
CANDIDATE_LAGS = 3
"""Lags tried, best first: the true one came first for each of the 184 Asterisk prompts
cut out of two spans."""
CANDIDATE_SPACING = 40
"""Frames (0.2 s) between two candidate lags, so that they are not one peak thrice."""
MIN_SHARE = 0.6
"""Fraction of the shorter span the shared stretch must cover. A phrase common to two
different prompts covered at most 53 % of the shorter (flite, "For billing and payments,
press 1."); one prompt in two spans, with up to 1 s of another before it in one and 3 s
after it in the other, at least 61 %."""
MIN_STRETCH_CORRELATION = 0.95
"""Correlation over the whole shared stretch; one recording measured 0.97 or more."""


@dataclass(frozen=True, slots=True)
class Alignment:
    """Where two envelopes line up and what they share there (all in 5 ms frames)."""

    offset: int
    """Frame `i` of the second envelope lines up with frame `i + offset` of the first."""
    start: int
    """First frame of the shared stretch in the first envelope."""
    frames: int
    """Length of the shared stretch; 0 when the envelopes share nothing."""
    score: float
    """Correlation of the two envelopes over the shared stretch."""


NOTHING_SHARED = Alignment(offset=0, start=0, frames=0, score=0.0)


def align(a: Envelope, b: Envelope) -> Alignment:
    """The longest stretch `a` and `b` share, at the lags where their changes line up best;
    lags overlapping by less than two seconds are not considered."""
    if min(a.frames, b.frames) < MIN_FRAMES:
        return NOTHING_SHARED
    best = NOTHING_SHARED
    for lag in _candidate_lags(a.bands, b.bands):
        found = _stretch_at(a.bands, b.bands, lag)
        if (found.frames, found.score) > (best.frames, best.score):
            best = found
    return best


def shares_recording(a: Envelope, b: Envelope) -> bool:
    """Whether `a` and `b` hold the same recording: a stretch of at least two seconds, most of
    the shorter span, played alike in both (see the module docstring)."""
    return is_shared(align(a, b), a, b)


def is_shared(found: Alignment, a: Envelope, b: Envelope) -> bool:
    """Whether `found`, the stretch `a` and `b` share (align), makes them the same recording."""
    shorter = min(a.frames, b.frames)
    return (
        found.frames >= max(MIN_FRAMES, MIN_SHARE * shorter)
        and found.score >= MIN_STRETCH_CORRELATION
    )


def _candidate_lags(a: NDArray[np.float64], b: NDArray[np.float64]) -> list[int]:
    """Lags (frame of `a` minus frame of `b`) where the envelopes' changes correlate most,
    all at once by FFT; only lags with at least MIN_FRAMES of overlap."""
    size = 1 << (len(a) + len(b) - 2).bit_length()
    spectrum = np.fft.rfft(_changes(a), size, axis=0) * np.conj(
        np.fft.rfft(_changes(b), size, axis=0)
    )
    circular = np.fft.irfft(spectrum, size, axis=0).sum(axis=1)
    lags = np.arange(-(len(b) - 1), len(a))
    scores = np.concatenate([circular[size - (len(b) - 1) :], circular[: len(a)]])
    overlap = np.minimum(len(a) - np.maximum(lags, 0), len(b) + np.minimum(lags, 0))
    scores[overlap < MIN_FRAMES] = -np.inf
    chosen: list[int] = []
    while len(chosen) < CANDIDATE_LAGS:
        index = int(np.argmax(scores))
        if not np.isfinite(scores[index]):
            break
        chosen.append(int(lags[index]))
        scores[max(0, index - CANDIDATE_SPACING) : index + CANDIDATE_SPACING + 1] = -np.inf
    return chosen


def _changes(bands: NDArray[np.float64]) -> NDArray[np.float64]:
    """How fast each band's level moves, standardised: sharp where syllables start and stop,
    so a correlation over it peaks only where two spans really line up."""
    moved = np.zeros_like(bands)
    moved[DELTA_FRAMES:-DELTA_FRAMES] = bands[2 * DELTA_FRAMES :] - bands[: -2 * DELTA_FRAMES]
    spread = moved.std(axis=0)
    spread[spread == 0] = 1.0
    standardised: NDArray[np.float64] = (moved - moved.mean(axis=0)) / spread
    return standardised


def _stretch_at(a: NDArray[np.float64], b: NDArray[np.float64], lag: int) -> Alignment:
    """The longest run of agreeing windows where frame `i` of `b` meets frame `i + lag` of
    `a`. Where the run stops because the audio differs, EDGE_FRAMES are left out (a window
    partly over the edge may still agree); where it reaches the end of a span, nothing is."""
    first_a, first_b = max(0, lag), max(0, -lag)
    length = min(len(a) - first_a, len(b) - first_b)
    x, y = a[first_a : first_a + length], b[first_b : first_b + length]
    agree = _agreeing_windows(x, y)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], agree.astype(np.int8), [0]])))
    if len(edges) == 0:
        return Alignment(lag, first_a, 0, 0.0)
    starts, ends = edges[::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    first, last = int(starts[longest]), int(ends[longest]) - 1
    start = first + (EDGE_FRAMES if first > 0 else 0)
    end = last + WINDOW_FRAMES - (EDGE_FRAMES if last < len(agree) - 1 else 0)
    if end - start < 2:
        return Alignment(lag, first_a, 0, 0.0)
    score = correlation(x[start:end], y[start:end])
    return Alignment(lag, first_a + start, end - start, score)


def _agreeing_windows(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
    """For each window position: do `x` and `y` correlate there, or barely differ?"""
    if len(x) < WINDOW_FRAMES:
        return np.zeros(0, dtype=bool)

    def sums(values: NDArray[np.float64]) -> NDArray[np.float64]:
        running: NDArray[np.float64] = np.concatenate(
            [np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)]
        )
        return running[WINDOW_FRAMES:] - running[:-WINDOW_FRAMES]

    sum_x, sum_y = sums(x), sums(y)
    covariance = (sums(x * y) - sum_x * sum_y / WINDOW_FRAMES).sum(axis=1)
    variance_x = (sums(x * x) - sum_x**2 / WINDOW_FRAMES).sum(axis=1)
    variance_y = (sums(y * y) - sum_y**2 / WINDOW_FRAMES).sum(axis=1)
    correlation = covariance / np.sqrt(np.maximum(variance_x * variance_y, 1e-12))
    difference = (variance_x + variance_y - 2 * covariance) / WINDOW_FRAMES
    agreeing: NDArray[np.bool_] = (correlation >= MIN_WINDOW_CORRELATION) | (
        difference <= MAX_WINDOW_DIFFERENCE
    )
    return agreeing
