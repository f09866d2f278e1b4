"""The speech/music context features, worked out for many frames at once, are bit for bit
what the original one-window-at-a-time code gave on real audio.

The classifier's labels (and through them every segment, utterance and verdict of a call)
hang on these numbers near the model's 0.5 threshold, so "close" is not enough: the frozen
reference below is the per-window implementation the batched one replaced, and every row
must be identical to it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from shopper.audio.features import (
    CONTEXT_FLOOR_DB,
    CONTEXT_RADIUS,
    ISLAND_GAP,
    QUIET_DB,
    Floats,
    FrameFeatures,
    context_features,
    frame_features,
    section,
    windows_of,
)
from shopper.audio.files import read_audio
from shopper.audio.frame import silence
from shopper.audio.g711 import ulaw_round_trip
from shopper.bench.corpus import prompt_transcripts
from shopper.sandbox.sounds import moh_files

_MODULATION_HZ = np.fft.rfftfreq(2 * CONTEXT_RADIUS + 1, d=160 / 8000.0)
_SYLLABIC_BAND = (_MODULATION_HZ >= 2.0) & (_MODULATION_HZ <= 8.0)


def _reference_island(energy_db: Floats, centre: int) -> tuple[int, int]:
    start = max(0, centre - CONTEXT_RADIUS)
    stop = min(len(energy_db), centre + CONTEXT_RADIUS + 1)
    quiet = (energy_db[start:stop] <= QUIET_DB).tolist()
    local = centre - start
    low, high = 0, len(quiet)
    run = 0
    for index in range(local - 1, -1, -1):
        run = run + 1 if quiet[index] else 0
        if run >= ISLAND_GAP:
            low = index + run
            break
    run = 0
    for index in range(local + 1, len(quiet)):
        run = run + 1 if quiet[index] else 0
        if run >= ISLAND_GAP:
            high = index - run + 1
            break
    return start + low, start + high


def _reference_mean_std(values: Floats) -> tuple[float, float]:
    count = len(values)
    mean = float(np.add.reduce(values) / count)
    deviations = values - mean
    return mean, math.sqrt(float(np.add.reduce(deviations * deviations)) / count)


def _reference(frames: FrameFeatures, centre: int) -> Floats:
    """The per-window context features as shopper computed them before batching."""
    low, high = _reference_island(frames.energy_db, centre)
    energy_db = np.maximum(frames.energy_db[low:high], CONTEXT_FLOOR_DB)
    count = len(energy_db)
    linear = 10.0 ** (energy_db / 10.0)
    active = energy_db > QUIET_DB
    active_count = int(np.count_nonzero(active))
    envelope = np.sqrt(linear)
    envelope = envelope - envelope.mean()
    modulation = np.abs(np.fft.rfft(envelope, n=2 * CONTEXT_RADIUS + 1)) ** 2
    syllabic = modulation[_SYLLABIC_BAND].sum()
    mod_share = syllabic / (modulation[1:].sum() + 1e-12)
    stacked = np.stack(
        [
            frames.flux[low:high],
            frames.flatness[low:high],
            frames.centroid[low:high],
            frames.voicing[low:high],
            frames.tonality[low:high],
        ]
    )
    chosen = stacked[:, active] if active_count else stacked
    flux, flatness, centroid, voicing, tonality = (_reference_mean_std(row) for row in chosen)
    energy_mean, energy_std = _reference_mean_std(energy_db)
    voiced = frames.voicing[low:high] > 0.5
    voicing_changes = (
        np.count_nonzero(voiced[1:] != voiced[:-1]) / (count - 1) if count > 1 else 0.0
    )
    return np.array(
        [
            energy_mean,
            energy_std,
            np.count_nonzero(linear < 0.5 * (np.add.reduce(linear) / count)) / count,
            (count - active_count) / count,
            float(mod_share),
            flux[0],
            flux[1],
            flatness[0],
            centroid[0] / 1000.0,
            centroid[1] / 1000.0,
            voicing[0],
            voicing[1],
            tonality[0],
            voicing_changes,
        ]
    )


@pytest.fixture(scope="module")
def frames() -> FrameFeatures:
    """Recorded prompts with pauses of every length around the island cut (short, 18
    frames, long), then hold music fading into silence, through a μ-law line."""
    prompts = sorted(prompt_transcripts())[::97][:6]
    pauses = (0.05, 0.36, 0.38, 1.2, 0.2, 0.7)
    parts = []
    for prompt, pause in zip(prompts, pauses, strict=True):
        parts += [read_audio(prompt), silence(pause)]
    music = read_audio(moh_files()[0])[: 12 * 8000].astype(np.float64)
    music *= np.linspace(1.0, 0.001, len(music))
    parts += [music.astype(np.int16), silence(0.5)]
    samples = ulaw_round_trip(np.concatenate(parts)).astype(np.float64)
    features, _ = frame_features(windows_of(samples))
    return features


def test_every_window_is_the_reference_bit_for_bit(frames: FrameFeatures) -> None:
    centres = np.arange(len(frames))
    expected = np.array([_reference(frames, int(centre)) for centre in centres])
    # Whole buffer at once, and in blocks of five as the classifier asks.
    assert np.array_equal(context_features(frames, centres), expected)
    blocks = [context_features(frames, centres[at : at + 5]) for at in range(0, len(frames), 5)]
    assert np.array_equal(np.concatenate(blocks), expected)
    # The windows differ: the test would notice a wrong island or an all-quiet window.
    assert len(np.unique(expected[:, 0])) > len(frames) // 2
    assert np.any(expected[:, 3] == 1.0) and np.any(expected[:, 3] == 0.0)


def test_a_stop_leaves_out_what_was_not_heard_yet(frames: FrameFeatures) -> None:
    """`stops` gives what a stream fed only up to each frame would have computed."""
    centres = np.arange(len(frames))
    expected = np.array(
        [_reference(section(frames, 0, centre + 1), centre) for centre in centres.tolist()]
    )
    assert np.array_equal(context_features(frames, centres, centres + 1), expected)
    assert not np.array_equal(context_features(frames, centres), expected)
