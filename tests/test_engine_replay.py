"""A recording the call already played is told from new speech by its sound, whatever the
words: real synthesised speech, through the telephone's μ-law, cut at other samples."""

import numpy as np

from shopper.audio.files import read_audio
from shopper.audio.frame import TELEPHONY_RATE
from shopper.audio.g711 import ulaw_decode, ulaw_encode
from shopper.engine.replay import MIN_SAMPLES, replayed
from shopper.sandbox.sounds import MOH_DIR
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


def test_a_short_announcement_after_hold_music_is_a_replay() -> None:
    """Each play of a queue announcement comes right after hold music, and the speech span
    begins a moment into it: another bar each time, at another level. Its sound inside is
    the same file, so it is a replay, not a person (espeak-ng's "Your call matters to
    Riverton Transit." was taken for one 11 s early when the edges were compared too)."""
    announcement = voiced(
        synthesize("Your call matters to Riverton Transit.", "en-us", 165, "espeak-ng")
    )
    assert MIN_SAMPLES <= len(announcement) < 2 * MIN_SAMPLES
    music = read_audio(sorted(MOH_DIR.glob("*.wav"))[0])
    lead = round(0.14 * TELEPHONY_RATE)
    first = np.concatenate([music[TELEPHONY_RATE : TELEPHONY_RATE + lead], announcement])
    later = music[9 * TELEPHONY_RATE : 9 * TELEPHONY_RATE + lead] * 0.2
    again = np.concatenate([later.astype(np.int16), announcement])
    assert replayed([played_again(again, 0)], [played_again(first, 0)])
    assert not replayed([synthesize(AGENT, "en-us", 165, "espeak-ng")], [first])


def voiced(samples: np.ndarray) -> np.ndarray:
    """The synthesised speech without the digital silence around it: a speech span on a call
    starts and ends with the voice."""
    loud = np.flatnonzero(np.abs(samples) > 100)
    return samples[loud[0] : loud[-1] + 1]
