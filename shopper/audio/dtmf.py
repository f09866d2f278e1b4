"""DTMF: the keypad tones shopper sends to IVRs, and a receiver that hears them on a call.

The receiver follows the spirit of ITU-T Q.24 and the Bellcore/AT&T receiver rules: accept a
frequency error of 1.5 % and reject 3.5 %, accept tones of 40 ms and reject tones under
23 ms, ride over interruptions of 10 ms, separate two presses of one key by a pause of about
30 ms, accept 8 dB of normal twist (low group stronger, as long loops attenuate the high
group) and 4 dB of reverse twist. An IVR's prompts and hold music must never read as a key
press, so each 12.75 ms block must also look like two pure tones and nothing else: the best
row and column carry nearly all of the block's energy, no second row or column is close, the
high tone has no second harmonic, and the phase of each tone advances from block to block at
the rate of its nominal frequency (which is also how the frequency error is measured: a
102-sample block cannot resolve 1.5 % from 3.5 % by power alone). The low tones' second
harmonics (1394, 1540, 1704 Hz) lie within a bin of the high tones, so a short block cannot
tell a harmonic from a key's own high tone there; the energy-share test covers them instead.
The chosen row and column are read jointly (a 2x2 solve per block) so that each tone's
sidelobes do not distort the other's level and phase, nor fake a strong neighbouring bin.

Tone phases are needed, not just powers, so the bins are complex projections computed here;
shopper.audio.goertzel supplies the blocks and their energy on the same power scale.

Block analysis is vectorised over whole chunks of audio, so a long recording is cut into
blocks and judged in a few array operations; only the rare runs of DTMF-like blocks reach
Python-level logic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from shopper.audio.frame import TELEPHONY_RATE, AudioFrame, Samples
from shopper.audio.goertzel import Floats, block_energy, block_view
from shopper.audio.segments import Span
from shopper.errors import ShopperError

DTMF_KEYS = "123A456B789C*0#D"
"""Row-major keypad: key index = 4 * row + column."""

ROW_HZ = (697.0, 770.0, 852.0, 941.0)
COLUMN_HZ = (1209.0, 1336.0, 1477.0, 1633.0)

BLOCK = 102
"""12.75 ms: the nulls of each bin fall about on the neighbouring row frequency."""
HOP = 40
"""5 ms between block starts: the time resolution of start, end, gaps and interruptions."""

MIN_LEVEL_DBFS = -38.0
"""Weakest component accepted in a block (peak-referenced: a full-scale sine is 0 dBFS)."""
NORMAL_TWIST_DB = 8.0 + 1.5
"""Low group stronger than the high group: 8 dB, plus 1.5 dB for the codec, noise and the
residual misreading of a tone 1.5 % off frequency."""
REVERSE_TWIST_DB = 4.0 + 1.5
TONE_FRACTION = 0.75
"""Share of the block's energy the two tones must carry: speech and music spread theirs."""
RELATIVE_PEAK_DB = 8.0
"""The second-best row (column) must be this far below the best one."""
HARMONIC_DB = 15.0
"""A key's tones are pure: the high tone's second harmonic must be this far below it."""
BLOCK_DEVIATION = 0.030
"""Frequency error tolerated in a single block-to-block phase step (noisy, hence looser)."""
DIGIT_DEVIATION = 0.025
"""Frequency error tolerated over a whole digit: between Q.24's 1.5 % accept and 3.5 % reject."""
MIN_HITS = 5
"""Blocks that must pass before a digit counts (33 ms of tone): a block passes once the tone
fills about three quarters of it, so a tone under 23 ms passes at most four, and one of 40 ms
at least five even when noise raises the fill a block needs."""
END_MISSES = 6
"""Consecutive failing blocks that end a digit: a 10 ms break fails at most four, a 30 ms pause
between two presses of one key fails at least seven."""
BATCH_BLOCKS = 20
"""Blocks gathered before a streaming analysis (100 ms): array set-up costs more than the maths
on one 20 ms frame, and a press reported 100 ms later changes nothing for an IVR caller."""
CHUNK_BLOCKS = 4096
"""Blocks analysed per array operation: bounds memory on long recordings."""

