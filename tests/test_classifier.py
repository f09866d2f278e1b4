"""The sound classifier on real prompts and hold music (held-out material only), through μ-law."""

from __future__ import annotations

import asyncio
import functools
import itertools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from shopper.audio.callprogress import ToneKind, call_progress_tone
from shopper.audio.classifier import (
    SoundClassifier,
    classify,
    steady_tonal_frames,
    tone_frames,
)
from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.features import frame_features, windows_of
from shopper.audio.files import read_audio
from shopper.audio.frame import (
    TELEPHONY_RATE,
    AudioFrame,
    Samples,
    as_pcm16,
    silence,
    split_frames,
)
from shopper.audio.g711 import ulaw_round_trip
from shopper.audio.segments import SOUND_KINDS, Segment, SoundKind
from shopper.bench.classifier_bench import (
    HELD_OUT_MOH_SHARE,
    HELD_OUT_VOICES,
    IVR_SENTENCES,
    TTS_SPEEDS,
    is_held_out,
    is_held_out_sentence,
    run_classifier_bench,
)
from shopper.bench.corpus import prompt_transcripts
from shopper.carriers.sandbox import dial_sandbox
from shopper.sandbox.loader import load_ivr
from shopper.sandbox.sounds import moh_files
from shopper.sandbox.truth import SoundPlayed
from shopper.tts import synthesize

RATE = TELEPHONY_RATE


def _trimmed(samples: Samples) -> Samples:
    """The prompt from its first to its last 20 ms above -45 dBFS (files carry lead-in silence)."""
    count = len(samples) // 160
    blocks = samples[: count * 160].astype(np.float64).reshape(count, 160)
    loud = np.flatnonzero(10 * np.log10(np.mean(blocks**2, axis=1) / 32768.0**2 + 1e-30) > -45)
    return samples[loud[0] * 160 : (loud[-1] + 1) * 160]


@functools.cache
def _held_out_prompts() -> list[Path]:
    return [path for path in prompt_transcripts() if is_held_out(path)]


def _prompt(index: int) -> Samples:
    """A held-out prompt of at least 1.5 s of speech, chosen by position for repeatability."""
    long_ones = [p for p in _held_out_prompts() if len(read_audio(p)) > 2.0 * RATE]
    return _trimmed(read_audio(long_ones[index * 7 % len(long_ones)]))


def _music(file_index: int, seconds: float) -> Samples:
    """An excerpt from the held-out (last) part of a hold-music file."""
    audio = read_audio(moh_files()[file_index])
    start = int(len(audio) * (1.0 - HELD_OUT_MOH_SHARE * 0.8))
    return audio[start : start + round(seconds * RATE)]


def _noise(seconds: float, level_dbfs: float, seed: int) -> Samples:
    rng = np.random.default_rng(seed)
    return as_pcm16(rng.standard_normal(round(seconds * RATE)) * 32768 * 10 ** (level_dbfs / 20))


def _seconds_of(segments: list[Segment], kind: SoundKind) -> float:
    return sum(s.duration_s for s in segments if s.kind == kind)


def _through_line(*parts: Samples) -> Samples:
    return ulaw_round_trip(np.concatenate(parts))


@pytest.mark.parametrize("index", range(4))
def test_recorded_prompts_are_speech(index: int) -> None:
    segments = classify(_through_line(silence(0.5), _prompt(index), silence(0.5)))
    total = sum(s.duration_s for s in segments)
    speech = _seconds_of(segments, "speech")
    assert _seconds_of(segments, "music") + _seconds_of(segments, "tone") < 0.05 * total
    assert speech > 0.8 * (total - 1.0)


