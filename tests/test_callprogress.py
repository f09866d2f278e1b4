"""Call-progress tones and SIT: generated as the network plays them, heard through μ-law and
noise, told apart at the edges of their cadence windows, and never heard in real prompts or
hold music."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from shopper.audio.callprogress import (
    NORTH_AMERICA,
    TONE_KINDS,
    ToneDetector,
    ToneError,
    ToneEvent,
    ToneKind,
    ToneStep,
    call_progress_tone,
    detect_tones,
    synthesize,
)
from shopper.audio.files import read_audio
from shopper.audio.frame import AudioFrame, Samples, as_pcm16, split_frames
from shopper.audio.g711 import ulaw_round_trip
from shopper.bench.corpus import prompt_files
from shopper.sandbox.sounds import PROMPTS_DIR, moh_files

RATE = 8000
LEAD_S = 0.7
TOLERANCE = round(0.050 * RATE)
"""Start and end must be within 50 ms of the truth."""

DURATIONS_S: dict[ToneKind, float] = {"dial": 3.0, "ringback": 12.5, "busy": 3.0, "reorder": 2.0}


def _expected_span(kind: ToneKind, duration_s: float) -> tuple[int, int]:
    """Where the heard pattern ends: the last complete burst (a cut one is no burst)."""
    cadence = NORTH_AMERICA.cadence(kind)
    if cadence is None:
        variant = NORTH_AMERICA.sit(kind)
        assert variant is not None
        return 0, round(sum(seconds for _, seconds in variant.segments) * RATE)
    if cadence.off_s == 0:
        return 0, round(duration_s * RATE)
    period = cadence.on_s + cadence.off_s
    full_bursts = math.floor((duration_s + cadence.off_s) / period + 1e-9)
    return 0, round(((full_bursts - 1) * period + cadence.on_s) * RATE)


def _with_noise(samples: Samples, noise_dbfs: float | None, seed: int = 0) -> Samples:
    """Add white noise at `noise_dbfs` (full-scale sine = 0 dBFS) and pass the line's μ-law."""
    signal = samples.astype(np.float64)
    if noise_dbfs is not None:
        rms = 32767.0 * 10.0 ** (noise_dbfs / 20.0) / math.sqrt(2.0)
        signal += np.random.default_rng(seed).normal(0.0, rms, len(signal))
    return ulaw_round_trip(as_pcm16(signal))


def _padded(samples: Samples, tail_s: float = 1.0) -> Samples:
    lead = np.zeros(round(LEAD_S * RATE), dtype=np.int16)
    tail = np.zeros(round(tail_s * RATE), dtype=np.int16)
    return np.concatenate((lead, samples, tail))


def _cadence(frequencies: tuple[float, ...], on_s: float, off_s: float, bursts: int) -> Samples:
    steps = [ToneStep(frequencies, on_s), ToneStep((), off_s)] * bursts
    return _padded(synthesize(steps[:-1], -20.0))


def _kinds(events: list[ToneEvent]) -> list[str]:
    return [event.kind for event in events]


@pytest.mark.parametrize("kind", TONE_KINDS)
@pytest.mark.parametrize("level_dbfs", [-13.0, -25.0, -38.0])
@pytest.mark.parametrize("snr_db", [None, 10.0])
def test_every_kind_is_heard_with_its_span(
    kind: ToneKind, level_dbfs: float, snr_db: float | None
) -> None:
    duration_s = DURATIONS_S.get(kind, 2.0)
    tone = _padded(call_progress_tone(kind, duration_s, level_dbfs))
    noise = None if snr_db is None else level_dbfs - snr_db
    events = detect_tones(_with_noise(tone, noise, seed=TONE_KINDS.index(kind)))
    assert _kinds(events) == [kind]
    start, end = _expected_span(kind, duration_s)
    lead = round(LEAD_S * RATE)
    assert abs(events[0].start - (lead + start)) <= TOLERANCE
    assert abs(events[0].end - (lead + end)) <= TOLERANCE


