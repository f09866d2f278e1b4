"""The ear's block analysis on real material: what it reports, and when."""

from __future__ import annotations

import numpy as np
import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.audio.callprogress import ToneDetector, call_progress_tone
from shopper.audio.classifier import classify
from shopper.audio.dtmf import DtmfDetector, dtmf_sequence
from shopper.audio.files import read_audio
from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, AudioFrame, silence, split_frames
from shopper.audio.g711 import ulaw_round_trip
from shopper.audio.tone_labels import Receivers
from shopper.engine.ear import BLOCK_FRAMES, Ear, Heard
from shopper.sandbox.sounds import PROMPTS_DIR, moh_files
from shopper.text.normalize import normalize

BLOCK = BLOCK_FRAMES * FRAME_SAMPLES


@pytest.fixture(scope="module")
def call_audio() -> np.ndarray:
    """Ringback, keys, a prompt, hold music and a busy signal, as a line would carry them."""
    prompt = read_audio(PROMPTS_DIR / "please-try-again.wav")
    music = read_audio(moh_files()[0])[: 5 * TELEPHONY_RATE]
    parts = [
        call_progress_tone("ringback", 6.0),
        silence(0.5),
        dtmf_sequence("147#", 0.08, 0.08),
        silence(0.7),
        prompt,
        silence(0.5),
        music,
        call_progress_tone("busy", 3.0),
    ]
    return ulaw_round_trip(np.concatenate(parts))


def test_the_ear_reports_what_each_analyser_finds_in_the_whole_recording(
    call_audio: np.ndarray,
) -> None:
    start = 12_345
    ear = Ear(MoonshineEngine())
    heard: list[tuple[int, Heard]] = [
        (frame.end, ear.hear(frame)) for frame in split_frames(call_audio, start)
    ]
    heard.append((start + len(call_audio), ear.finish()))

    whole = AudioFrame(call_audio, start)
    dtmf, tones, receivers = DtmfDetector(), ToneDetector(), Receivers()
    # The classifier's segments, where the receivers heard keys and tones relabelled `tone`.
    relabelled = receivers.feed(whole, classify(call_audio, start)).segments
    relabelled += receivers.finish([]).segments
    assert [s for _, h in heard for s in h.segments] == relabelled
    assert [d for _, h in heard for d in h.digits] == dtmf.feed(whole) + dtmf.finish()
    assert [t for _, h in heard for t in h.tones] == tones.feed(whole) + tones.finish()
    assert [d.digit for _, h in heard for d in h.digits] == list("147#")
    assert {t.kind for _, h in heard for t in h.tones} >= {"ringback", "busy"}
    (utterance,) = [u for _, h in heard for u in h.utterances if u.final and u.text]
    assert "try again" in normalize(utterance.text)

    # Everything becomes known on the block grid, never before the sound it describes ends.
    for known_at, h in heard[:-1]:
        found = [*h.segments, *h.digits, *h.tones, *h.utterances]
        if found:
            assert (known_at - start) % BLOCK == 0
        assert all(item.end <= known_at for item in found)


def test_a_gap_in_the_frames_ends_the_block_before_it() -> None:
    """Frames that do not follow each other are never analysed as one stretch of audio."""
    ear = Ear(MoonshineEngine())
    noise = np.random.default_rng(5).standard_normal(FRAME_SAMPLES) * 2000
    frame = noise.astype(np.int16)
    ear.hear(AudioFrame(frame, 0))
    with pytest.raises(ValueError, match="expected"):
        for index in range(3, 3 + BLOCK_FRAMES):
            ear.hear(AudioFrame(frame, index * FRAME_SAMPLES))
