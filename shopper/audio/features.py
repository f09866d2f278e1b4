"""Short-time features of call audio, the evidence the sound classifier weighs.

Each analysis frame is a 32 ms Hann window every 20 ms (the RTP packet rate), so a frame is
short enough to catch a 40 ms DTMF digit and long enough to resolve the two components of a
dial tone. The speech-versus-music decision needs longer evidence (syllable rhythm, pauses,
voicing that comes and goes), so `context_features` summarises about a second of frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from shopper.audio.goertzel import block_view

Floats = NDArray[np.float64]
Ints = NDArray[np.intp]

HOP = 160
"""20 ms at 8 kHz: one frame label per RTP packet."""

WINDOW = 256
"""32 ms: 31 Hz bins, fine enough for the 350+440 Hz dial tone."""

FULL_SCALE_POWER = 32768.0**2
ENERGY_FLOOR_DB = -100.0

_LOW_BIN = 2
"""Bins below 62 Hz carry hum and DC, not call audio."""
_HIGH_BIN = 112
"""3.5 kHz: the top of the telephone band, above it there is only μ-law quantisation noise."""
_PEAK_HALF_WIDTH = 2
"""A Hann window spreads a pure tone over ±2 bins."""
_PITCH_LAGS = (20, 120)
"""Autocorrelation lags for 67 to 400 Hz, the range of voice pitch."""

_HANN = np.hanning(WINDOW + 1)[:WINDOW]
_BAND_HZ = (np.arange(_LOW_BIN, _HIGH_BIN) * 8000.0 / WINDOW)[None, :]
_LAG_WEIGHTS = (WINDOW / (WINDOW - np.arange(*_PITCH_LAGS)).astype(np.float64))[None, :]
"""Undoes the autocorrelation's bias: fewer samples overlap at longer lags."""


@dataclass(frozen=True, slots=True)
class FrameFeatures:
    """Per-frame measurements, one row per 20 ms hop (all arrays have the same length)."""

    energy_db: Floats
    """Mean power of the window in dB relative to a full-scale square wave."""
    tonality: Floats
    """Share of the in-band power held by the two strongest spectral peaks (1 for pure tones)."""
    peak_position: Floats
    """Interpolated bin of the strongest peak: fixed for a tone, drifting for a voice."""
    flatness: Floats
    """Spectral flatness (geometric over arithmetic mean): near 1 for white noise."""
    centroid: Floats
    """Spectral centroid in Hz."""
    voicing: Floats
    """Peak normalised autocorrelation over voice-pitch lags: periodicity of the frame."""
    flux: Floats
    """Change of the normalised magnitude spectrum since the previous frame."""
    peak_rise_db: Floats
    """Rise of the power in the strongest peak's bin over two frames (40 ms, so the windows
    do not overlap): a tone that switches on rises tens of dB, a note that swells out of the
    music around it does not."""

    def __len__(self) -> int:
        return len(self.energy_db)


_FIELDS = (
    "energy_db",
    "tonality",
    "peak_position",
    "flatness",
    "centroid",
    "voicing",
    "flux",
    "peak_rise_db",
)


def frame_features(
    windows: Floats, previous_spectra: Floats | None = None
) -> tuple[FrameFeatures, Floats | None]:
    """Measure each row of `windows` (shape (n, WINDOW)).

    `previous_spectra` are the in-band power spectra of the two frames just before the first
    row, and the second result is those of the last two rows: passing them on makes a stream
    cut into pieces give the same flux and peak rise as the whole buffer.
    """
    count = windows.shape[0]
    # np.add.reduce and division rather than np.mean, np.sum and np.linalg.norm: the same
    # sums, without the Python wrappers that cost more than the sums of a 100 ms block.
    energy = np.add.reduce(windows**2, axis=1) / WINDOW
    energy_db = np.maximum(10.0 * np.log10(energy / FULL_SCALE_POWER + 1e-30), ENERGY_FLOOR_DB)

    spectrum = np.abs(np.fft.rfft(windows * _HANN, axis=1)) ** 2
    band = spectrum[:, _LOW_BIN:_HIGH_BIN] + 1e-9
    bins = band.shape[1]
    total = np.add.reduce(band, axis=1)

    first_peak = band.argmax(axis=1)
    tonality, peak_position = _peak_share(band, total, first_peak)
    flatness = np.exp(np.add.reduce(np.log(band), axis=1) / bins) / (total / bins)
    centroid = np.add.reduce(band * _BAND_HZ, axis=1) / total

    earlier = previous_spectra if previous_spectra is not None else band[:1].repeat(2, axis=0)
    history = np.concatenate([earlier, band])
    magnitude = np.sqrt(history)
    magnitude /= np.sqrt(np.add.reduce(magnitude * magnitude, axis=1, keepdims=True))
    change = magnitude[2:] - magnitude[1:-1]
    flux = np.sqrt(np.add.reduce(change * change, axis=1))
    rows = np.arange(count)
    peak_rise_db = 10.0 * np.log10(band[rows, first_peak] / history[rows, first_peak])

    features = FrameFeatures(
        energy_db=energy_db,
        tonality=tonality,
        peak_position=peak_position + _LOW_BIN,
        flatness=flatness,
        centroid=centroid,
        voicing=_voicing(windows),
        flux=flux,
        peak_rise_db=peak_rise_db,
    )
    return features, (history[-2:] if count else previous_spectra)


