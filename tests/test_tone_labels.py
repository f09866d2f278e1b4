"""The DTMF and call-progress receivers' detections override the sound classifier's labels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from shopper.audio.callprogress import ToneKind, call_progress_tone
from shopper.audio.classifier import SoundClassifier
from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.files import read_audio
from shopper.audio.frame import TELEPHONY_RATE, Samples, silence, split_frames
from shopper.audio.g711 import ulaw_round_trip
from shopper.audio.segments import Segment, Span
from shopper.audio.tone_labels import Claim, Receivers, relabel
from shopper.sandbox.sounds import moh_files

pytestmark = pytest.mark.slow

TOLERANCE_S = 0.1


def heard(samples: Samples) -> list[Segment]:
    """Segments as the call engine's ear reports them, streamed in 20 ms frames."""
    classifier, receivers = SoundClassifier(), Receivers()
    segments: list[Segment] = []
    for frame in split_frames(samples):
        segments += receivers.feed(frame, classifier.feed(frame)).segments
    return segments + receivers.finish(classifier.finish()).segments


def music(name: str, from_s: float, seconds: float = 6.0) -> Samples:
    (path,) = [path for path in moh_files() if path.name.startswith(name)]
    start = round(from_s * TELEPHONY_RATE)
    return read_audio(path)[start : start + round(seconds * TELEPHONY_RATE)]


@pytest.mark.parametrize(
    "name,from_s,kind",
    [
        ("macroform-cold_day", 125.0, "busy"),
        ("macroform-cold_day", 194.0, "ringback"),
        ("manolo_camp-morning_coffee", 56.0, "sit-intercept"),
        ("reno_project-system", 79.0, "ringback"),
        ("macroform-robot_dity", 33.0, "reorder"),
    ],
)
def test_a_tone_straight_after_hold_music_is_tone_from_its_first_sample(
    name: str, from_s: float, kind: ToneKind
) -> None:
    hold = music(name, from_s)
    tone = call_progress_tone(kind, 4.0)
    segments = heard(ulaw_round_trip(np.concatenate([hold, tone])))

    starts = len(hold)
    assert segments[0].start == 0 and segments[-1].end == starts + len(tone)
    assert all(a.end == b.start for a, b in itertools.pairwise(segments))
    first_tone = next(s for s in segments if s.kind == "tone")
    assert abs(first_tone.start - starts) / TELEPHONY_RATE <= TOLERANCE_S, segments
    # Before the tone the music is music; from the tone on nothing is music any more.
    assert all(s.kind != "music" for s in segments if s.end > starts + TOLERANCE_S * 8000)
    music_time = sum(min(s.end, starts) - s.start for s in segments if s.kind == "music")
    assert music_time >= 0.9 * starts


def test_keys_after_music_are_tone() -> None:
    hold = music("macroform-the_simplicity", 40.0, 4.0)
    keys = dtmf_sequence("5", 0.2, 0.1)
    segments = heard(ulaw_round_trip(np.concatenate([hold, keys, silence(1.0)])))
    key = next(s for s in segments if s.kind == "tone")
    assert abs(key.start - len(hold)) / TELEPHONY_RATE <= TOLERANCE_S, segments


def test_relabel_marks_bursts_tone_and_the_music_between_them_silence() -> None:
    second = TELEPHONY_RATE
    classifier = [Segment(0, 3 * second, "music"), Segment(3 * second, 4 * second, "silence")]
    busy = Claim(
        Span(second, 2 * second + second // 2),
        (Span(second, second + second // 2), Span(2 * second, 2 * second + second // 2)),
    )
    assert relabel(classifier, [busy]) == [
        Segment(0, second, "music"),
        Segment(second, second + second // 2, "tone"),
        Segment(second + second // 2, 2 * second, "silence"),
        Segment(2 * second, 2 * second + second // 2, "tone"),
        Segment(2 * second + second // 2, 3 * second, "music"),
        Segment(3 * second, 4 * second, "silence"),
    ]


def test_a_beep_no_receiver_claims_is_reported_without_waiting_for_what_follows() -> None:
    """A voicemail beep then the silence of the recording: whoever waits for the beep (the
    crawler's voicemail check) hears of it while the silence goes on, not at its end."""
    t = np.arange(round(0.5 * TELEPHONY_RATE)) / TELEPHONY_RATE
    beep = (8000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    audio = ulaw_round_trip(np.concatenate([silence(1.0), beep, silence(10.0)]))
    classifier, receivers = SoundClassifier(), Receivers()
    known_at = None
    for frame in split_frames(audio):
        for segment in receivers.feed(frame, classifier.feed(frame)).segments:
            if segment.kind == "tone" and known_at is None:
                known_at = frame.end
    beep_end = round(1.5 * TELEPHONY_RATE)
    assert known_at is not None and (known_at - beep_end) / TELEPHONY_RATE < 1.5
