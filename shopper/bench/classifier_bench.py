"""How well the sound classifier labels real call audio, and how its model is trained.

The labelled set is built from real material: Asterisk's recorded prompts and espeak-ng
text-to-speech (speech), Asterisk's music-on-hold files (music), generated silence (digital
silence, comfort noise, white and pink line noise at -50..-70 dBFS) and generated tones (DTMF,
call-progress tones, SIT, beeps), concatenated into mixtures with transitions at known times,
given faint line noise half of the time, and passed through a μ-law round trip as a call
would be. Half of the speech is synthetic because IVRs very often speak with TTS, and so does
shopper's own simulated phone system: a single recorded voice is not enough to learn "speech".

Train/test split: prompts are split by a hash of their file name (30 % held out). The TTS is
split twice over, by a hash of the sentence (30 % held out) and by voice (`HELD_OUT_VOICES`
are never trained on), so the held-out TTS is new text in a new voice. There are only five
hold-music files, so they are split by time instead: the last 35 % of each file's playable
part is held out, the rest is for training. The benchmark only ever uses held-out material;
`train_speech_music_model` only ever uses the rest.

Ground truth follows the classifier's definitions: a prompt is speech from its first to its
last frame above -45 dBFS, with inner pauses of 360 ms or more counted as silence; a tone
cadence is tone while on and silence while off, except that gaps under 360 ms stay tone; a
hold-music excerpt is music throughout.

Run `python -m shopper.bench.classifier_bench` for the report, or
`python -m shopper.bench.classifier_bench --train` to regenerate the shipped weights.
"""

from __future__ import annotations

import itertools
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from shopper.audio.callprogress import TONE_KINDS, ToneKind, call_progress_tone
from shopper.audio.classifier import (
    MODEL_FILE,
    SoundClassifier,
    SpeechMusicModel,
    tone_frames,
)
from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.features import (
    CONTEXT_FEATURE_NAMES,
    HOP,
    QUIET_DB,
    WINDOW,
    Floats,
    context_features,
    frame_features,
    windows_of,
)
from shopper.audio.files import read_audio
from shopper.audio.frame import TELEPHONY_RATE, Samples, as_pcm16, split_frames
from shopper.audio.g711 import ulaw_round_trip
from shopper.audio.segments import SOUND_KINDS, Segment, SoundKind
from shopper.audio.tone_labels import Receivers
from shopper.bench.corpus import prompt_transcripts
from shopper.sandbox.sounds import moh_files
from shopper.tts import synthesize

Labels = NDArray[np.int8]
"""One index into SOUND_KINDS per sample."""

SPEECH, MUSIC, SILENCE, TONE = (SOUND_KINDS.index(kind) for kind in SOUND_KINDS)

HELD_OUT_PROMPT_SHARE = 0.3
HELD_OUT_SENTENCE_SHARE = 0.3
HELD_OUT_MOH_SHARE = 0.35
TTS_SHARE = 0.5
"""Share of speech items spoken by espeak-ng rather than the recorded Asterisk voice."""
NOISY_SHARE = 0.5
"""Share of mixtures with faint white line noise under everything, as a real line has."""

TRAINING_VOICES = (
    "en-us",
    "en-gb",
    "en-gb-x-rp+f4",
    "en-us+f3",
    "en-us+m1",
    "en-gb-scotland",
    "en-us+f4",
    "en-029+m2",
)
HELD_OUT_VOICES = ("en-gb-x-rp", "en-us+m3", "en-us+f2")
TTS_SPEEDS = (140, 150, 160, 165, 175, 185)
"""Words per minute: IVRs speak a little slower than conversation, rarely faster."""

SPEECH_SOURCES = ("recorded", "tts")
"""Where a speech item comes from: Asterisk's recorded voice, or espeak-ng."""
RECORDED, TTS = range(len(SPEECH_SOURCES))