def concatenate(parts: list[FrameFeatures]) -> FrameFeatures:
    return FrameFeatures(
        *(np.concatenate([getattr(part, name) for part in parts]) for name in _FIELDS)
    )


def section(frames: FrameFeatures, first: int, stop: int) -> FrameFeatures:
    """The frames from index `first` up to (not including) `stop`."""
    return FrameFeatures(*(getattr(frames, name)[first:stop] for name in _FIELDS))


def tail(frames: FrameFeatures, first: int) -> FrameFeatures:
    """The frames from index `first` on."""
    return FrameFeatures(*(getattr(frames, name)[first:] for name in _FIELDS))


def _peak_share(band: Floats, total: Floats, first_peak: NDArray[np.intp]) -> tuple[Floats, Floats]:
    remaining = band
    captured = np.zeros(band.shape[0])
    bins = np.arange(band.shape[1])[None, :]
    peak = first_peak
    for turn in range(2):
        if turn:
            peak = remaining.argmax(axis=1)
        near = np.abs(bins - peak[:, None]) <= _PEAK_HALF_WIDTH
        captured += np.add.reduce(np.where(near, remaining, 0.0), axis=1)
        remaining = np.where(near, 0.0, remaining)
    return captured / total, _interpolate(band, first_peak)


def _interpolate(band: Floats, peak: NDArray[np.intp]) -> Floats:
    """Peak position to a fraction of a bin, from a parabola through the log powers around it."""
    rows = np.arange(band.shape[0])
    inner = np.minimum(np.maximum(peak, 1), band.shape[1] - 2)
    left, centre, right = (np.log(band[rows, inner + step]) for step in (-1, 0, 1))
    curvature = left - 2.0 * centre + right
    safe = np.where(np.abs(curvature) > 1e-12, curvature, -1.0)
    offset = np.minimum(np.maximum(0.5 * (left - right) / safe, -0.5), 0.5)
    result: Floats = inner + offset
    return result


def _voicing(windows: Floats) -> Floats:
    centred = windows - np.add.reduce(windows, axis=1, keepdims=True) / WINDOW
    padded = np.fft.rfft(centred, n=2 * WINDOW, axis=1)
    autocorr = np.fft.irfft(np.abs(padded) ** 2, axis=1)[:, :WINDOW]
    zero_lag = autocorr[:, 0] + 1e-9
    low, high = _PITCH_LAGS
    unbiased = autocorr[:, low:high] * _LAG_WEIGHTS
    result: Floats = np.clip(np.maximum.reduce(unbiased, axis=1) / zero_lag, 0.0, 1.0)
    return result


def windows_of(samples: Floats) -> Floats:
    """The analysis windows, every HOP samples, that fit entirely in `samples`."""
    return block_view(samples, WINDOW, HOP)


CONTEXT_RADIUS = 25
"""Frames each side of the one being judged: about a second of evidence in all."""

_CONTEXT_SPAN = 2 * CONTEXT_RADIUS + 1

CONTEXT_FEATURE_NAMES = (
    "mean_energy_db",
    "std_energy_db",
    "low_energy_ratio",
    "quiet_ratio",
    "modulation_4hz",
    "mean_flux",
    "std_flux",
    "mean_flatness",
    "mean_centroid",
    "std_centroid",
    "mean_voicing",
    "std_voicing",
    "mean_tonality",
    "voicing_changes",
)

QUIET_DB = -45.0
"""Below this a frame is treated as a pause: line noise and comfort noise sit lower."""