_FREQUENCIES = np.array(ROW_HZ + COLUMN_HZ, dtype=np.float64)
_ANALYSED = np.concatenate([_FREQUENCIES, 2.0 * np.array(COLUMN_HZ)])
"""The eight key frequencies, then the high tones' second harmonics."""


def _basis() -> Floats:
    """Cosines then sines of every analysed frequency: one matrix product reads all bins."""
    phase = 2.0 * np.pi * np.outer(np.arange(BLOCK), _ANALYSED) / TELEPHONY_RATE
    return np.hstack([np.cos(phase), np.sin(phase)])


_BASIS = _basis()
_HOP_ROTATION = np.exp(-2j * np.pi * _FREQUENCIES * HOP / TELEPHONY_RATE)
"""Undoes the phase a tone exactly on frequency gains over one hop; what remains is the error."""


def _leakage() -> NDArray[np.complex128]:
    """[i, j]: what a unit complex tone on key frequency j reads in analysed bin i, relative to
    what it reads in its own bin."""
    offsets = np.subtract.outer(_ANALYSED, _FREQUENCIES)
    phase = -2j * np.pi * np.multiply.outer(offsets, np.arange(BLOCK)) / TELEPHONY_RATE
    return np.asarray(np.exp(phase).sum(axis=2) / BLOCK, dtype=np.complex128)


_LEAKAGE = _leakage()
"""A 102-sample block's sidelobes let an 8 dB stronger row tone move its column's reading by
±2 dB from block to block and raise a neighbouring column to 8 dB below it: each block's two
tones are solved for jointly, and their leakage removed before the other bins are judged."""
_SILENT_BINS = np.zeros(len(_FREQUENCIES), dtype=np.complex128)
_POWER_SCALE = 4.0 / BLOCK**2
"""A sinusoid of amplitude A on a bin's frequency reads A² (block_energy reads A²/2)."""

Complexes = NDArray[np.complex128]
Ints = NDArray[np.intp]


class DtmfError(ShopperError, ValueError):
    """A tone that cannot be made as asked (unknown key, negative time, clipping level)."""


@dataclass(frozen=True, slots=True)
class DtmfDigit(Span):
    """One key press heard on the call: [start, end) are the tone's samples."""

    digit: str


def _amplitude(level_dbfs: float) -> float:
    return float(32767.0 * 10.0 ** (level_dbfs / 20.0))