IVR_SENTENCES = (
    "Thank you for calling. Your call is important to us.",
    "For billing and payments, press 1. For technical support, press 2.",
    "To check the status of an order, press 3. For all other questions, press 0.",
    "To speak with a representative, press 0 at any time.",
    "To repeat these options, press the star key.",
    "To return to the main menu, press 9.",
    "Please enter your account number, followed by the pound sign.",
    "Please say or enter your ten digit phone number.",
    "Please enter the last four digits of your social security number.",
    "I'm sorry, I didn't understand that. Please try again.",
    "Sorry, that is not a valid choice.",
    "All of our agents are currently busy. Please stay on the line.",
    "Your estimated wait time is approximately seven minutes.",
    "You are caller number four in the queue.",
    "Please hold while we transfer your call.",
    "This call may be monitored or recorded for quality assurance.",
    "Our offices are open Monday through Friday, from eight A M to six P M.",
    "We are closed for the holiday. Please call back on Tuesday.",
    "Your current balance is two hundred forty seven dollars and thirty one cents.",
    "Your last payment of eighty five dollars was received on March fourteenth.",
    "Your minimum payment of thirty five dollars is due on the twenty first.",
    "You have three new messages and two saved messages.",
    "Your order number is four, seven, two, nine, one, eight.",
    "The amount of one thousand two hundred dollars has been transferred.",
    "Your appointment is scheduled for Thursday, June ninth, at two thirty P M.",
    "Hello, thank you for holding, my name is Jessica. How may I help you?",
    "Good afternoon, this is Mark in customer care. Can I have your name please?",
    "Thanks for waiting. I can certainly help you with that.",
    "Let me look that up for you. This will only take a moment.",
    "Is there anything else I can help you with today?",
    "I have transferred you to our billing department.",
    "To hear your balance, press 1. To make a payment, press 2.",
    "To report a lost or stolen card, press 1. To activate a new card, press 2.",
    "For pharmacy refills, press 4. For directions and hours, press 5.",
    "If you know your party's extension, you may dial it at any time.",
    "For a company directory, press 8.",
    "To leave a message, please wait for the tone.",
    "Please record your message after the beep. When you are finished, hang up.",
    "You can also visit us online at www dot example dot com.",
    "Did you know you can pay your bill with our mobile app?",
    "We are experiencing higher than normal call volumes.",
    "Please have your policy number ready.",
    "To confirm, press 1. To cancel, press 2.",
    "Your call is being answered in the order it was received.",
    "Press 1 to receive a call back instead of waiting on hold.",
    "We will call you back within the next twenty minutes.",
    "Your claim number is eight, eight, three, zero, five.",
    "The payment was declined. Please check your card details.",
    "Welcome to the automated service line for City Water and Power.",
    "For outages and emergencies, press 1 now.",
    "For new service or to stop service, press 2.",
    "For questions about your bill, press 3.",
    "Please stay on the line, a specialist will be with you shortly.",
    "This is Daniel speaking. Could you spell your last name for me?",
    "Your reservation for two adults on Friday, October third, is confirmed.",
    "The interest rate on this account is four point two five percent.",
    "Our main number is one, eight hundred, five five five, zero one nine nine.",
    "Please listen carefully, as our menu options have changed.",
    "For English, press 1. Para espanol, oprima el numero dos.",
    "Goodbye, and thank you for choosing us.",
)
"""IVR-like text for the synthetic voice: menus, announcements, agents, numbers and amounts."""
COLLAR_S = 0.1
BRIDGE_S = 0.36
"""Pauses shorter than this inside speech or tone belong to it (the classifier's rule)."""

_FRAME = 160


@dataclass(frozen=True, slots=True)
class LabelledAudio:
    samples: Samples
    truth: Labels
    source: Labels
    """Per sample, the index into SPEECH_SOURCES of the speech playing there, else -1."""


@dataclass(frozen=True, slots=True)
class _MusicPiece:
    path: Path
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Pool:
    prompts: list[Path]
    sentences: list[str]
    voices: tuple[str, ...]
    music: list[_MusicPiece]


