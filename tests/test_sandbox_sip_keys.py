"""RFC 4733 key events regenerated as tones (shopper.sandbox.sip.keys): the simulated phone
system's own in-band receiver must hear each key once, whatever the event's duration."""

from __future__ import annotations

import numpy as np

from shopper.audio.dtmf import detect_dtmf
from shopper.audio.frame import FRAME_SAMPLES
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
