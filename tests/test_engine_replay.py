"""A recording the call already played is told from new speech by its sound, whatever the
words: real synthesised speech, through the telephone's μ-law, cut at other samples."""

import numpy as np

from shopper.audio.g711 import ulaw_decode, ulaw_encode
from shopper.engine.replay import MIN_SAMPLES, replayed
from shopper.tts import synthesize

OFFER = "Select option one, and we will call you back within the hour, keeping your place in line."
AGENT = "Larkspur reservations, this is Diego. Which city are you traveling to?"


def played_again(samples: np.ndarray, shift: int) -> np.ndarray:
    """The same file played again: cut `shift` samples later, over a little line noise, and
    through the μ-law round trip of a phone line."""
    noise = np.random.default_rng(7).normal(0, 30, len(samples) - shift)
    again = np.clip(samples[shift:].astype(np.float64) + noise, -32768, 32767).astype(np.int16)
    return ulaw_decode(ulaw_encode(again))


def test_a_recording_played_again_is_a_replay() -> None:
    offer = synthesize(OFFER, "slt", 165, "flite")
    agent = synthesize(AGENT, "slt", 165, "flite")
    assert len(offer) >= MIN_SAMPLES
    assert replayed([played_again(offer, 37)], [agent, offer])


def test_the_same_words_in_another_voice_are_new_speech() -> None:
    """A person who says what the recording said does not sound like it."""
    recorded = synthesize(OFFER, "slt", 165, "flite")
    spoken = synthesize(OFFER, "awb", 165, "flite")
    assert not replayed([spoken], [recorded])
    assert not replayed([synthesize(AGENT, "slt", 165, "flite")], [recorded])


def test_speech_under_two_seconds_is_never_called_a_replay() -> None:
    """The documented limit: a short sentence is too generic to be called the same file."""
    short = synthesize("Rather not wait?", "slt", 165, "flite")
    assert len(short) < MIN_SAMPLES
    assert not replayed([short], [short])
