"""The served phone system's media helpers: RFC 4733 key events regenerated as tones
(shopper.sandbox.sip.keys), which the simulated phone system's own in-band receiver must hear
once each whatever the event's duration, and the caller's audio buffer
(shopper.sandbox.sip.inbound)."""

from __future__ import annotations

import numpy as np

from shopper.audio.dtmf import detect_dtmf
from shopper.audio.frame import FRAME_SAMPLES
from shopper.sandbox.sip.inbound import MAX_BUFFERED_FRAMES, CallerAudio
from shopper.sandbox.sip.keys import KeyTones


def _heard(tones: KeyTones, frames: int) -> str:
    caller = np.full(FRAME_SAMPLES, 40, dtype=np.int16)
    audio = np.concatenate([tones.over(caller) for _ in range(frames)])
    return "".join(digit.digit for digit in detect_dtmf(audio))


def test_each_event_is_heard_as_one_key_press() -> None:
    tones = KeyTones()
    tones.event("1", 800)  # 100 ms
    tones.event("#", 80)  # 10 ms: a truncated event still makes a press the IVR can hear
    tones.event("9", 60000)  # 7.5 s: a runaway event is cut to one long press
    assert _heard(tones, 150) == "1#9"
    assert tones.pressed == ["1", "#", "9"]


def test_events_that_are_not_keys_leave_the_caller_audio_alone() -> None:
    tones = KeyTones()
    tones.event("?", 800)  # aiortp's name for flash (16) and other non-key events
    caller = np.arange(FRAME_SAMPLES, dtype=np.int16)
    assert np.array_equal(tones.over(caller), caller)
    assert tones.pressed == []


def _pcm(value: int, frames: float) -> bytes:
    return np.full(round(frames * FRAME_SAMPLES), value, dtype="<i2").tobytes()


def test_caller_audio_comes_out_in_order_with_silence_for_what_has_not_arrived() -> None:
    audio = CallerAudio()
    audio.arrived(_pcm(7, 1.5))
    assert np.all(audio.take() == 7)
    half = audio.take()
    assert np.all(half[: FRAME_SAMPLES // 2] == 7) and np.all(half[FRAME_SAMPLES // 2 :] == 0)
    assert np.all(audio.take() == 0)


def test_a_backlog_of_caller_audio_is_cut_to_the_newest_frames() -> None:
    audio = CallerAudio()
    audio.arrived(_pcm(1, 5))
    audio.arrived(_pcm(2, MAX_BUFFERED_FRAMES))
    heard = [int(audio.take()[0]) for _ in range(MAX_BUFFERED_FRAMES + 1)]
    assert heard == [2] * MAX_BUFFERED_FRAMES + [0]