CONTEXT_FLOOR_DB = -60.0
"""How quiet a pause is says nothing about what surrounds it: digital silence between a
synthetic voice's words (-100 dB) and a line's hiss (-70 dB) must look the same."""

ISLAND_GAP = 18
"""A pause of 360 ms or more separates two sounds: evidence is not pooled across it."""

_MODULATION_HZ = np.fft.rfftfreq(_CONTEXT_SPAN, d=HOP / 8000.0)
_SYLLABIC_BAND = (_MODULATION_HZ >= 2.0) & (_MODULATION_HZ <= 8.0)
"""Envelope modulation at syllable rates: speech has most of its rhythm here."""
_SYLLABIC_BINS = int(np.count_nonzero(_SYLLABIC_BAND))

_LANES = 8
"""numpy sums a short float64 array in eight interleaved partial sums, then adds what is
left one by one (its pairwise sum, below 128 values); `_sums` keeps that order."""
_SUM_WIDTH = -(-_CONTEXT_SPAN // _LANES) * _LANES
"""Width of the rows `_sums` takes: a context window, padded to whole groups of lanes."""
_SPAN = np.arange(_SUM_WIDTH)
_TAIL = np.arange(_LANES - 1)


def _islands(energy_db: Floats, centres: Ints, stops: Ints) -> tuple[Ints, Ints]:
    """The context window around each centre, cut short at the first long pause on either
    side, and at its stop (frames from there on are not heard yet).

    Without the cut, music that starts after a silence would be judged partly on that silence,
    which looks like the pauses of speech.
    """
    starts = np.maximum(0, centres - CONTEXT_RADIUS)
    ends = np.minimum(stops, centres + CONTEXT_RADIUS + 1)
    quiet = np.concatenate([[0], np.cumsum(energy_db <= QUIET_DB)])
    positions = np.arange(max(0, len(energy_db) - ISLAND_GAP + 1))
    # pause[j]: the ISLAND_GAP frames from j on are all quiet.
    pause = quiet[positions + ISLAND_GAP] - quiet[positions] == ISLAND_GAP
    # The nearest pause that ends before each frame, and the nearest that begins after it.
    latest = np.concatenate([[-1], np.maximum.accumulate(np.where(pause, positions, -1))])
    earliest = np.concatenate(
        [np.minimum.accumulate(np.where(pause, positions, len(pause))[::-1])[::-1], [len(pause)]]
    )
    before = latest[np.minimum(np.maximum(centres - ISLAND_GAP, -1), len(pause) - 1) + 1]
    after = earliest[np.minimum(centres + 1, len(pause))]
    lows = np.where(before >= starts, before + ISLAND_GAP, starts)
    highs = np.where(after + ISLAND_GAP <= ends, after, ends)
    return lows, highs


def _sums(values: Floats, counts: Ints) -> Floats:
    """The sum of the first `counts[i]` values of each row (`_SUM_WIDTH` wide), as
    np.add.reduce gives it for those values alone.

    Summing along an axis of a 2-D array may add in another order and change the last
    bits, which can tip a decision; each row here is added in the order numpy adds one
    window's values (`_LANES`; an accumulation adds in order by definition), so a row is bit
    for bit what the window alone would give.
    """
    rows = len(values)
    blocks = counts // _LANES * _LANES
    whole = np.where(_SPAN[None, :] < blocks[:, None], values, 0.0)
    lanes = np.cumsum(whole.reshape(rows, _SUM_WIDTH // _LANES, _LANES), axis=1)[:, -1, :]
    paired = lanes[:, 0::2] + lanes[:, 1::2]
    total = (paired[:, 0] + paired[:, 1]) + (paired[:, 2] + paired[:, 3])
    last = np.minimum(blocks[:, None] + _TAIL[None, :], _SUM_WIDTH - 1)
    rest = np.where(
        _TAIL[None, :] < (counts - blocks)[:, None], values[np.arange(rows)[:, None], last], 0.0
    )
    result: Floats = 0.0 + np.cumsum(np.concatenate([total[:, None], rest], axis=1), axis=1)[:, -1]
    return result


def _means(values: Floats, counts: Ints) -> Floats:
    """np.mean of the first `counts[i]` values of each row (`_sums`)."""
    result: Floats = _sums(values, counts) / counts
    return result


def context_features(frames: FrameFeatures, centres: Ints, stops: Ints | None = None) -> Floats:
    """Summary of the frames around each centre that separates speech from music, a row each.

    Speech alternates syllables and pauses at about 4 Hz, with voicing switching on and off;
    music holds its energy and periodicity. Frames outside the buffer are simply absent, so
    the first and last second of a stream are judged on less evidence; `stops` (one per
    centre; by default the buffer's end) leaves out the frames from there on, as a stream
    that had not heard them yet would.

    The classifier asks for this twice per 20 ms frame, so a block's centres are summarised
    at once: each window's frames become a row of a padded matrix, and a few array
    operations serve every row. Each row is what the window alone gives, bit for bit (the
    sums keep numpy's order, `_sums`): the speech/music decision must not depend on how
    the audio was cut into blocks.
    """
    count = len(centres)
    centres = np.asarray(centres, dtype=np.intp)
    stops = np.full(count, len(frames)) if stops is None else np.asarray(stops, dtype=np.intp)
    lows, highs = _islands(frames.energy_db, centres, stops)
    counts = highs - lows
    inside = _SPAN[None, :] < counts[:, None]
    taken = np.minimum(lows[:, None] + _SPAN[None, :], len(frames) - 1)

    energy_db = np.maximum(frames.energy_db[taken], CONTEXT_FLOOR_DB)
    linear = 10.0 ** (energy_db / 10.0)
    envelope = np.sqrt(linear)
    active = (energy_db > QUIET_DB) & inside
    active_counts = np.count_nonzero(active, axis=1)
    # The statistics of five features are taken over the active frames only (over all when
    # none is): each row's chosen frames first, in order.
    chosen = np.where(active_counts[:, None] > 0, active, inside)
    chosen_counts = np.count_nonzero(chosen, axis=1)
    picked = taken[np.arange(count)[:, None], np.argsort(~chosen, axis=1, kind="stable")]
    per_frame = (frames.flux, frames.flatness, frames.centroid, frames.voicing, frames.tonality)
    rows = np.concatenate([energy_db, linear, envelope, *(values[picked] for values in per_frame)])
    row_counts = np.concatenate([counts, counts, counts, *[chosen_counts] * len(per_frame)])
    means = _means(rows, row_counts)
    energy_mean, linear_mean, envelope_mean = (
        means[:count],
        means[count : 2 * count],
        means[2 * count : 3 * count],
    )

    centred = np.where(inside, envelope - envelope_mean[:, None], 0.0)[:, :_CONTEXT_SPAN]
    modulation = np.abs(np.fft.rfft(centred, axis=1)) ** 2
    deviations = (
        np.concatenate([energy_db, rows[3 * count :]])
        - np.concatenate([energy_mean, means[3 * count :]])[:, None]
    )
    spread_counts = np.concatenate([counts, row_counts[3 * count :]])
    second = _sums(
        np.concatenate(
            [
                deviations * deviations,
                _padded(modulation[:, _SYLLABIC_BAND]),
                _padded(modulation[:, 1:]),
            ]
        ),
        np.concatenate(
            [
                spread_counts,
                np.full(count, _SYLLABIC_BINS),
                np.full(count, modulation.shape[1] - 1),
            ]
        ),
    )
    spreads = np.sqrt(second[: len(spread_counts)] / spread_counts)
    syllabic = second[len(spread_counts) : len(spread_counts) + count]
    modulation_total = second[len(spread_counts) + count :]
    energy_std = spreads[:count]
    flux, flatness, centroid, voicing, tonality = (
        (
            means[(3 + field) * count : (4 + field) * count],
            spreads[(1 + field) * count : (2 + field) * count],
        )
        for field in range(len(per_frame))
    )
    voiced = frames.voicing[taken] > 0.5
    changes = np.count_nonzero((voiced[:, 1:] != voiced[:, :-1]) & inside[:, 1:], axis=1)
    low_energy = (linear < 0.5 * linear_mean[:, None]) & inside

    return np.stack(
        [
            energy_mean,
            energy_std,
            np.count_nonzero(low_energy, axis=1) / counts,
            (counts - active_counts) / counts,
            syllabic / (modulation_total + 1e-12),
            flux[0],
            flux[1],
            flatness[0],
            centroid[0] / 1000.0,
            centroid[1] / 1000.0,
            voicing[0],
            voicing[1],
            tonality[0],
            np.where(counts > 1, changes / np.maximum(counts - 1, 1), 0.0),
        ],
        axis=1,
    )


def _padded(values: Floats) -> Floats:
    """`values` widened with zeros to `_SUM_WIDTH`, to be summed with context windows."""
    result = np.zeros((len(values), _SUM_WIDTH))
    result[:, : values.shape[1]] = values
    return result