def is_held_out(path: Path) -> bool:
    """Whether a prompt belongs to the test side of the split (stable across runs)."""
    return zlib.crc32(path.name.encode()) % 1000 < HELD_OUT_PROMPT_SHARE * 1000


def is_held_out_sentence(text: str) -> bool:
    """Whether a TTS sentence belongs to the test side of the split (stable across runs)."""
    return zlib.crc32(text.encode()) % 1000 < HELD_OUT_SENTENCE_SHARE * 1000


def _frame_levels(samples: Samples) -> Floats:
    count = len(samples) // _FRAME
    blocks = samples[: count * _FRAME].astype(np.float64).reshape(count, _FRAME)
    levels: Floats = 10.0 * np.log10(np.mean(blocks**2, axis=1) / 32768.0**2 + 1e-30)
    return levels


def _playable(samples: Samples) -> tuple[int, int]:
    """From the first to the last loud second: the fades at either end are near-silence."""
    loud = np.flatnonzero(_frame_levels(samples) > QUIET_DB + 10.0)
    if len(loud) == 0:
        return 0, 0
    return int(loud[0]) * _FRAME, (int(loud[-1]) + 1) * _FRAME


def _pool(held_out: bool) -> _Pool:
    prompts = [path for path in prompt_transcripts() if is_held_out(path) == held_out]
    music: list[_MusicPiece] = []
    for path in moh_files():
        first, last = _playable(read_audio(path))
        split = last - int((last - first) * HELD_OUT_MOH_SHARE)
        music.append(
            _MusicPiece(path, split, last) if held_out else _MusicPiece(path, first, split)
        )
    sentences = [text for text in IVR_SENTENCES if is_held_out_sentence(text) == held_out]
    voices = HELD_OUT_VOICES if held_out else TRAINING_VOICES
    return _Pool(sorted(prompts), sentences, voices, music)


def _beep(rng: np.random.Generator, level_dbfs: float) -> Floats:
    """An IVR's record-after-the-tone beep: one pure tone."""
    frequency = float(rng.choice([440.0, 1000.0, 1400.0]))
    t = np.arange(round(float(rng.uniform(0.2, 0.6)) * TELEPHONY_RATE)) / TELEPHONY_RATE
    beep: Floats = 32767.0 * 10.0 ** (level_dbfs / 20.0) * np.sin(2 * np.pi * frequency * t)
    return beep


_TONE_SECONDS: dict[ToneKind, tuple[float, float]] = {
    "dial": (1.0, 3.0),
    "ringback": (2.5, 4.0),
    "busy": (1.5, 3.0),
    "reorder": (1.0, 2.5),
}


def _tone_item(rng: np.random.Generator) -> Floats:
    level = float(rng.uniform(-24.0, -12.0))
    choice = str(rng.choice([*_TONE_SECONDS, "sit", "dtmf", "beep"]))
    if choice == "dtmf":
        keys = "".join(rng.choice(list("0123456789*#"), size=int(rng.integers(3, 9))))
        return dtmf_sequence(
            keys,
            tone_s=float(rng.uniform(0.07, 0.15)),
            gap_s=float(rng.uniform(0.05, 0.15)),
            level_dbfs=level,
        ).astype(np.float64)
    if choice == "beep":
        return _beep(rng, level)
    if choice == "sit":
        variant = TONE_KINDS[int(rng.integers(TONE_KINDS.index("sit-vacant"), len(TONE_KINDS)))]
        return call_progress_tone(variant, 1.2, level).astype(np.float64)
    kind = next(kind for kind in _TONE_SECONDS if kind == choice)
    low, high = _TONE_SECONDS[kind]
    return call_progress_tone(kind, float(rng.uniform(low, high)), level).astype(np.float64)