def dtmf_tone(
    key: str,
    duration_s: float = 0.1,
    level_dbfs: float = -9.0,
    *,
    twist_db: float = 0.0,
    deviation: float = 0.0,
) -> Samples:
    """One key's tone at 8 kHz.

    `level_dbfs` is each component's level (0 dBFS = full-scale sine); `twist_db` is how much
    louder the low group is than the high group (negative: reverse twist), split evenly about
    `level_dbfs`; `deviation` shifts both frequencies by that fraction (0.015 = +1.5 %), as a
    worn-out keypad would.
    """
    if len(key) != 1 or key not in DTMF_KEYS:
        raise DtmfError(f"{key!r} is not a DTMF key; keys are {' '.join(DTMF_KEYS)}")
    if duration_s < 0:
        raise DtmfError(f"tone duration {duration_s} s is negative")
    low = _amplitude(level_dbfs + twist_db / 2.0)
    high = _amplitude(level_dbfs - twist_db / 2.0)
    if low + high > 32767.0:
        raise DtmfError(
            f"{level_dbfs} dBFS per tone with {twist_db} dB twist would clip; "
            "stay at or below -6 dBFS with no twist"
        )
    index = DTMF_KEYS.index(key)
    row_hz = ROW_HZ[index // 4] * (1.0 + deviation)
    column_hz = COLUMN_HZ[index % 4] * (1.0 + deviation)
    t = np.arange(round(duration_s * TELEPHONY_RATE)) / TELEPHONY_RATE
    wave = low * np.sin(2 * np.pi * row_hz * t) + high * np.sin(2 * np.pi * column_hz * t)
    return np.rint(wave).astype(np.int16)


def dtmf_sequence(
    keys: str,
    tone_s: float = 0.1,
    gap_s: float = 0.1,
    level_dbfs: float = -9.0,
    twist_db: float = 0.0,
) -> Samples:
    """Keys dialled one after another, with `gap_s` of silence between tones (none after)."""
    if gap_s < 0:
        raise DtmfError(f"gap {gap_s} s is negative")
    gap = np.zeros(round(gap_s * TELEPHONY_RATE), dtype=np.int16)
    parts: list[Samples] = []
    for position, key in enumerate(keys):
        if position:
            parts.append(gap)
        parts.append(dtmf_tone(key, tone_s, level_dbfs, twist_db=twist_db))
    if not parts:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate(parts)


@dataclass(frozen=True, slots=True)
class _BlockVerdicts:
    """Per block: the key it looks like (-1: none), and each tone's phase step for that key."""

    keys: Ints
    row_steps: Complexes
    column_steps: Complexes


def _judge_blocks(samples: Samples, previous: Complexes | None) -> tuple[_BlockVerdicts, Complexes]:
    """Judge every full block of `samples`; `previous` is the bins of the block before the first.

    Returns the verdicts and the bins of the last block, to chain the phase steps across calls.
    """
    blocks = block_view(samples, BLOCK, HOP)
    projections = blocks @ _BASIS
    real = projections[:, : len(_ANALYSED)]
    imag = projections[:, len(_ANALYSED) :]
    bins = real - 1j * imag
    power = (real**2 + imag**2) * _POWER_SCALE
    energy = block_energy(blocks)
    best_row = np.argmax(power[:, 0:4], axis=1)
    best_column = np.argmax(power[:, 4:8], axis=1)
    pair = _Pair(best_row, best_column)

    fundamentals = bins[:, :8]
    before = np.empty_like(fundamentals)
    before[0] = previous if previous is not None else 0.0
    before[1:] = fundamentals[:-1]
    row_now, column_now = pair.solve(fundamentals)
    row_before, column_before = pair.solve(before)
    row_step = row_now * np.conj(row_before) * _HOP_ROTATION[best_row]
    column_step = column_now * np.conj(column_before) * _HOP_ROTATION[4 + best_column]
    row_power = np.abs(row_now) ** 2 * _POWER_SCALE / _bin_gain(row_step) ** 2
    column_power = np.abs(column_now) ** 2 * _POWER_SCALE / _bin_gain(column_step) ** 2

    residual = np.abs(bins - pair.leakage(row_now, column_now)) ** 2 * _POWER_SCALE
    second_row = residual[:, 0:4].max(axis=1)
    second_column = residual[:, 4:8].max(axis=1)
    column_harmonic = residual[pair.picked, 8 + best_column]

    floor = _amplitude(MIN_LEVEL_DBFS) ** 2
    peak = 10.0 ** (-RELATIVE_PEAK_DB / 10.0)
    harmonic = 10.0 ** (-HARMONIC_DB / 10.0)
    passed = (
        (row_power >= floor)
        & (column_power >= floor)
        & (column_power <= row_power * 10.0 ** (REVERSE_TWIST_DB / 10.0))
        & (row_power <= column_power * 10.0 ** (NORMAL_TWIST_DB / 10.0))
        & ((row_power + column_power) >= 2.0 * TONE_FRACTION * energy)
        & (second_row <= row_power * peak)
        & (second_column <= column_power * peak)
        & (column_harmonic <= column_power * harmonic)
        & (np.abs(_deviation(row_step, np.asarray(ROW_HZ)[best_row])) <= BLOCK_DEVIATION)
        & (np.abs(_deviation(column_step, np.asarray(COLUMN_HZ)[best_column])) <= BLOCK_DEVIATION)
    )
    keys = np.where(passed, 4 * best_row + best_column, -1)
    return _BlockVerdicts(keys, row_step, column_step), fundamentals[-1]


class _Pair:
    """The best row and column of each block, read jointly: solving the 2x2 system of their two
    bins removes each tone's leakage from the other's reading."""

    def __init__(self, row: Ints, column: Ints) -> None:
        self.picked = np.arange(len(row))
        self._row = row
        self._column = 4 + column
        self._column_in_row = _LEAKAGE[row, self._column]
        self._row_in_column = _LEAKAGE[self._column, row]
        self._determinant = 1.0 - self._column_in_row * self._row_in_column

    def solve(self, bins: Complexes) -> tuple[Complexes, Complexes]:
        """Each tone's own reading, as if the other tone were absent."""
        row_bin = bins[self.picked, self._row]
        column_bin = bins[self.picked, self._column]
        row = (row_bin - self._column_in_row * column_bin) / self._determinant
        column = (column_bin - self._row_in_column * row_bin) / self._determinant
        return row, column

    def leakage(self, row: Complexes, column: Complexes) -> Complexes:
        """What the two tones read in every analysed bin."""
        return np.asarray(
            row[:, None] * _LEAKAGE[:, self._row].T + column[:, None] * _LEAKAGE[:, self._column].T,
            dtype=np.complex128,
        )


def _bin_gain(step: Complexes) -> Floats:
    """How much of a tone's amplitude its bin shows, given the frequency error its phase step
    reveals: without this a 1.5 % error at 1633 Hz reads 1.4 dB low and fails twist and
    energy tests that a tone on frequency passes."""
    error = np.angle(step) / HOP
    half = np.sin(error / 2.0)
    ratio = np.divide(
        np.sin(BLOCK * error / 2.0), BLOCK * half, out=np.ones_like(half), where=half != 0
    )
    return np.asarray(np.minimum(np.maximum(ratio, 0.5), 1.0), dtype=np.float64)


def _deviation(step: Complexes | complex, nominal_hz: Floats | float) -> Floats:
    """Relative frequency error implied by a tone's phase step over one hop."""
    error_hz = np.angle(step) * TELEPHONY_RATE / (2.0 * np.pi * HOP)
    return np.asarray(error_hz / nominal_hz, dtype=np.float64)


@dataclass(slots=True)
class _Candidate:
    """A run of blocks that look like one key, not yet known to be a press."""

    key: int
    first: int
    last: int
    hits: int
    row_step: complex
    column_step: complex
    misses: int = 0


class DtmfDetector:
    """Streaming DTMF receiver: feed the call's frames in order, get each press once it ends.

    Blocks lie on a fixed 5 ms grid from the first frame's start, so how the audio is cut
    into frames never changes what is detected.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._origin: int | None = None
        self._pending = np.zeros(0, dtype=np.int16)
        self._next_block = 0
        self._previous_bins: Complexes | None = None
        self._candidate: _Candidate | None = None

    def feed(self, frame: AudioFrame) -> list[DtmfDigit]:
        """Presses that ended in the audio so far: 30 ms of silence closes a press, and audio
        is judged in 100 ms batches, so a press is reported 30 to 130 ms after its tone."""
        if frame.rate != TELEPHONY_RATE:
            raise ValueError(f"DTMF detection needs {TELEPHONY_RATE} Hz audio, got {frame.rate} Hz")
        if self._origin is None:
            self._origin = frame.start
        expected = self._origin + self._next_block * HOP + len(self._pending)
        if frame.start != expected:
            raise ValueError(f"frame starts at sample {frame.start}, expected {expected}")
        self._pending = np.concatenate([self._pending, frame.samples])
        if len(self._pending) < BLOCK + (BATCH_BLOCKS - 1) * HOP:
            return []
        return self._analyse()

    @property
    def undecided_from(self) -> int | None:
        """Where a press still being heard began, if one is."""
        if self._candidate is None or self._origin is None:
            return None
        return self._origin + self._candidate.first * HOP

    def finish(self) -> list[DtmfDigit]:
        """Close the call: judge the last partial blocks as if silence followed, flush, reset."""
        if len(self._pending):
            self._pending = np.concatenate([self._pending, np.zeros(BLOCK - HOP, dtype=np.int16)])
        digits = self._analyse()
        if self._candidate is not None:
            digits += self._close(self._candidate)
        self._reset()
        return digits

    def _analyse(self) -> list[DtmfDigit]:
        digits: list[DtmfDigit] = []
        while len(self._pending) >= BLOCK:
            count = min(CHUNK_BLOCKS, 1 + (len(self._pending) - BLOCK) // HOP)
            span = (count - 1) * HOP + BLOCK
            chunk = self._pending[:span]
            if self._candidate is None and not chunk.any():
                # Digital silence (a caller's line while it neither speaks nor presses): no
                # block passes and no press is open, so there is nothing to judge. The block
                # after it holds at most HOP samples of sound and cannot pass either, whatever
                # phase these zero bins give it.
                self._previous_bins = _SILENT_BINS
            else:
                verdicts, self._previous_bins = _judge_blocks(chunk, self._previous_bins)
                digits += self._track(verdicts, self._next_block)
            self._next_block += count
            self._pending = self._pending[count * HOP :]
        return digits

    def _track(self, verdicts: _BlockVerdicts, first_block: int) -> list[DtmfDigit]:
        """Follow runs of equal verdicts: a press is a run of one key, allowing short breaks."""
        digits: list[DtmfDigit] = []
        keys = verdicts.keys
        if self._candidate is None and not np.any(keys >= 0):
            return digits
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(keys)) + 1, [len(keys)]])
        for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            key = int(keys[start])
            candidate = self._candidate
            if key < 0:
                if candidate is not None:
                    candidate.misses += stop - start
                    if candidate.misses >= END_MISSES:
                        digits += self._close(candidate)
                continue
            row_step = complex(verdicts.row_steps[start:stop].sum())
            column_step = complex(verdicts.column_steps[start:stop].sum())
            if candidate is not None and candidate.key == key:
                candidate.last = first_block + stop - 1
                candidate.hits += stop - start
                candidate.row_step += row_step
                candidate.column_step += column_step
                candidate.misses = 0
                continue
            if candidate is not None:
                digits += self._close(candidate)
            self._candidate = _Candidate(
                key,
                first_block + start,
                first_block + stop - 1,
                stop - start,
                row_step,
                column_step,
            )
        return digits

    def _close(self, candidate: _Candidate) -> list[DtmfDigit]:
        """Decide on a finished run: long enough, and on frequency over its whole length.

        The first passing block starts, and the last ends, within a quarter block of the tone's
        edges (the fill a block needs), so the run's extent is the tone's to a few ms.
        """
        self._candidate = None
        assert self._origin is not None
        start = self._origin + candidate.first * HOP
        end = self._origin + candidate.last * HOP + BLOCK
        row_error = float(_deviation(candidate.row_step, ROW_HZ[candidate.key // 4]))
        column_error = float(_deviation(candidate.column_step, COLUMN_HZ[candidate.key % 4]))
        if (
            candidate.hits < MIN_HITS
            or abs(row_error) > DIGIT_DEVIATION
            or abs(column_error) > DIGIT_DEVIATION
        ):
            return []
        return [DtmfDigit(start, end, DTMF_KEYS[candidate.key])]


def detect_dtmf(samples: Samples, start: int = 0) -> list[DtmfDigit]:
    """Every key press in a recording whose first sample is sample `start` of the call."""
    detector = DtmfDetector()
    digits = detector.feed(AudioFrame(samples, start))
    return digits + detector.finish()