@pytest.mark.parametrize("level_dbfs", [-50.0, -6.0])
def test_tones_outside_the_level_window_are_not_reported(level_dbfs: float) -> None:
    """The plan's window is -40..-9 dBm0, i.e. about -43..-12 dBFS."""
    for kind in ("busy", "sit-intercept"):
        assert detect_tones(_padded(call_progress_tone(kind, 3.0, level_dbfs))) == []


@pytest.mark.parametrize(
    ("on_s", "off_s"), [(0.40, 0.40), (0.58, 0.58), (0.40, 0.58), (0.58, 0.40), (0.5, 0.5)]
)
def test_busy_at_the_edges_of_its_window(on_s: float, off_s: float) -> None:
    events = detect_tones(_with_noise(_cadence((480.0, 620.0), on_s, off_s, 5), -50.0))
    assert _kinds(events) == ["busy"]


@pytest.mark.parametrize(
    ("on_s", "off_s"), [(0.18, 0.18), (0.30, 0.30), (0.18, 0.30), (0.30, 0.18), (0.25, 0.25)]
)
def test_reorder_at_the_edges_of_its_window(on_s: float, off_s: float) -> None:
    events = detect_tones(_with_noise(_cadence((480.0, 620.0), on_s, off_s, 8), -50.0))
    assert _kinds(events) == ["reorder"]


@pytest.mark.parametrize(
    ("on_s", "off_s"),
    [
        (0.35, 0.50),
        (0.63, 0.50),
        (0.50, 0.35),
        (0.50, 0.63),
        (0.14, 0.25),
        (0.25, 0.14),
        (0.25, 0.34),
        (0.34, 0.34),
        (0.34, 0.25),
        (1.00, 1.00),
    ],
)
def test_480_620_outside_both_windows_is_neither_busy_nor_reorder(
    on_s: float, off_s: float
) -> None:
    assert detect_tones(_with_noise(_cadence((480.0, 620.0), on_s, off_s, 8), -50.0)) == []


@pytest.mark.parametrize(
    ("on_s", "off_s"), [(1.68, 3.38), (2.32, 4.62), (1.68, 4.62), (2.32, 3.38), (2.0, 4.0)]
)
def test_ringback_at_the_edges_of_its_window(on_s: float, off_s: float) -> None:
    signal = _cadence((440.0, 480.0), on_s, off_s, 3)
    events = detect_tones(_with_noise(signal, -50.0))
    assert _kinds(events) == ["ringback"]
    lead = round(LEAD_S * RATE)
    assert abs(events[0].start - lead) <= TOLERANCE
    assert abs(events[0].end - (lead + round((3 * on_s + 2 * off_s) * RATE))) <= TOLERANCE


@pytest.mark.parametrize(("on_s", "off_s"), [(1.60, 4.0), (2.40, 4.0), (2.0, 3.30)])
def test_rings_outside_the_window_are_not_ringback(on_s: float, off_s: float) -> None:
    assert detect_tones(_with_noise(_cadence((440.0, 480.0), on_s, off_s, 3), -50.0)) == []


def test_dial_tone_needs_a_second() -> None:
    assert detect_tones(_padded(call_progress_tone("dial", 0.8))) == []
    assert _kinds(detect_tones(_padded(call_progress_tone("dial", 1.2)))) == ["dial"]


@pytest.mark.parametrize("offset", [-0.012, 0.012])
def test_pairs_off_frequency_within_tolerance_are_heard(offset: float) -> None:
    frequencies = (480.0 * (1 + offset), 620.0 * (1 + offset))
    assert _kinds(detect_tones(_cadence(frequencies, 0.5, 0.5, 4))) == ["busy"]


@pytest.mark.parametrize("offset", [-0.03, 0.03])
def test_pairs_far_off_frequency_are_not_heard(offset: float) -> None:
    frequencies = (480.0 * (1 + offset), 620.0 * (1 + offset))
    assert detect_tones(_cadence(frequencies, 0.5, 0.5, 4)) == []


