"""Asking Moonshine how well a text fits an utterance's audio, and its real confidence.

Real material: Asterisk's recorded prompts, and IVR sentences rendered by espeak-ng and flite.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

import numpy as np
import pytest
from native_moonshine import skip_unless_native_moonshine_runs

from shopper.asr.models import bundled_moonshine_model
from shopper.asr.moonshine_engine import (
    MAX_CHUNK_S,
    SCORE,
    UNKNOWN_CONFIDENCE,
    MoonshineEngine,
    MoonshineStream,
    MoonshineWorkerPool,
    NativeModel,
    Reading,
    _Listener,
)
from shopper.asr.moonshine_onnx import SCORE_BATCH, detokenize, read_vocabulary
from shopper.asr.moonshine_tokenizer import MoonshineTokenizer
from shopper.asr.types import Fit, Utterance, VerifyUnavailable
from shopper.audio.files import read_audio
from shopper.audio.frame import Samples, silence, split_frames
from shopper.audio.g711 import ulaw_round_trip
from shopper.sandbox.sounds import PROMPTS_DIR
from shopper.tts import TtsName, synthesize

pytestmark = pytest.mark.slow

KEY_WORDS = ["zero", "one", "two", "three", "four", "five"]
KEY_WORDS += ["six", "seven", "eight", "nine", "star", "pound"]
KEY_NUMERALS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"]


@pytest.fixture(scope="module")
def engine() -> MoonshineEngine:
    return MoonshineEngine()


@pytest.fixture(scope="module")
def tokenizer() -> MoonshineTokenizer:
    folder = bundled_moonshine_model()
    assert folder is not None
    return MoonshineTokenizer(read_vocabulary(folder / "tokenizer.bin"))


def prompt(name: str) -> Samples:
    (path,) = PROMPTS_DIR.rglob(f"{name}.wav")
    return ulaw_round_trip(read_audio(path))


def spoken(text: str, voice: str, tts: TtsName) -> Samples:
    return ulaw_round_trip(synthesize(text, voice, tts=tts))


def heard(engine: MoonshineEngine, speech: Samples) -> tuple[MoonshineStream, Utterance]:
    """The stream and its one final for `speech` on an otherwise silent line."""
    stream = engine.stream()
    line = np.concatenate([silence(0.3), speech, silence(1.5)])
    finals = [u for frame in split_frames(line) for u in stream.feed(frame)]
    finals += asyncio.run(stream.finish())
    assert len(finals) == 1, [u.text for u in finals]
    return stream, finals[0]


def verify(stream: MoonshineStream, utterance: Utterance, candidates: Sequence[str]) -> list[Fit]:
    return asyncio.run(stream.verify(utterance, candidates))


def margin_of(fits: list[Fit]) -> dict[str, float]:
    return {fit.text: fit.margin for fit in fits}


def test_re_encoding_the_models_own_readings_gives_back_its_tokens_and_scores(
    engine: MoonshineEngine, tokenizer: MoonshineTokenizer
) -> None:
    """The tokenizer is right where it matters (the model's own output), and teacher forcing
    the reading gives back the greedy decoding's own log-likelihood: margin 0."""
    clips = [prompt(name) for name in ("vm-intro", "vm-calldiffnum", "dir-instr", "options")]
    clips += [spoken("Thank you for calling Northwind Energy.", "en-us", "espeak-ng")]
    clips += [spoken("Your call may be recorded for quality.", "kal", "flite")]
    for clip in clips:
        (chunk,) = engine.read(clip).chunks
        assert chunk.text.text
        assert tokenizer.encode(chunk.text.text) == [t for t in chunk.text.tokens[1:] if t != 2]
        (margin,) = engine.score(chunk, [chunk.text.text]).result()
        assert abs(margin) < 1e-3, chunk.text.text


def test_text_with_characters_outside_the_vocabulary_round_trips(
    tokenizer: MoonshineTokenizer,
) -> None:
    folder = bundled_moonshine_model()
    assert folder is not None
    vocabulary = read_vocabulary(folder / "tokenizer.bin")
    text = "Naïve café \u260e 42 — ok"
    tokens = tokenizer.encode(text)
    assert detokenize(vocabulary, [1, *tokens, 2]) == text
    assert tokenizer.encode("  press \n two ") == tokenizer.encode("press two")
    assert tokenizer.encode("") == []


def best_rendering(fits: dict[str, float], text: str) -> float:
    """The better margin of a text with its digits written as words and as numerals."""
    return max(fits[text], fits[numerals(text)])


def numerals(text: str) -> str:
    for number, word in enumerate(KEY_WORDS[:10]):
        text = re.sub(rf"\b{word}\b", str(number), text)
    return text


def test_the_spoken_text_beats_a_wrong_digit_and_a_wrong_noun_on_recorded_prompts(
    engine: MoonshineEngine,
) -> None:
    """The true text is near the model's own reading (even where that reading garbled the
    key: "Pressed Hugh", "Pressed to to") and far above the same text with a wrong digit or
    noun. Each is tried with digits as words and as numerals, the better one counting."""
    cases = [
        ("vm-calldiffnum", "Press two to enter a different number.", "two", "five", "number"),
        (
            "vm-tocallback",
            "Press two to call the person who sent this message.",
            "two",
            "six",
            "person",
        ),
        ("vm-advopts", "Press three for advanced options.", "three", "four", "advanced"),
        (
            "vm-rec-name",
            "After the tone, say your name, and then press the pound key.",
            "pound",
            "star",
            "name",
        ),
    ]
    for name, truth, key, wrong_key, noun in cases:
        stream, utterance = heard(engine, prompt(name))
        wrong = [truth.replace(key, wrong_key), truth.replace(noun, "company")]
        texts = [truth, *wrong]
        fits = margin_of(verify(stream, utterance, texts + [numerals(t) for t in texts]))
        right = best_rendering(fits, truth)
        assert right > -5.0, (utterance.text, fits)
        assert all(best_rendering(fits, text) < right - 5.0 for text in wrong), fits


def test_the_key_after_press_is_chosen_by_scoring_the_twelve_keys(
    engine: MoonshineEngine,
) -> None:
    """Synthetic menu sentences whose transcripts garble the key ("press Ive", "presto"): the
    best-fitting of the 12 keys, written as words and as numerals, is the one spoken."""
    menu = [
        ("For billing,", "two", "en-us", "espeak-ng"),
        ("To speak to an agent,", "five", "en-us", "espeak-ng"),
        ("For opening hours,", "nine", "en-us", "espeak-ng"),
        ("For billing,", "two", "slt", "flite"),
        ("For new orders,", "four", "awb", "flite"),
    ]
    for lead, key, voice, tts in menu:
        stream, utterance = heard(engine, spoken(f"{lead} press {key}.", voice, tts))
        candidates = [f"{lead} press {k}." for k in KEY_WORDS + KEY_NUMERALS]
        fits = verify(stream, utterance, candidates)
        best = max(range(len(fits)), key=lambda index: fits[index].margin)
        assert best % len(KEY_WORDS) == KEY_WORDS.index(key), (tts, voice, utterance.text)


def test_batched_scores_equal_one_at_a_time(engine: MoonshineEngine) -> None:
    stream, utterance = heard(engine, prompt("vm-tocallnum"))
    candidates = [f"Press {k} to call this number." for k in KEY_WORDS[: SCORE_BATCH + 2]]
    batched = verify(stream, utterance, candidates)
    alone = [verify(stream, utterance, [candidate])[0] for candidate in candidates]
    assert len(candidates) > SCORE_BATCH
    for together, single in zip(batched, alone, strict=True):
        assert together.text == single.text
        assert together.margin == pytest.approx(single.margin, abs=1e-3)
    assert max(fit.margin for fit in batched) - min(fit.margin for fit in batched) > 3.0


def long_speech() -> Samples:
    """13 s of menu in one breath (commas only), so the stream hears one utterance that the
    engine reads in two chunks."""
    return spoken(
        "Thank you for calling Northwind Energy, for billing and payments press one, to report "
        "an outage or a gas leak press two, for new service or to move your service press "
        "three, for all other questions please stay on the line",
        "en-us",
        "espeak-ng",
    )


def swap_last_word(text: str) -> str:
    words = text.split()
    return " ".join([*words[:-1], "banana."])


def test_a_multi_chunk_utterance_scores_only_the_chunks_a_candidate_changes(
    engine: MoonshineEngine,
) -> None:
    stream, utterance = heard(engine, long_speech())
    reading = stream.reading(utterance)
    assert reading is not None and len(reading.chunks) >= 2
    assert utterance.end_s - utterance.start_s > MAX_CHUNK_S
    first, last = reading.chunks[0], reading.chunks[-1]
    texts = [chunk.text.text for chunk in reading.chunks]
    first_changed = " ".join([swap_last_word(texts[0]), *texts[1:]])
    last_changed = " ".join([*texts[:-1], swap_last_word(texts[-1])])
    both_changed = " ".join([swap_last_word(texts[0]), *texts[1:-1], swap_last_word(texts[-1])])
    fits = margin_of(
        verify(stream, utterance, [utterance.text, first_changed, last_changed, both_changed])
    )
    (first_alone,) = engine.score(first, [swap_last_word(texts[0])]).result()
    (last_alone,) = engine.score(last, [swap_last_word(texts[-1])]).result()
    assert fits[utterance.text] == 0.0
    assert fits[first_changed] == pytest.approx(first_alone, abs=1e-3)
    assert fits[last_changed] == pytest.approx(last_alone, abs=1e-3)
    assert fits[both_changed] == pytest.approx(first_alone + last_alone, abs=1e-3)
    assert first_alone < -3.0 and last_alone < -3.0


def test_scores_are_the_same_when_the_worker_has_lost_the_encoder_output() -> None:
    """A worker process replaced since it read the chunk keeps nothing: the score request
    encodes the audio again and must give the same margins."""
    candidates = ["Press 3 to re-record your message.", "Press 4 to re-record your message."]
    pool = MoonshineWorkerPool(1)
    try:
        stream, utterance = heard(MoonshineEngine(pool), prompt("vm-torerecord"))
        kept = verify(stream, utterance, candidates)
        pool.workers[0].close()
        again = verify(stream, utterance, candidates)
        assert pool.workers[0].starts >= 2  # replaced at least once (more under heavy load)
    finally:
        pool.close()
    assert [fit.margin for fit in again] == pytest.approx([fit.margin for fit in kept], abs=1e-3)
    assert kept[0].margin > kept[1].margin


def noisy(speech: Samples, snr_db: float, seed: int) -> Samples:
    power = float(np.mean(speech.astype(np.float64) ** 2))
    noise = np.random.default_rng(seed).normal(
        0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(speech)
    )
    return np.clip(np.rint(speech + noise), -32768, 32767).astype(np.int16)


def test_noisy_speech_is_read_with_lower_confidence_than_clean(engine: MoonshineEngine) -> None:
    """Confidence is the geometric mean of the greedy tokens' probabilities: the same prompt
    under white noise at 0 dB SNR (which garbles the reading) must come out lower."""
    for seed, name in enumerate(("vm-tempgreeting", "dir-instr", "privacy-prompt")):
        clean = engine.read(prompt(name))
        garbled = engine.read(noisy(prompt(name), 0.0, seed))
        assert 0.0 < garbled.confidence < clean.confidence <= 1.0, (clean.text, garbled.text)


def test_verify_needs_a_recent_final_of_the_stream(engine: MoonshineEngine) -> None:
    stream, _ = heard(engine, prompt("vm-toreply"))
    other = Utterance(start=1, end=2, text="press one", confidence=1.0, final=True)
    with pytest.raises(VerifyUnavailable, match="not one of this stream's last"):
        verify(stream, other, ["press one"])


def test_the_native_library_says_scoring_is_unavailable() -> None:
    skip_unless_native_moonshine_runs()
    listener = _Listener(NativeModel())
    audio = np.zeros(16000, dtype=np.float32)
    with pytest.raises(VerifyUnavailable, match="onnxruntime"):
        listener.handle(SCORE, 7, [[1, 2, 3]], audio)


def test_a_reading_without_probabilities_has_the_unknown_confidence() -> None:
    assert Reading(()).confidence == UNKNOWN_CONFIDENCE


def test_misheard_words_are_less_sure_than_the_words_heard_right(
    engine: MoonshineEngine,
) -> None:
    """Real voice, "press 2 to enter a different number", whose key the model garbles
    ("Pressed Hugh", "Pressed to to"): each word that is not in the true sentence has a lower
    confidence than each of the words read right."""
    truth = {"press", "2", "two", "to", "enter", "a", "different", "number"}
    reading = engine.read(prompt("vm-calldiffnum"))
    words = reading.word_confidences
    assert " ".join(word.text for word in words) == reading.text
    misheard = [w.confidence for w in words if w.text.strip(".,").lower() not in truth]
    right = [w.confidence for w in words if w.text.strip(".,").lower() in truth - {"to", "a"}]
    assert misheard and len(right) >= 3, reading.text
    assert max(misheard) < min(right), words


def test_verify_leaves_the_event_loop_free_while_the_worker_scores(
    engine: MoonshineEngine,
) -> None:
    stream, utterance = heard(engine, prompt("vm-toreply"))
    candidates = [f"Press {key} to send a reply." for key in KEY_WORDS]

    async def ticks_during_verify() -> tuple[int, list[Fit]]:
        ticks = 0
        checking = asyncio.create_task(stream.verify(utterance, candidates))
        while not checking.done():
            await asyncio.sleep(0.001)
            ticks += 1
        return ticks, await checking

    ticks, fits = asyncio.run(ticks_during_verify())
    assert len(fits) == len(candidates)
    assert ticks > 1


def test_the_model_writes_a_contraction_it_hears_as_one(engine: MoonshineEngine) -> None:
    """Why renderings keep a script's contractions (shopper.text.render): normalising writes
    `we'll` as 'well' and `you've` as 'you have', and the model rates those spellings of the
    spoken words well below the contraction, wherever its own reading of the sentence went."""
    cases = [
        ("Press one and we'll return your call.", "we'll", "well", "slt"),
        ("You've reached the billing department.", "You've", "You have", "awb"),
        ("I'm sorry, I didn't get that.", "didn't", "did not", "rms"),
    ]
    for sentence, contraction, normalised, voice in cases:
        stream, utterance = heard(engine, spoken(sentence, voice, "flite"))
        plain = sentence.replace(contraction, normalised)
        fits = margin_of(verify(stream, utterance, [sentence, plain]))
        assert fits[sentence] > fits[plain] + 3.0, (utterance.text, fits)