def _pink(count: int, rng: np.random.Generator) -> Floats:
    spectrum = np.fft.rfft(rng.standard_normal(count))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1.0))
    noise: Floats = np.fft.irfft(spectrum, n=count)
    return noise / (np.std(noise) + 1e-12)


def _silence_item(rng: np.random.Generator) -> Floats:
    count = round(float(rng.uniform(0.6, 3.0)) * TELEPHONY_RATE)
    choice = int(rng.integers(4))
    if choice == 0:
        return np.zeros(count)
    level = float(rng.uniform(-70.0, -62.0) if choice == 1 else rng.uniform(-60.0, -50.0))
    noise = _pink(count, rng) if choice == 3 else rng.standard_normal(count)
    scaled: Floats = noise * 32768.0 * 10.0 ** (level / 20.0)
    return scaled


def _level_truth(samples: Floats, kind: int) -> Labels:
    """`kind` where the level is above the silence threshold, frame by frame, else silence."""
    levels = _frame_levels(as_pcm16(np.append(samples, np.zeros(-len(samples) % _FRAME))))
    per_frame = np.where(levels > QUIET_DB, kind, SILENCE).astype(np.int8)
    return np.repeat(per_frame, _FRAME)[: len(samples)]


def _bridge(truth: Labels) -> Labels:
    """Give short silences between two stretches of the same kind to that kind."""
    result = truth.copy()
    change = np.flatnonzero(np.diff(truth)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(truth)]])
    longest = round(BRIDGE_S * TELEPHONY_RATE)
    for index in range(1, len(starts) - 1):
        start, end = starts[index], ends[index]
        before, after = truth[start - 1], truth[end]
        short = end - start < longest
        if short and truth[start] == SILENCE and before == after and before != SILENCE:
            result[start:end] = before
    return result


def build_mixture(
    rng: np.random.Generator, pool: _Pool, seconds: float, read: Callable[[Path], Samples]
) -> LabelledAudio:
    """Random items from `pool` (speech, music, silence, tones) until `seconds` are filled."""
    parts: list[Floats] = []
    truths: list[Labels] = []
    sources: list[Labels] = []
    total = 0
    while total < seconds * TELEPHONY_RATE:
        roll = rng.random()
        source = -1
        if roll < 0.35:
            source = TTS if rng.random() < TTS_SHARE else RECORDED
            audio, truth = _speech_item(rng, pool, read, source)
        elif roll < 0.6:
            piece = pool.music[int(rng.integers(len(pool.music)))]
            length = round(float(rng.uniform(3.0, 12.0)) * TELEPHONY_RATE)
            begin = int(rng.integers(piece.start, max(piece.start + 1, piece.end - length)))
            audio = read(piece.path)[begin : begin + length].astype(np.float64)
            audio *= 10.0 ** (float(rng.uniform(-8.0, 0.0)) / 20.0)
            truth = np.full(len(audio), MUSIC, dtype=np.int8)
        elif roll < 0.8:
            audio = _silence_item(rng)
            truth = np.full(len(audio), SILENCE, dtype=np.int8)
        else:
            audio = _tone_item(rng)
            truth = _level_truth(audio, TONE)
        parts.append(audio)
        truths.append(truth)
        sources.append(np.where(truth == SPEECH, source, -1).astype(np.int8))
        total += len(audio)
    mixed = np.concatenate(parts)
    if rng.random() < NOISY_SHARE:
        level = float(rng.uniform(-75.0, -60.0))
        mixed += rng.standard_normal(len(mixed)) * 32768.0 * 10.0 ** (level / 20.0)
    samples = ulaw_round_trip(as_pcm16(mixed))
    truth = _bridge(np.concatenate(truths))
    return LabelledAudio(samples, truth, _fill_bridged(np.concatenate(sources), truth))


def _fill_bridged(source: Labels, truth: Labels) -> Labels:
    """Pauses bridged into speech belong to the speech before them."""
    positions = np.where(source >= 0, np.arange(len(source)), 0)
    latest = np.maximum.accumulate(positions)
    result = source.copy()
    bridged = (truth == SPEECH) & (source < 0)
    result[bridged] = source[latest[bridged]]
    return result


