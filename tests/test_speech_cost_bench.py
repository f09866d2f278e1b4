"""How `shopper bench speech` attributes what was read: to the sound the truth says played over
most of a stretch, and audio read twice when stretches overlap. (The benchmark itself runs a
whole call and is not a test.)"""

from __future__ import annotations

from shopper.audio.frame import TELEPHONY_RATE
from shopper.audio.segments import Span
from shopper.bench.speech_cost_bench import NO_SOUND, read_twice_s, sound_role


def span(start_s: float, end_s: float) -> Span:
    return Span(round(start_s * TELEPHONY_RATE), round(end_s * TELEPHONY_RATE))


SOUNDS = [
    {"role": "prompt", "start_s": 4.0, "end_s": 9.0},
    {"role": "music", "start_s": 9.0, "end_s": 20.0},
    {"role": "announcement", "start_s": 20.0, "end_s": 26.0},
    {"role": "music", "start_s": 26.0, "end_s": 40.0},
]


def test_a_stretch_belongs_to_the_sound_over_most_of_it() -> None:
    assert sound_role(span(8.0, 12.0), SOUNDS) == "music"
    assert sound_role(span(5.0, 9.5), SOUNDS) == "prompt"
    assert sound_role(span(19.0, 27.0), SOUNDS) == "announcement"
    assert sound_role(span(0.5, 3.5), SOUNDS) == NO_SOUND


def test_only_overlapping_stretches_count_as_read_twice() -> None:
    assert read_twice_s([span(1.0, 3.0), span(4.0, 6.0)]) == 0.0
    assert read_twice_s([span(4.0, 6.0), span(1.0, 5.0)]) == 1.0
    assert read_twice_s([span(1.0, 9.0), span(2.0, 3.0), span(4.0, 5.0)]) == 2.0