@pytest.mark.parametrize("voice", HELD_OUT_VOICES)
def test_synthetic_prompts_in_held_out_voices_are_speech(
    voice: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("SHOPPER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    sentences = [text for text in IVR_SENTENCES if is_held_out_sentence(text)][:6]
    for speed, text in zip(itertools.cycle(TTS_SPEEDS[::2]), sentences, strict=False):
        segments = classify(_through_line(silence(0.5), synthesize(text, voice, speed)))
        assert _seconds_of(segments, "music") < 0.5, (speed, text)
        assert _seconds_of(segments, "tone") == 0.0, (speed, text)


@pytest.mark.parametrize("file_index", [0, 2, 4])
def test_hold_music_is_music(file_index: int) -> None:
    segments = classify(_through_line(_music(file_index, 12.0)))
    assert _seconds_of(segments, "music") >= 0.95 * 12.0


@pytest.mark.parametrize(
    "audio",
    [
        silence(3.0),
        _noise(3.0, -65.0, 1),
        _noise(3.0, -50.0, 2),
    ],
    ids=["digital", "comfort-noise", "line-noise"],
)
def test_silence_and_low_noise_are_one_silence_segment(audio: Samples) -> None:
    segments = classify(_through_line(audio), start=800)
    assert segments == [Segment(800, 800 + len(audio), "silence")]


@pytest.mark.parametrize(
    "audio",
    [
        dtmf_sequence("1234567890", tone_s=0.1, gap_s=0.1, level_dbfs=-15.0),
        call_progress_tone("dial", 3.0),
        call_progress_tone("reorder", 2.0),
    ],
    ids=["dtmf", "dial", "reorder"],
)
def test_keypad_and_network_tones_are_tone(audio: Samples) -> None:
    segments = classify(_through_line(silence(0.5), audio, silence(0.5)))
    sounding_s = (np.flatnonzero(audio)[-1] + 1) / RATE
    assert _seconds_of(segments, "tone") >= sounding_s - 0.1
    assert _seconds_of(segments, "speech") + _seconds_of(segments, "music") == 0.0


def test_held_notes_in_hold_music_are_mostly_not_tone_frames() -> None:
    """Hold music has steady tonal stretches (held and pulsed notes); few of them switch on
    out of silence and keep their level as a generated tone does."""
    steady = 0
    tones = 0
    for path in moh_files():
        frames, _ = frame_features(windows_of(ulaw_round_trip(read_audio(path)).astype(float)))
        steady += int(np.sum(steady_tonal_frames(frames)))
        tones += int(np.sum(tone_frames(frames)))
    assert steady > 200
    assert tones < 0.35 * steady


@pytest.mark.parametrize("kind", ["dial", "ringback", "busy", "sit-intercept"])
def test_generated_tones_keep_every_steady_frame(kind: ToneKind) -> None:
    audio = _through_line(silence(0.5), call_progress_tone(kind, 3.0), _noise(0.5, -65.0, 4))
    frames, _ = frame_features(windows_of(audio.astype(float)))
    steady = steady_tonal_frames(frames)
    assert np.sum(steady) > 20
    assert np.array_equal(tone_frames(frames), steady)


def test_mixture_changes_kind_at_the_right_times() -> None:
    prompt = _prompt(1)
    parts = [prompt, silence(2.0), _music(1, 6.0), call_progress_tone("dial", 2.0)]
    boundaries = np.cumsum([len(part) for part in parts]) / RATE
    segments = classify(_through_line(*parts))
    lasting = [s for s in segments if s.duration_s > 0.3]
    assert [s.kind for s in lasting] == ["speech", "silence", "music", "tone"]
    for segment, expected_end in zip(lasting[:-1], boundaries[:-1], strict=True):
        assert segment.end_s == pytest.approx(expected_end, abs=0.3)


def test_short_pauses_stay_speech_and_long_ones_become_silence() -> None:
    first, second = _prompt(2), _prompt(3)
    for gap_s, silent in ((0.2, False), (2.0, True)):
        audio = _through_line(first, silence(gap_s), second)
        gap_middle = round(len(first) + gap_s * RATE / 2)
        segments = classify(audio)
        around_gap = next(s for s in segments if s.start <= gap_middle < s.end)
        assert around_gap.kind == ("silence" if silent else "speech")
        if silent:
            assert around_gap.duration_s == pytest.approx(gap_s, abs=0.25)


def _stream(audio: Samples, start: int, sizes: list[int]) -> list[Segment]:
    classifier = SoundClassifier()
    segments: list[Segment] = []
    offset = 0
    step = 0
    while offset < len(audio):
        size = sizes[step % len(sizes)]
        segments.extend(classifier.feed(AudioFrame(audio[offset : offset + size], start + offset)))
        offset += size
        step += 1
    return segments + classifier.finish()


def _varied_mixture() -> Samples:
    return _through_line(
        _prompt(0),
        silence(0.25),
        _prompt(5),
        _noise(1.0, -55.0, 3),
        _music(3, 4.0),
        dtmf_sequence("159#", level_dbfs=-12.0),
        silence(0.7),
    )


def test_streaming_in_odd_frame_sizes_equals_the_whole_buffer() -> None:
    audio = _varied_mixture()
    whole = classify(audio, start=4321)
    assert _stream(audio, 4321, [37, 160, 1001, 3, 480]) == whole
    assert _stream(audio, 4321, [160]) == whole


def test_segments_tile_the_audio() -> None:
    audio = _varied_mixture()
    segments = classify(audio, start=12345)
    assert segments[0].start == 12345
    assert segments[-1].end == 12345 + len(audio)
    for before, after in itertools.pairwise(segments):
        assert before.end == after.start
        assert before.kind != after.kind
    assert all(s.end > s.start for s in segments)


def test_current_follows_the_newest_frame() -> None:
    classifier = SoundClassifier()
    assert classifier.current is None
    classifier.feed(AudioFrame(ulaw_round_trip(_prompt(0)), 0))
    classifier.feed(AudioFrame(silence(0.1), len(_prompt(0))))
    assert classifier.current == "silence"
    tone = ulaw_round_trip(call_progress_tone("dial", 0.3))
    classifier.feed(AudioFrame(tone, len(_prompt(0)) + 800))
    assert classifier.current == "tone"


def test_blocks_tell_when_and_what_frame_by_frame_feeding_would_have_told() -> None:
    """`known_at` and `kind_after` give a block-fed classifier's caller what a 20 ms
    frame-fed one would have said after each frame, segment for segment and label for label."""
    audio = np.concatenate([_varied_mixture(), _through_line(call_progress_tone("busy", 2.0))])
    start = 4321
    by_frame = SoundClassifier()
    told: list[tuple[Segment, int]] = []
    currents: list[SoundKind | None] = []
    for frame in split_frames(audio, start):
        told += [(segment, frame.end) for segment in by_frame.feed(frame)]
        currents.append(by_frame.current)
    told += [(segment, start + len(audio)) for segment in by_frame.finish()]
    assert len(told) > 5 and {"speech", "music", "tone", "silence"} <= set(currents)

    by_block = SoundClassifier()
    told_in_blocks: list[tuple[Segment, int]] = []
    kinds: list[SoundKind | None] = []
    for block in split_frames(audio, start, size=800):
        told_in_blocks += list(zip(by_block.feed(block), by_block.known_at, strict=True))
        ends = range(block.start + 160, block.end + 1, 160)
        kinds += [by_block.kind_after(end) for end in ends]
    told_in_blocks += list(zip(by_block.finish(), by_block.known_at, strict=True))
    assert told_in_blocks == told
    assert kinds == currents[: len(kinds)] and len(kinds) == len(audio) // 160


def test_a_stream_that_ends_in_a_tone_has_no_current_label_once_finished() -> None:
    """A call hung up during a steady tone (or a steady note of hold music) asked for the
    current label after the end: the padded last frames had already been followed by the
    tone tracker, and the look-ahead found no frame left (IndexError)."""
    classifier = SoundClassifier()
    for frame in split_frames(_through_line(call_progress_tone("dial", 2.0)), 0):
        classifier.feed(frame)
    assert classifier.current == "tone"
    classifier.finish()
    assert classifier.current is None
    assert classifier.ongoing is None


def test_frames_must_be_contiguous() -> None:
    classifier = SoundClassifier()
    classifier.feed(AudioFrame(silence(0.02), 0))
    with pytest.raises(ValueError, match="expected 160"):
        classifier.feed(AudioFrame(silence(0.02), 200))
    classifier.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        classifier.feed(AudioFrame(silence(0.02), 160))


def test_empty_input_gives_no_segments() -> None:
    assert classify(np.zeros(0, dtype=np.int16)) == []


def test_a_benchmark_sized_sample_scores_at_least_97_percent() -> None:
    report = run_classifier_bench(seed=7, mixtures=2, seconds=45.0)
    assert report.seconds > 85.0
    assert report.accuracy >= 0.97, report.render()


TTS_ROLES = {"prompt", "invalid", "no-input", "callback-offer", "greeting", "reply"}
"""Sounds the simulated phone system speaks with espeak-ng (announcements are recordings)."""
ROLE_KINDS: dict[str, SoundKind] = {
    **dict.fromkeys(TTS_ROLES, "speech"),
    "announcement": "speech",
    "music": "music",
}
COLLAR_S = 0.3


@dataclass(frozen=True)
class _SandboxCall:
    far: Samples
    sounds: list[SoundPlayed]
    segments: list[Segment]


async def _acme_call() -> tuple[Samples, list[SoundPlayed]]:
    """Acme Bank in opening hours: menu, "0" once the menu has been read, hold, the agent.

    The caller only ever sends silence and the one key press, so the far channel is exactly
    what the phone system played (over its line noise).
    """
    definition = load_ivr(Path(__file__).parents[1] / "scripts" / "acme" / "ivr.yaml")
    call, phone = dial_sandbox(definition, now=datetime(2026, 11, 24, 10, 0))
    far: list[Samples] = []
    pressed = False
    async for frame in call.frames():
        far.append(frame.far.samples)
        prompts = [s for s in phone.truth.sounds if s.role == "prompt"]
        if not pressed and prompts and prompts[0].end is not None:
            await call.send_dtmf("0")
            pressed = True
        first_spoke = phone.truth.agent_first_spoke
        if first_spoke is not None and frame.far.end >= first_spoke + 7 * RATE:
            await call.hangup()
    return np.concatenate(far), list(phone.truth.sounds)


@functools.cache
def _sandbox_call() -> _SandboxCall:
    far, sounds = asyncio.run(_acme_call())
    segments: list[Segment] = []
    classifier = SoundClassifier()
    for frame in split_frames(far):
        segments.extend(classifier.feed(frame))
    segments.extend(classifier.finish())
    return _SandboxCall(far, sounds, segments)


@pytest.fixture
def sandbox_call(tmp_path_factory: pytest.TempPathFactory) -> _SandboxCall:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPPER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        return _sandbox_call()


def _sandbox_truth(call: _SandboxCall) -> NDArray[np.int8]:
    """Per 20 ms frame, the kind the truth implies (-1: no verdict, e.g. ringback).

    Pauses are judged by the classifier's own rules: a quiet stretch of 360 ms inside
    speech, or of a second inside music (the gaps between hold-music tracks), is silence.
    """
    frames = len(call.far) // 160
    truth = np.full(frames, -1, dtype=np.int8)
    for sound in call.sounds:
        kind = ROLE_KINDS.get(sound.role)
        if kind is not None and sound.end is not None:
            truth[sound.start // 160 : sound.end // 160] = SOUND_KINDS.index(kind)
    blocks = call.far[: frames * 160].astype(np.float64).reshape(frames, 160)
    quiet = 10 * np.log10(np.mean(blocks**2, axis=1) / 32768.0**2 + 1e-30) <= -45.0
    change = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    for start, end in change.reshape(-1, 2).tolist():
        around = truth[start - 1] if start > 0 else -1
        longest = 50 if around == SOUND_KINDS.index("music") else 18
        if end - start >= longest:
            truth[start:end] = SOUND_KINDS.index("silence")
    return truth


def _frame_labels(segments: list[Segment], frames: int) -> NDArray[np.int8]:
    labels = np.full(frames, -1, dtype=np.int8)
    for segment in segments:
        labels[segment.start // 160 : segment.end // 160] = SOUND_KINDS.index(segment.kind)
    return labels


def _overlap_s(segment: Segment, sound: SoundPlayed) -> float:
    assert sound.end is not None
    return max(0, min(segment.end, sound.end) - max(segment.start, sound.start)) / RATE


def test_a_sandbox_call_is_labelled_as_its_truth(sandbox_call: _SandboxCall) -> None:
    truth = _sandbox_truth(sandbox_call)
    labels = _frame_labels(sandbox_call.segments, len(truth))
    judged = np.isin(truth, [SOUND_KINDS.index("speech"), SOUND_KINDS.index("music")])
    collar = round(COLLAR_S * RATE / 160)
    for boundary in np.flatnonzero(np.diff(truth)) + 1:
        judged[max(0, boundary - collar) : boundary + collar] = False
    assert np.sum(judged) > 40 * 50, "the call holds prompts, hold music and an agent"
    agreement = float(np.mean(labels[judged] == truth[judged]))
    assert agreement >= 0.95


def test_synthetic_prompts_in_a_sandbox_call_are_never_music(sandbox_call: _SandboxCall) -> None:
    spoken = [sound for sound in sandbox_call.sounds if sound.role in TTS_ROLES]
    assert {sound.role for sound in spoken} >= {"prompt", "callback-offer", "greeting"}
    music = [segment for segment in sandbox_call.segments if segment.kind == "music"]
    worst = max(_overlap_s(segment, sound) for segment in music for sound in spoken)
    assert worst < 1.0


def test_hold_music_in_a_sandbox_call_holds_no_tone(sandbox_call: _SandboxCall) -> None:
    held = [sound for sound in sandbox_call.sounds if sound.role == "music"]
    assert sum((sound.end or sound.start) - sound.start for sound in held) > 25 * RATE
    tones = [segment for segment in sandbox_call.segments if segment.kind == "tone"]
    assert [segment for segment in tones for sound in held if _overlap_s(segment, sound)] == []
    assert any(segment.end <= RATE * 4 for segment in tones), "the ringback is tone"


def _cold_day_fade(level_db: float) -> Samples:
    """Four seconds of hold music at `level_db` dBFS, below the silence level (a fade-out)."""
    audio = read_audio(Path("/usr/share/asterisk/moh/macroform-cold_day.wav"))
    piece = audio[150 * RATE : 154 * RATE].astype(np.float64)
    gain = 10 ** (level_db / 20) * 32768 / np.sqrt(np.mean(piece**2))
    return as_pcm16(piece * gain)


@pytest.mark.parametrize("noise_db,music", [(-75.0, True), (-58.0, False)])
def test_faint_music_after_silence_is_music_when_it_stands_out_of_the_line_noise(
    noise_db: float, music: bool
) -> None:
    """-58 dBFS music after a pause: music on a quiet line; lost in the hiss of a noisy one,
    whose flat spectrum sets the floor it is judged against."""
    quiet = np.zeros(3 * RATE, dtype=np.int16)
    line = np.concatenate([quiet, _cold_day_fade(-58.0), quiet])
    noise = _noise(len(line) / RATE, noise_db, seed=5)[: len(line)]
    audio = _through_line(as_pcm16(line.astype(np.float64) + noise))
    assert (_seconds_of(classify(audio), "music") > 3.0) is music