def _speech_item(
    rng: np.random.Generator, pool: _Pool, read: Callable[[Path], Samples], source: int
) -> tuple[Floats, Labels]:
    """One to three prompts played back to back, with the short gaps of an IVR's playlist.

    Synthetic prompts keep one voice and speed, as an IVR's do.
    """
    gain = 10.0 ** (float(rng.uniform(-8.0, 2.0)) / 20.0)
    voice = pool.voices[int(rng.integers(len(pool.voices)))]
    speed = int(rng.choice(TTS_SPEEDS))
    audio: list[Floats] = []
    truth: list[Labels] = []
    for position in range(int(rng.integers(1, 4))):
        if position:
            gap = np.zeros(round(float(rng.uniform(0.05, 0.2)) * TELEPHONY_RATE))
            audio.append(gap)
            truth.append(np.full(len(gap), SILENCE, dtype=np.int8))
        if source == TTS:
            text = pool.sentences[int(rng.integers(len(pool.sentences)))]
            prompt = synthesize(text, voice, speed).astype(np.float64)
        else:
            prompt = read(pool.prompts[int(rng.integers(len(pool.prompts)))]).astype(np.float64)
        prompt *= gain
        audio.append(prompt)
        truth.append(_level_truth(prompt, SPEECH))
    return np.concatenate(audio), np.concatenate(truth)


def _reader() -> Callable[[Path], Samples]:
    cache: dict[Path, Samples] = {}

    def read(path: Path) -> Samples:
        if path not in cache:
            cache[path] = read_audio(path)
        return cache[path]

    return read


def labelled_set(held_out: bool, count: int, seconds: float, seed: int) -> list[LabelledAudio]:
    """`count` mixtures of about `seconds` each, from the test or the training side."""
    pool = _pool(held_out)
    rng = np.random.default_rng(seed)
    read = _reader()
    return [build_mixture(rng, pool, seconds, read) for _ in range(count)]


def segments_to_labels(segments: list[Segment], start: int, length: int) -> Labels:
    result = np.full(length, -1, dtype=np.int8)
    for segment in segments:
        result[segment.start - start : segment.end - start] = SOUND_KINDS.index(segment.kind)
    return result


@dataclass(frozen=True)
class ClassifierBenchReport:
    """Held-out scores: fractions of labelled time, and the confusion in seconds."""

    seconds: float
    accuracy: float
    accuracy_outside_collar: float
    recall: dict[SoundKind, float]
    confusion_s: NDArray[np.float64]
    """Rows: true kind, columns: labelled kind, both in SOUND_KINDS order."""
    speech_by_source_s: NDArray[np.float64]
    """The speech row split by SPEECH_SOURCES: rows: source, columns: labelled kind."""
    speed_x_realtime: float
    mixtures: int

    @property
    def speech_recall_by_source(self) -> dict[str, float]:
        return {
            source: float(row[SPEECH] / max(1e-9, np.sum(row)))
            for source, row in zip(SPEECH_SOURCES, self.speech_by_source_s, strict=True)
        }

    def render(self) -> str:
        width = 9
        head = 14
        by_source = self.speech_recall_by_source
        lines = [
            f"sound classifier on {self.mixtures} held-out mixtures, {self.seconds:.0f} s "
            "(μ-law round trip)",
            f"time correct: {self.accuracy:.2%}   outside ±{COLLAR_S * 1000:.0f} ms collars: "
            f"{self.accuracy_outside_collar:.2%}   speed: {self.speed_x_realtime:.0f}x real time",
            "recall: " + "  ".join(f"{kind} {self.recall[kind]:.2%}" for kind in SOUND_KINDS),
            "speech recall by source: "
            + "  ".join(f"{source} {by_source[source]:.2%}" for source in SPEECH_SOURCES),
            "confusion (seconds; rows = truth, columns = label):",
            " " * head + "".join(f"{kind:>{width}}" for kind in SOUND_KINDS),
        ]
        rows = [
            (f"speech/{source}", values)
            for source, values in zip(SPEECH_SOURCES, self.speech_by_source_s, strict=True)
        ]
        rows += [(kind, self.confusion_s[row]) for row, kind in enumerate(SOUND_KINDS) if row]
        for name, values in rows:
            cells = "".join(f"{value:>{width}.1f}" for value in values)
            lines.append(f"{name:>{head}}{cells}")
        return "\n".join(lines)


