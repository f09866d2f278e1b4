"""Replays of one recording are recognised; different prompts never are."""

import itertools

import numpy as np
import pytest

from shopper.audio.files import read_audio
from shopper.audio.fingerprint import (
    MIN_CORRELATION,
    MIN_FRAMES,
    best_correlation,
    envelope,
    same_recording,
)
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.g711 import ulaw_round_trip
from shopper.bench.corpus import prompt_files
from shopper.sandbox.sounds import MOH_DIR, PROMPTS_DIR

ANNOUNCEMENT = PROMPTS_DIR / "queue-periodic-announce.wav"


def played(samples: Samples, seed: int, cut_start: int = 0, cut_end: int = 0) -> Samples:
    """One play of a recording over a line: cut where a classifier might cut it, plus noise."""
    rng = np.random.default_rng(seed)
    piece = samples[cut_start : len(samples) - cut_end].astype(np.float64)
    noisy = piece + rng.normal(0, 8, len(piece))
    return ulaw_round_trip(np.clip(noisy, -32768, 32767).astype(np.int16))


@pytest.mark.parametrize("cut_start,cut_end", [(0, 0), (80, 240), (37, 500), (400, 0)])
def test_two_plays_of_one_announcement_match(cut_start: int, cut_end: int) -> None:
    recording = read_audio(ANNOUNCEMENT)
    first = envelope(played(recording, 1))
    again = envelope(played(recording, 2, cut_start, cut_end))
    assert same_recording(first, again)


def test_no_two_different_prompts_match() -> None:
    """Every pair of Asterisk prompts long enough to be remembered (about 200 prompts)."""
    envelopes = [envelope(ulaw_round_trip(read_audio(path))) for path in prompt_files()]
    long_enough = [e for e in envelopes if e.frames >= MIN_FRAMES]
    assert len(long_enough) > 150
    matches = [(a, b) for a, b in itertools.combinations(long_enough, 2) if same_recording(a, b)]
    assert matches == []


def test_a_longer_play_or_a_short_stretch_does_not_match() -> None:
    recording = read_audio(ANNOUNCEMENT)
    assert not same_recording(envelope(recording), envelope(recording[: len(recording) // 2]))
    short = recording[:8000]
    assert not same_recording(envelope(short), envelope(short))


def test_two_plays_that_begin_in_different_hold_music_match() -> None:
    """An announcement right after hold music: the classifier's speech span begins a moment
    early, so each play starts with a little of the music, which differs from play to play
    (another bar, another level). The plays' insides are compared, so they still match."""
    recording = read_audio(ANNOUNCEMENT)[: round(2.3 * TELEPHONY_RATE)]  # one sentence's length
    music = read_audio(sorted(MOH_DIR.glob("*.wav"))[0])
    lead = round(0.15 * TELEPHONY_RATE)
    loud = music[TELEPHONY_RATE : TELEPHONY_RATE + lead]
    quiet = (music[5 * TELEPHONY_RATE : 5 * TELEPHONY_RATE + lead] * 0.2).astype(np.int16)
    first = envelope(played(np.concatenate([loud, recording]), 1))
    again = envelope(played(np.concatenate([quiet, recording]), 2))
    whole = best_correlation(first.bands, again.bands, MIN_FRAMES)
    assert whole < MIN_CORRELATION, "the music makes no difference"
    assert same_recording(first, again)