def test_a_pair_with_twist_is_heard_but_half_a_pair_is_not() -> None:
    strong = synthesize([ToneStep((480.0,), 0.5), ToneStep((), 0.5)] * 4, -20.0)
    weak = synthesize([ToneStep((620.0,), 0.5), ToneStep((), 0.5)] * 4, -26.0)
    twisted = _padded(as_pcm16(strong.astype(np.float64) + weak))
    assert _kinds(detect_tones(twisted)) == ["busy"]
    assert detect_tones(_padded(strong)) == []


def test_a_single_tone_between_the_pair_is_not_ringback() -> None:
    assert detect_tones(_cadence((460.0,), 2.0, 4.0, 3)) == []


def _sit(
    code: str, duration_scale: float = 1.0, frequency_scale: float = 1.0, level_dbfs: float = -24.0
) -> Samples:
    variant = next(v for v in NORTH_AMERICA.sit_variants if v.code == code)
    steps = [
        ToneStep((frequency * frequency_scale,), seconds * duration_scale)
        for frequency, seconds in variant.segments
    ]
    return synthesize(steps, level_dbfs)


SIT_CODES = [variant.code for variant in NORTH_AMERICA.sit_variants]
SIT_KINDS = {variant.code: variant.kind for variant in NORTH_AMERICA.sit_variants}


def test_the_plan_maps_inter_lata_variants_to_their_kinds() -> None:
    assert SIT_KINDS == {
        "IC": "sit-intercept",
        "VC": "sit-vacant",
        "RO": "sit-reorder",
        "NC": "sit-no-circuit",
        "IO": "sit-ineffective",
        "RO'": "sit-reorder",
        "NC'": "sit-no-circuit",
    }


@pytest.mark.parametrize("code", SIT_CODES)
@pytest.mark.parametrize("duration_scale", [0.95, 1.0, 1.05])
@pytest.mark.parametrize("frequency_scale", [0.998, 1.0, 1.002])
def test_every_sit_variant_is_classified(
    code: str, duration_scale: float, frequency_scale: float
) -> None:
    tone = _padded(_sit(code, duration_scale, frequency_scale))
    events = detect_tones(_with_noise(tone, -40.0, seed=SIT_CODES.index(code)))
    assert _kinds(events) == [SIT_KINDS[code]]
    lead = round(LEAD_S * RATE)
    length = round(len(_sit(code, duration_scale, frequency_scale)))
    assert abs(events[0].start - lead) <= TOLERANCE
    assert abs(events[0].end - (lead + length)) <= TOLERANCE


@pytest.mark.parametrize(
    ("duration_scale", "frequency_scale"), [(0.88, 1.0), (1.12, 1.0), (1.0, 0.99), (1.0, 1.01)]
)
def test_sit_outside_tolerance_is_not_classified(
    duration_scale: float, frequency_scale: float
) -> None:
    for code in ("IC", "NC"):
        assert detect_tones(_padded(_sit(code, duration_scale, frequency_scale))) == []


def test_sit_with_short_silences_between_segments_is_classified() -> None:
    variant = next(v for v in NORTH_AMERICA.sit_variants if v.code == "RO")
    steps: list[ToneStep] = []
    for frequency, seconds in variant.segments:
        steps += [ToneStep((frequency,), seconds), ToneStep((), 0.004)]
    assert _kinds(detect_tones(_padded(synthesize(steps, -24.0)))) == ["sit-reorder"]


def test_the_itu_sit_is_not_a_north_american_one() -> None:
    steps = [ToneStep((frequency,), 0.330) for frequency in (950.0, 1400.0, 1800.0)]
    assert detect_tones(_padded(synthesize(steps, -24.0))) == []


def test_sit_followed_by_a_real_announcement() -> None:
    announcement = read_audio(PROMPTS_DIR / "ss-noservice.wav")
    for code in ("IC", "VC", "NC'"):
        sit = _sit(code)
        call = _with_noise(_padded(np.concatenate((sit, announcement))), -55.0)
        events = detect_tones(call)
        assert _kinds(events) == [SIT_KINDS[code]]
        assert abs(events[0].end - (round(LEAD_S * RATE) + len(sit))) <= TOLERANCE