def score(
    items: list[LabelledAudio], predictions: list[Labels], seconds_elapsed: float
) -> ClassifierBenchReport:
    kinds = len(SOUND_KINDS)
    confusion = np.zeros((kinds, kinds))
    by_source = np.zeros((len(SPEECH_SOURCES), kinds))
    inside = 0
    inside_correct = 0
    collar = round(COLLAR_S * TELEPHONY_RATE)
    for item, predicted in zip(items, predictions, strict=True):
        pair = item.truth.astype(np.int64) * kinds + predicted
        confusion += np.bincount(pair, minlength=kinds**2).reshape(kinds, -1)
        speech = item.truth == SPEECH
        by_pair = item.source[speech].astype(np.int64) * kinds + predicted[speech]
        by_source += np.bincount(by_pair, minlength=by_source.size).reshape(by_source.shape)
        keep = np.ones(len(item.truth), dtype=np.bool_)
        for boundary in np.flatnonzero(np.diff(item.truth)) + 1:
            keep[max(0, boundary - collar) : boundary + collar] = False
        inside += int(np.sum(keep))
        inside_correct += int(np.sum(keep & (item.truth == predicted)))
    total = float(np.sum(confusion))
    recall = {
        kind: float(confusion[row, row] / max(1.0, np.sum(confusion[row])))
        for row, kind in enumerate(SOUND_KINDS)
    }
    return ClassifierBenchReport(
        seconds=total / TELEPHONY_RATE,
        accuracy=float(np.trace(confusion) / total),
        accuracy_outside_collar=inside_correct / max(1, inside),
        recall=recall,
        confusion_s=confusion / TELEPHONY_RATE,
        speech_by_source_s=by_source / TELEPHONY_RATE,
        speed_x_realtime=total / TELEPHONY_RATE / max(seconds_elapsed, 1e-9),
        mixtures=len(items),
    )


def label_mixture(
    classifier: SoundClassifier, item: LabelledAudio, receivers: Receivers | None = None
) -> Labels:
    """Stream the mixture in 20 ms frames, as a call delivers it; with `receivers`, their
    keys and tones override the classifier's labels, as in the call engine's ear."""
    segments: list[Segment] = []
    for frame in split_frames(item.samples):
        closed = classifier.feed(frame)
        segments.extend(closed if receivers is None else receivers.feed(frame, closed).segments)
    closed = classifier.finish()
    segments.extend(closed if receivers is None else receivers.finish(closed).segments)
    return segments_to_labels(segments, 0, len(item.samples))


def run_classifier_bench(
    seed: int = 0, mixtures: int = 24, seconds: float = 60.0, with_receivers: bool = False
) -> ClassifierBenchReport:
    """Score the shipped classifier on held-out mixtures (about 24 minutes by default), alone
    or `with_receivers` overriding its labels where they hear a key or a tone."""
    items = labelled_set(held_out=True, count=mixtures, seconds=seconds, seed=seed)
    predictions: list[Labels] = []
    began = time.perf_counter()
    for item in items:
        receivers = Receivers() if with_receivers else None
        predictions.append(label_mixture(SoundClassifier(), item, receivers))
    elapsed = time.perf_counter() - began
    return score(items, predictions, elapsed)


