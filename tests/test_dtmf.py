"""The DTMF receiver must hear every key a caller could press and nothing an IVR says or plays.

Every signal goes through a μ-law round trip first, as it would on a PCMU call; the talk-off
test runs over every recorded Asterisk prompt and every hold-music file.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from shopper.audio.dtmf import (
    DTMF_KEYS,
    DtmfDetector,
    DtmfDigit,
    detect_dtmf,
    dtmf_sequence,
    dtmf_tone,
)
from shopper.audio.files import read_audio
from shopper.audio.frame import TELEPHONY_RATE, Samples, silence, split_frames
from shopper.audio.g711 import ulaw_round_trip
from shopper.bench.corpus import prompt_files
from shopper.sandbox.sounds import PROMPTS_DIR, moh_files

TIMING_TOLERANCE = 80
"""10 ms, in samples."""


def _on_call(*parts: Samples) -> Samples:
    return ulaw_round_trip(np.concatenate(parts))


def _add(base: NDArray[np.int16], extra: NDArray[np.int16 | np.float64], at: int) -> Samples:
    mixed = base.astype(np.float64)
    mixed[at : at + len(extra)] += extra
    return np.clip(np.rint(mixed), -32768, 32767).astype(np.int16)


def _digits(samples: Samples) -> str:
    return "".join(digit.digit for digit in detect_dtmf(samples))


def _each_key_alone(**tone_options: float) -> str:
    """The keys heard when each one is sent by itself, '.' where nothing was heard."""
    heard = []
    for key in DTMF_KEYS:
        tone = dtmf_tone(key, **tone_options)
        heard.append(_digits(_on_call(silence(0.1), tone, silence(0.1))) or ".")
    return "".join(heard)


def _assert_timed(found: list[DtmfDigit], keys: str, starts: list[int], tone: int) -> None:
    assert "".join(d.digit for d in found) == keys
    for digit, start in zip(found, starts, strict=True):
        assert abs(digit.start - start) <= TIMING_TOLERANCE, (digit, start)
        assert abs(digit.end - (start + tone)) <= TIMING_TOLERANCE, (digit, start + tone)


@pytest.mark.parametrize("level_dbfs", [-7.0, -15.0, -25.0, -30.0])
def test_all_keys_at_40_ms_on_40_ms_off_are_heard_in_order_and_on_time(level_dbfs: float) -> None:
    lead = 1234
    call = _on_call(
        silence(lead / TELEPHONY_RATE),
        dtmf_sequence(DTMF_KEYS, tone_s=0.04, gap_s=0.04, level_dbfs=level_dbfs),
        silence(0.2),
    )
    starts = [lead + i * 640 for i in range(len(DTMF_KEYS))]
    _assert_timed(detect_dtmf(call), DTMF_KEYS, starts, 320)


def test_positions_count_from_the_start_of_the_call() -> None:
    call = _on_call(silence(0.1), dtmf_tone("7", 0.05), silence(0.1))
    (here,) = detect_dtmf(call)
    (later,) = detect_dtmf(call, start=80_000)
    assert (later.start - here.start, later.end - here.end) == (80_000, 80_000)
    assert later.digit == "7"


@pytest.mark.parametrize("deviation", [-0.015, 0.015])
def test_frequency_error_of_1_5_percent_is_accepted(deviation: float) -> None:
    assert _each_key_alone(duration_s=0.05, deviation=deviation) == DTMF_KEYS


@pytest.mark.parametrize("deviation", [-0.035, 0.035, -0.05, 0.05])
def test_frequency_error_of_3_5_percent_or_more_is_rejected(deviation: float) -> None:
    assert _each_key_alone(duration_s=0.1, deviation=deviation) == "." * 16


def test_tones_of_40_ms_are_accepted() -> None:
    assert _each_key_alone(duration_s=0.04) == DTMF_KEYS


@pytest.mark.parametrize("duration_s", [0.01, 0.02, 0.022])
def test_tones_shorter_than_23_ms_are_rejected(duration_s: float) -> None:
    assert _each_key_alone(duration_s=duration_s) == "." * 16


@pytest.mark.parametrize(
    "twist_db,deviation", [(8.0, 0.0), (-4.0, 0.0), (8.0, 0.015), (-4.0, -0.015)]
)
def test_normal_twist_of_8_db_and_reverse_twist_of_4_db_are_accepted(
    twist_db: float, deviation: float
) -> None:
    heard = _each_key_alone(
        duration_s=0.04, level_dbfs=-12.0, twist_db=twist_db, deviation=deviation
    )
    assert heard == DTMF_KEYS


@pytest.mark.parametrize("twist_db", [11.0, -7.0])
def test_twist_well_beyond_the_limits_is_rejected(twist_db: float) -> None:
    assert _each_key_alone(duration_s=0.1, level_dbfs=-12.0, twist_db=twist_db) == "." * 16


def test_tones_below_the_minimum_level_are_ignored() -> None:
    assert _each_key_alone(duration_s=0.1, level_dbfs=-45.0) == "." * 16


def test_keys_are_heard_in_white_noise_at_15_db_snr() -> None:
    rng = np.random.default_rng(7)
    keys = DTMF_KEYS * 3
    level_dbfs = -15.0
    clean = np.concatenate(
        [silence(0.1), dtmf_sequence(keys, 0.04, 0.04, level_dbfs), silence(0.1)]
    )
    tone_power = (32767 * 10 ** (level_dbfs / 20)) ** 2  # two tones of A²/2 each
    noise = rng.standard_normal(len(clean)) * np.sqrt(tone_power / 10 ** (15 / 10))
    call = ulaw_round_trip(_add(clean, noise, 0))
    starts = [800 + i * 640 for i in range(len(keys))]
    _assert_timed(detect_dtmf(call), keys, starts, 320)


def test_keys_pressed_over_a_real_prompt_are_heard_on_time() -> None:
    """Barge-in: keys at -9 dBFS per tone over the main IVR menu at a received-speech level
    (the Asterisk prompts are mastered hot; 6 dB down puts speech near -26 dBFS median)."""
    prompt = read_audio(PROMPTS_DIR / "basic-pbx-ivr-main.wav")
    quieter = (prompt.astype(np.float64) * 10 ** (-6 / 20)).astype(np.int16)
    keys = (DTMF_KEYS * 4)[:40]
    press = dtmf_sequence(keys, tone_s=0.04, gap_s=0.21)
    assert len(press) + 800 < len(quieter)
    call = ulaw_round_trip(_add(quieter, press, 800))
    starts = [800 + i * 2000 for i in range(len(keys))]
    _assert_timed(detect_dtmf(call), keys, starts, 320)


def test_an_interruption_of_10_ms_does_not_split_a_digit() -> None:
    call = _on_call(
        silence(0.1), dtmf_tone("5", 0.05), silence(0.01), dtmf_tone("5", 0.05), silence(0.1)
    )
    assert _digits(call) == "5"


def test_a_pause_of_40_ms_separates_two_presses_of_one_key() -> None:
    call = _on_call(silence(0.1), dtmf_sequence("555", 0.04, 0.04), silence(0.1))
    assert _digits(call) == "555"


@pytest.mark.parametrize("frame_samples", [1, 37, 160, 999])
def test_streaming_in_any_frame_size_gives_the_whole_buffer_result(frame_samples: int) -> None:
    moh = read_audio(moh_files()[0])[: 4 * TELEPHONY_RATE]
    call = ulaw_round_trip(_add(moh // 4, dtmf_sequence("19#D0", 0.05, 0.06), 12_000))
    whole = detect_dtmf(call, start=555)
    assert "".join(d.digit for d in whole) == "19#D0"
    detector = DtmfDetector()
    streamed: list[DtmfDigit] = []
    for frame in split_frames(call, start=555, size=frame_samples):
        streamed += detector.feed(frame)
    assert streamed + detector.finish() == whole


def test_each_digit_is_reported_once_and_only_after_its_tone_ended() -> None:
    call = _on_call(silence(0.2), dtmf_sequence("42", 0.08, 0.1), silence(0.5))
    detector = DtmfDetector()
    for frame in split_frames(call):
        for digit in detector.feed(frame):
            assert digit.end <= frame.end
    assert detector.finish() == []


def test_finish_reports_a_tone_still_sounding_when_the_call_ends() -> None:
    call = _on_call(silence(0.1), dtmf_tone("#", 0.08))
    detector = DtmfDetector()
    early = [d for frame in split_frames(call) for d in detector.feed(frame)]
    assert early == []
    assert [d.digit for d in detector.finish()] == ["#"]


def test_frames_must_follow_each_other() -> None:
    detector = DtmfDetector()
    detector.feed(next(split_frames(silence(0.02), start=0)))
    with pytest.raises(ValueError, match="expected 160"):
        detector.feed(next(split_frames(silence(0.02), start=400)))


@pytest.mark.parametrize("bad", ["E", "a", "12", "", " "])
def test_an_unknown_key_is_a_one_line_value_error_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match=f"{bad!r} is not a DTMF key; keys are 1 2 3 A"):
        dtmf_tone(bad)


def test_a_sequence_with_an_unknown_key_is_refused() -> None:
    with pytest.raises(ValueError, match="'x' is not a DTMF key"):
        dtmf_sequence("12x4")


def test_a_level_that_would_clip_is_refused() -> None:
    with pytest.raises(ValueError, match="would clip"):
        dtmf_tone("1", level_dbfs=-3.0)


def test_generated_tone_has_the_asked_level_and_twist() -> None:
    tone = dtmf_tone("9", 1.0, level_dbfs=-12.0, twist_db=4.0).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(tone)) * 2 / len(tone)  # 1 Hz bins: amplitude per tone
    low, high = spectrum[852], spectrum[1477]
    assert 20 * np.log10(low / 32767) == pytest.approx(-10.0, abs=0.05)
    assert 20 * np.log10(high / 32767) == pytest.approx(-14.0, abs=0.05)


def test_no_prompt_or_hold_music_reads_as_a_key_press() -> None:
    """Talk-off over the whole corpus: 568 prompts and 5 hold-music files, none of which holds
    real DTMF (the beep files are single tones near 700 Hz or 440/880 Hz)."""
    false_digits = {}
    for path in prompt_files() + moh_files():
        found = detect_dtmf(ulaw_round_trip(read_audio(path)))
        if found:
            false_digits[path.name] = [(d.digit, round(d.start_s, 2)) for d in found]
    assert false_digits == {}
