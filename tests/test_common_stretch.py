"""One recording is found inside spans cut with other audio around it; different prompts of
one voice, even with nearly the same words or a phrase in common, are not taken for it."""

import itertools

import numpy as np
import pytest

from shopper.audio.common_stretch import MIN_SHARE, align, shares_recording
from shopper.audio.files import read_audio
from shopper.audio.fingerprint import HOP_SAMPLES, MIN_FRAMES, envelope
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.g711 import ulaw_round_trip
from shopper.bench.corpus import prompt_files
from shopper.sandbox.sounds import PROMPTS_DIR
from shopper.tts import synthesize


def prompt(name: str) -> Samples:
    return read_audio(PROMPTS_DIR / f"{name}.wav")


def over_the_line(samples: Samples, seed: int) -> Samples:
    """Line noise, then the μ-law codec of a phone call."""
    noisy = samples + np.random.default_rng(seed).normal(0, 8, len(samples))
    return ulaw_round_trip(np.clip(noisy, -32768, 32767).astype(np.int16))


def seconds(s: float) -> int:
    return round(s * TELEPHONY_RATE)


def heard_in(
    recording: Samples, before: Samples, after: Samples, cut: int = 0, seed: int = 0
) -> tuple[Samples, int]:
    """A span as a crawl keeps it: the end of another prompt a key cut, a short pause, the
    recording (its first `cut` samples lost), the next prompt joined after it. Returns the
    span and the sample where the recording's first sample would be."""
    pause = np.zeros(seconds(0.15), dtype=np.int16)
    span = np.concatenate([before, pause, recording[cut:], after])
    return over_the_line(span, seed), len(before) + len(pause) - cut


@pytest.mark.parametrize(
    "name", ["pls-hold-while-try", "vm-intro", "queue-periodic-announce", "dir-intro"]
)
def test_a_prompt_is_found_in_two_spans_with_different_context(name: str) -> None:
    """Once after a cut prompt's last 0.6 s and with the next prompt joined after it, once
    after another cut prompt's last 0.3 s and missing its first 37 samples."""
    recording = prompt(name)
    first, first_at = heard_in(
        recording, prompt("vm-nobodyavail")[-seconds(0.6) :], prompt("conf-getconfno")[: seconds(2)]
    )
    second, second_at = heard_in(
        recording, prompt("agent-incorrect")[-seconds(0.3) :], prompt("silence/1"), cut=37, seed=1
    )
    a, b = envelope(first), envelope(second)
    found = align(a, b)
    assert abs(found.offset - (first_at - second_at) / HOP_SAMPLES) <= 2
    assert found.frames >= 0.8 * len(recording) / HOP_SAMPLES
    assert found.score > 0.95
    assert shares_recording(a, b) and shares_recording(b, a)


def test_a_prompt_alone_is_found_inside_a_longer_span() -> None:
    recording = prompt("vm-intro")
    alone = envelope(over_the_line(recording, 2))
    inside, _ = heard_in(
        recording, prompt("queue-periodic-announce"), prompt("dir-intro"), cut=80, seed=3
    )
    longer = envelope(inside)
    assert longer.frames > 4 * alone.frames
    assert shares_recording(alone, longer)


def test_prompts_of_one_voice_and_similar_length_are_not_the_same_recording() -> None:
    """Each Asterisk prompt of 2.5-12 s against the five next in length (about 450 pairs),
    all the same studio voice, through the codec."""
    lengths = {
        path: len(read_audio(path)) for path in prompt_files() if "silence" not in path.parts
    }
    chosen = sorted((n, p) for p, n in lengths.items() if seconds(2.5) <= n <= seconds(12))
    envelopes = [envelope(over_the_line(read_audio(path), i)) for i, (_, path) in enumerate(chosen)]
    assert len(envelopes) > 80
    pairs = [
        (i, j) for i in range(len(envelopes)) for j in range(i + 1, min(i + 6, len(envelopes)))
    ]
    same = [
        (chosen[i][1].name, chosen[j][1].name)
        for i, j in pairs
        if shares_recording(envelopes[i], envelopes[j])
    ]
    assert same == []


def test_two_takes_of_nearly_the_same_words_are_different_recordings() -> None:
    """The Asterisk directory prompts differ by one word ("last" / "first" name)."""
    last, first = envelope(prompt("dir-intro")), envelope(prompt("dir-intro-fn"))
    assert abs(last.frames - first.frames) < 20
    assert align(last, first).frames < MIN_FRAMES
    assert not shares_recording(last, first)


SENTENCES = (
    "For billing and payments, press 1. For card services, press 2.",
    "Thank you for calling Acme Bank. For billing and payments, press 1.",
    "Please hold while we connect you with the next available representative.",
    "Thank you for holding. Your call is important to us.",
    "To hear your balance, press 1. To make a payment, press 2.",
    "Policies and billing. For auto policies, press 1. For home policies, press 2.",
)


@pytest.mark.parametrize("voice", ["awb", "slt"])
def test_different_tts_prompts_of_one_voice_are_different_recordings(voice: str) -> None:
    envelopes = [
        envelope(over_the_line(synthesize(text, voice, 165, "flite"), i))
        for i, text in enumerate(SENTENCES)
    ]
    assert not any(shares_recording(a, b) for a, b in itertools.combinations(envelopes, 2))


def test_a_prompt_is_followed_across_a_pause_where_only_line_noise_differs() -> None:
    """Two sentences and 1.2 s of silence between them: in the pause each call has its own
    line noise, which must not end the stretch the two spans share."""
    first, second = (synthesize(text, "rms", 165, "flite") for text in SENTENCES[2:4])
    recording = np.concatenate([first, np.zeros(seconds(1.2), dtype=np.int16), second])
    one, _ = heard_in(recording, prompt("vm-intro")[-seconds(0.5) :], np.zeros(0, np.int16))
    other, _ = heard_in(recording, np.zeros(0, np.int16), prompt("dir-intro")[: seconds(1)], seed=1)
    a, b = envelope(one), envelope(other)
    assert align(a, b).frames >= 0.95 * len(recording) / HOP_SAMPLES
    assert shares_recording(a, b)


def test_a_phrase_two_prompts_share_is_found_but_is_not_the_prompt() -> None:
    """A synthesised voice says "For billing and payments, press 1." the same way in both
    menus: real shared audio, but less than MIN_SHARE of either prompt."""
    menu, greeting = (
        envelope(over_the_line(synthesize(text, "awb", 165, "flite"), i))
        for i, text in enumerate(SENTENCES[:2])
    )
    shared = align(menu, greeting)
    assert shared.score > 0.95 and shared.frames > 0.25 * min(menu.frames, greeting.frames)
    assert shared.frames < MIN_SHARE * min(menu.frames, greeting.frames)
    assert not shares_recording(menu, greeting)


def test_spans_under_two_seconds_are_never_judged() -> None:
    short = envelope(over_the_line(prompt("queue-thankyou"), 0))
    assert short.frames < MIN_FRAMES
    assert align(short, short).frames == 0
    assert not shares_recording(short, short)