def training_examples(items: list[LabelledAudio]) -> tuple[Floats, NDArray[np.float64]]:
    """Context features of every frame the model will have to judge, and 1 for music.

    These are the frames the classifier hands to the model: above the silence threshold, not
    tone, truly speech or music.
    """
    rows: list[Floats] = []
    targets: list[float] = []
    lead = (WINDOW - HOP) // 2
    for item in items:
        padded = np.concatenate([np.zeros(lead), item.samples.astype(np.float64)])
        frames, _ = frame_features(windows_of(padded))
        tones = tone_frames(frames)
        centres = np.minimum(np.arange(len(frames)) * HOP + HOP // 2, len(item.truth) - 1)
        truth = item.truth[centres]
        usable = (frames.energy_db > QUIET_DB) & ~tones & np.isin(truth, (SPEECH, MUSIC))
        chosen = np.flatnonzero(usable)
        rows.append(context_features(frames, chosen))
        targets.extend(1.0 if truth[index] == MUSIC else 0.0 for index in chosen)
    return np.concatenate([np.zeros((0, len(CONTEXT_FEATURE_NAMES))), *rows]), np.array(targets)


def fit_network(
    features: Floats, targets: NDArray[np.float64], hidden: int, seed: int, epochs: int = 600
) -> SpeechMusicModel:
    """Full-batch Adam on class-balanced cross-entropy, with a little weight decay."""
    rng = np.random.default_rng(seed)
    mean = np.mean(features, axis=0)
    scale = np.std(features, axis=0) + 1e-9
    inputs = (features - mean) / scale
    weight = np.where(targets > 0.5, 0.5 / np.mean(targets), 0.5 / np.mean(1.0 - targets))
    weight /= np.sum(weight)
    sizes = [inputs.shape[1], hidden, 1] if hidden else [inputs.shape[1], 1]
    params: list[Floats] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        params.append(rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in))
        params.append(np.zeros(fan_out))
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    rate, decay = 0.02, 1e-4
    for step in range(1, epochs + 1):
        activations = [inputs]
        for layer in range(len(params) // 2 - 1):
            activations.append(np.tanh(activations[-1] @ params[2 * layer] + params[2 * layer + 1]))
        logits = (activations[-1] @ params[-2] + params[-1])[:, 0]
        probability = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))
        delta = ((probability - targets) * weight)[:, None]
        grads: list[Floats] = [np.zeros(0)] * len(params)
        for layer in range(len(params) // 2 - 1, -1, -1):
            grads[2 * layer] = activations[layer].T @ delta + decay * params[2 * layer]
            grads[2 * layer + 1] = np.sum(delta, axis=0)
            if layer:
                delta = (delta @ params[2 * layer].T) * (1.0 - activations[layer] ** 2)
        for index, grad in enumerate(grads):
            moments[index] = 0.9 * moments[index] + 0.1 * grad
            squares[index] = 0.999 * squares[index] + 0.001 * grad**2
            corrected = moments[index] / (1 - 0.9**step)
            spread = np.sqrt(squares[index] / (1 - 0.999**step)) + 1e-8
            params[index] = params[index] - rate * corrected / spread
    layers = tuple((params[2 * i], params[2 * i + 1]) for i in range(len(params) // 2))
    return SpeechMusicModel(mean=mean, scale=scale, layers=layers)


def train_speech_music_model(seed: int = 0, hidden: int = 12) -> SpeechMusicModel:
    """Regenerate the shipped weights from the training side of the corpus only."""
    items = labelled_set(held_out=False, count=40, seconds=60.0, seed=seed + 1000)
    features, targets = training_examples(items)
    return fit_network(features, targets, hidden, seed)


def main(arguments: list[str]) -> int:
    if arguments[:1] == ["--train"]:
        model = train_speech_music_model()
        MODEL_FILE.write_text(model.to_json() + "\n", encoding="utf-8")
        print(f"wrote {MODEL_FILE}")
        return 0
    print(run_classifier_bench().render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