def _a_call() -> Samples:
    """Speech, ringing, speech, a SIT and its announcement, busy, reorder, hold music."""
    prompt = read_audio(PROMPTS_DIR / "queue-periodic-announce.wav")
    announcement = read_audio(PROMPTS_DIR / "ss-noservice.wav")
    music = read_audio(moh_files()[0])[: 6 * RATE]
    gap = np.zeros(RATE // 2, dtype=np.int16)
    parts = [
        prompt,
        call_progress_tone("ringback", 8.0, -25.0),
        gap,
        prompt,
        _sit("RO"),
        announcement,
        gap,
        call_progress_tone("busy", 3.0, -30.0),
        call_progress_tone("reorder", 2.0, -20.0),
        gap,
        music,
        call_progress_tone("dial", 1.5, -15.0),
    ]
    return _with_noise(np.concatenate(parts), -60.0)


def test_a_call_hears_each_tone_once() -> None:
    events = detect_tones(_a_call())
    assert _kinds(events) == ["ringback", "sit-reorder", "busy", "reorder", "dial"]


@pytest.mark.parametrize("frame_size", [7, 113, 160, 1001, 4097])
def test_streaming_in_any_frames_equals_the_whole_buffer(frame_size: int) -> None:
    call = _a_call()
    start = 12345
    whole = detect_tones(call, start)
    detector = ToneDetector()
    streamed: list[ToneEvent] = []
    for frame in split_frames(call, start, frame_size):
        streamed += detector.feed(frame)
    streamed += detector.finish()
    assert streamed == whole
    assert whole[0].start > start


def test_busy_is_known_to_be_going_on_before_it_ends() -> None:
    busy = call_progress_tone("busy", 10.0)
    detector = ToneDetector()
    heard: list[ToneEvent] = []
    for frame in split_frames(busy[: 2 * RATE]):
        heard += detector.feed(frame)
    assert heard == []
    assert _kinds(detector.ongoing) == ["busy"]
    assert detector.ongoing[0].start <= TOLERANCE
    for frame in split_frames(busy[2 * RATE :], 2 * RATE):
        heard += detector.feed(frame)
    heard += detector.finish()
    assert _kinds(heard) == ["busy"]
    assert abs(heard[0].end - round(9.5 * RATE)) <= TOLERANCE
    assert detector.ongoing == []


def test_frames_must_follow_each_other() -> None:
    detector = ToneDetector()
    detector.feed(AudioFrame(np.zeros(160, dtype=np.int16), 0))
    with pytest.raises(ToneError, match="expected 160"):
        detector.feed(AudioFrame(np.zeros(160, dtype=np.int16), 320))
    with pytest.raises(ToneError, match="8000 Hz"):
        ToneDetector().feed(AudioFrame(np.zeros(160, dtype=np.int16), 0, 16000))


def test_bad_tone_requests_give_one_line_errors() -> None:
    with pytest.raises(ToneError, match="unknown tone kind 'howler'"):
        call_progress_tone("howler", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ToneError, match="at least"):
        call_progress_tone("sit-vacant", 0.5)
    with pytest.raises(ToneError, match="positive"):
        call_progress_tone("busy", -1.0)


def test_generated_levels_are_what_was_asked() -> None:
    """The level is the whole tone's: -13 dBFS of busy is two sines of -16 dBFS each."""
    busy = call_progress_tone("busy", 0.5, -13.0).astype(np.float64)
    rms_dbfs = 20 * math.log10(np.sqrt(np.mean(busy**2)) / (32767 / math.sqrt(2)))
    assert rms_dbfs == pytest.approx(-13.0, abs=0.05)


@pytest.mark.slow
def test_no_tone_in_any_asterisk_prompt_or_hold_music() -> None:
    """The whole corpus, as a caller hears it through μ-law. None of the prompts is itself a
    call-progress tone or SIT (beep, beeperr and the 2-tone prompts are single beeps)."""
    heard: dict[Path, list[ToneEvent]] = {}
    for path in [*prompt_files(), *moh_files()]:
        events = detect_tones(ulaw_round_trip(read_audio(path)))
        if events:
            heard[path] = events
    assert heard == {}
