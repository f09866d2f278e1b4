"""Vosk (Kaldi) as shopper's default ear: streaming, offline, with word timings.

Call audio is 8 kHz but the small Vosk models are trained on 16 kHz, so each stream upsamples
with a stateful resampler before the recogniser. Vosk reports times in seconds since its
stream began; they are turned back into sample indices of the call (media time) by adding the
`start` of the first frame fed.

One loaded model serves many concurrent calls: Vosk's recognisers share the model read-only
and release the GIL while decoding, so each call gets its own cheap recogniser. The decoding
runs on a pool of threads (one per core), never on the caller's event loop: a stream hands
each piece of audio to its own queue and returns what the recogniser has already found, and a
caller on a virtual clock awaits the rest (`VoskStream.settle`).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import vosk

from shopper.asr.models import ModelError, cache_root, looks_like_vosk_model
from shopper.asr.types import Fit, Utterance, VerifyUnavailable, Word
from shopper.audio.frame import TELEPHONY_RATE, AudioFrame, Samples
from shopper.audio.resample import StreamResampler
from shopper.audio.segments import SoundContext, Span
from shopper.text.normalize import normalize

VOSK_RATE = 16000
"""What the small Vosk models are trained on; narrowband audio is upsampled to it."""

_UNKNOWN_WORD = "[unk]"
KEPT_AUDIO_S = 300.0
"""Seconds of recent call audio a stream keeps for `verify` (8 kHz int16: 4.8 MB)."""
VERIFY_MARGIN_S = 0.5
"""Audio taken on each side of an utterance's word times when it is re-recognised: word
times from open-vocabulary decoding can clip the first and last sounds (0.3 s turned a
Korean phrase into "[unk]"), and the models end an utterance only after 0.5 s of silence,
so this much either side is the pause around it."""
_SURE = 1e-6
"""Smallest 1 - confidence used, so a certain choice gives others ln(1e-6) = -13.8, not -inf."""
_TOKEN = re.compile(r"[\w']+")
_NO_DITHER = "--dither=0.0"
_ERRORS_ONLY = -2
PARTIAL_INTERVAL = TELEPHONY_RATE // 10
"""Samples between partial-result checks: asking Vosk after every 20 ms frame costs about
half again the decoding time, while 100 ms is still quicker than any IVR reacts."""


class VoskEngine:
    """A loaded Vosk model; `stream()` hands out one recogniser per call."""

    def __init__(self, model_dir: Path, deterministic: bool = False) -> None:
        if not model_dir.is_dir():
            raise ModelError(f"{model_dir}: no such Vosk model folder")
        if not looks_like_vosk_model(model_dir):
            raise ModelError(
                f"{model_dir}: not a Vosk model folder (expected am/final.mdl, conf/ and graph/)"
            )
        # Kaldi prints messages at or above the level; -1 would still let warnings through.
        vosk.SetLogLevel(_ERRORS_ONLY)
        load_dir = dither_free_overlay(model_dir) if deterministic else model_dir
        try:
            self._model = vosk.Model(str(load_dir))
        except Exception as error:
            raise ModelError(f"{model_dir}: Vosk could not load this model ({error})") from None
        self._name = f"vosk:{model_dir.name}"
        self.deterministic = deterministic

    @property
    def name(self) -> str:
        return self._name

    def wait_until_loaded(self) -> None:
        """Nothing to wait for: the model was loaded when the engine was made."""

    def stream(self, phrases: Sequence[str] | None = None) -> VoskStream:
        return VoskStream(self, self.grammar(phrases))

    @property
    def model(self) -> vosk.Model:
        return self._model

    def knows(self, word: str) -> bool:
        return bool(self._model.vosk_model_find_word(word) >= 0)

    def grammar(self, phrases: Sequence[str] | None) -> list[str] | None:
        """The phrases reduced to words the model knows, plus the unknown-word token.

        Vosk warns about, and cannot decode, words outside its lexicon. Each phrase keeps the
        words the model knows as written ("you're") or in shopper's normalised spelling
        ("1" -> "one"). None (open vocabulary) when no phrase has a known word, since a grammar
        of nothing but "[unk]" would hear nothing.
        """
        if not phrases:
            return None
        grammar: list[str] = []
        for phrase in phrases:
            joined = self.known_words(phrase)
            if joined and joined not in grammar:
                grammar.append(joined)
        if not grammar:
            return None
        if self.knows(_UNKNOWN_WORD):
            grammar.append(_UNKNOWN_WORD)
        return grammar

    def known_words(self, phrase: str) -> str:
        """The phrase as the words of it the model knows, as written or normalised."""
        words: list[str] = []
        for token in _TOKEN.findall(phrase.casefold()):
            candidates = [token] if self.knows(token) else normalize(token).split()
            words += [word for word in candidates if self.knows(word)]
        return " ".join(words)


@functools.cache
def _decoders() -> ThreadPoolExecutor:
    """The threads every stream decodes on: one per core, as Vosk decodes with the GIL
    released; a stream's own work runs in order, one piece at a time (`_DecodeQueue`)."""
    return ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="vosk")


class _DecodeQueue:
    """One stream's decoding work, run in order on the shared threads; what it finds waits
    in `out` for the stream to return it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._work: list[Callable[[], list[Utterance]]] = []
        self._draining: Future[None] | None = None
        self._out: list[Utterance] = []
        self._failed: Exception | None = None
        """What stopped the decoding: raised by the next `take`, so it is never lost."""

    def put(self, work: Callable[[], list[Utterance]]) -> None:
        with self._lock:
            self._work.append(work)
            if self._draining is None:
                self._draining = _decoders().submit(self._drain)

    @property
    def busy(self) -> bool:
        """Work queued or under way, or results (or a failure) not yet taken."""
        with self._lock:
            return self._draining is not None or bool(self._out) or self._failed is not None

    def take(self) -> list[Utterance]:
        """The results found so far, in order; raises what stopped the decoding."""
        with self._lock:
            out, self._out = self._out, []
            failed, self._failed = self._failed, None
        if failed is not None:
            raise failed
        return out

    async def settle(self) -> list[Utterance]:
        """Every result of the work queued so far, awaited without blocking the loop."""
        while (draining := self._draining) is not None:
            # Shielded: a cancelled wait must not cancel the work, which later work follows.
            await asyncio.shield(asyncio.wrap_future(draining))
        return self.take()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._work:
                    self._draining = None
                    return
                work = self._work.pop(0)
            try:
                found = work()
            except Exception as error:
                with self._lock:
                    self._work.clear()
                    self._draining = None
                    self._failed = error
                return
            with self._lock:
                self._out += found


class VoskStream:
    """One call's recogniser: frames in, partial and final utterances out, in media time.

    It keeps the last `KEPT_AUDIO_S` of audio, so `verify` can re-recognise a recent final.
    Vosk decodes on the shared decoding threads (`_decoders`), not in `feed`: each frame's
    audio joins the stream's queue, and `feed` returns the utterances already found, so
    results come a frame or more after their audio, each stamped with its own media time,
    and the stream says meanwhile that it is `decoding`.
    """

    def __init__(self, engine: VoskEngine, grammar: list[str] | None) -> None:
        self._engine = engine
        model = engine.model
        self._kept: list[Samples] = []
        self._kept_start = 0
        if grammar is None:
            self._recognizer = vosk.KaldiRecognizer(model, VOSK_RATE)
        else:
            self._recognizer = vosk.KaldiRecognizer(
                model, VOSK_RATE, json.dumps(grammar, ensure_ascii=False)
            )
        self._recognizer.SetWords(True)
        self._recognizer.SetPartialWords(True)
        self._queue = _DecodeQueue()
        self._resampler: StreamResampler | None = None
        self._origin = 0
        self._next_start = 0
        # Only the decoding thread touches what follows (and the recogniser and resampler).
        self._partial_due = 0
        self._last_partial = ""
        self._partial_span: Span | None = None
        self._finished = False

    def feed(self, frame: AudioFrame, sound: SoundContext | None = None) -> list[Utterance]:
        """Vosk finds its own utterances in every frame; `sound` is not needed. Never waits
        for the decoding: returns what was found in earlier frames' audio."""
        if self._finished:
            raise RuntimeError("feed() after finish(): start a new stream for new audio")
        samples = self._align(frame)
        resampler = self._resampler
        assert resampler is not None
        fed_until = self._next_start
        self._queue.put(lambda: self._decode(resampler.process(samples), fed_until))
        return self._queue.take()

    @property
    def decoding(self) -> bool:
        return self._queue.busy

    async def settle(self) -> list[Utterance]:
        return await self._queue.settle()

    async def finish(self, sound: SoundContext | None = None) -> list[Utterance]:
        if self._finished:
            return []
        self._finished = True
        resampler = self._resampler
        if resampler is not None:
            fed_until = self._next_start

            def last() -> list[Utterance]:
                heard = self._decode(resampler.flush(), fed_until, partials=False)
                return heard + self._final(self._recognizer.FinalResult(), fed_until)

            self._queue.put(last)
        return await self._queue.settle()

    @property
    def pending(self) -> Span | None:
        """The words Vosk has given as a partial and not yet as a final."""
        return self._partial_span

    def cut(self, speech_since: int | None) -> list[Utterance]:
        """Vosk's final result for everything fed so far, once decoded; it goes on listening
        afterwards."""
        if self._finished or self._resampler is None:
            return []
        fed_until = self._next_start
        self._queue.put(lambda: self._final(self._recognizer.FinalResult(), fed_until))
        return self._queue.take()

    def _align(self, frame: AudioFrame) -> Samples:
        """Remember where the audio began; fill gaps between frames with silence.

        Vosk only counts the samples it is given, so a lost packet would otherwise shift every
        later timestamp earlier than it happened.
        """
        if frame.rate != TELEPHONY_RATE:
            raise ValueError(f"frame at {frame.rate} Hz; the stream takes {TELEPHONY_RATE} Hz")
        if self._resampler is None:
            self._resampler = StreamResampler(TELEPHONY_RATE, VOSK_RATE)
            self._origin = self._next_start = self._kept_start = frame.start
            self._partial_due = frame.start + PARTIAL_INTERVAL
        if frame.start < self._next_start:
            raise ValueError(
                f"frame starts at sample {frame.start}, before the end of the previous frame "
                f"({self._next_start})"
            )
        gap = frame.start - self._next_start
        self._next_start = frame.end
        samples = frame.samples
        if gap:
            samples = np.concatenate([np.zeros(gap, dtype=np.int16), frame.samples])
        self._keep(samples)
        return samples

    def _keep(self, samples: Samples) -> None:
        """Append to the kept audio; drop whole pieces older than `KEPT_AUDIO_S`."""
        self._kept.append(samples)
        limit = round(KEPT_AUDIO_S * TELEPHONY_RATE)
        kept_end = self._next_start
        while self._kept and kept_end - (self._kept_start + len(self._kept[0])) > limit:
            self._kept_start += len(self._kept.pop(0))

    def _audio(self, start: int, end: int) -> Samples | None:
        """The call's audio between two media times, None if not (or no longer) all kept."""
        if start < self._kept_start or end > self._next_start or not self._kept:
            return None
        return np.concatenate(self._kept)[start - self._kept_start : end - self._kept_start]

    async def verify(self, utterance: Utterance, candidates: Sequence[str]) -> list[Fit]:
        """How well each candidate fits the utterance's audio, by re-recognising that audio
        with a grammar of nothing but the candidates (and "[unk]").

        Vosk gives no likelihood of a given text, so its choice is mapped onto the margin
        scale: the candidate(s) the grammar recognition chose get 0, every other candidate
        ln(1 - c), where c is the mean word confidence of what was chosen (c = 0.99 gives
        -4.6; a hesitant choice barely separates them). When "[unk]" or nothing wins, every
        candidate gets ln(1 - c) of that reading. Candidates are compared by the words of
        them the model knows (see `VoskEngine.known_words`), so candidates that differ only
        in unknown words tie. Runs in a thread, off the event loop.
        """
        if not candidates:
            return []
        lead = round(VERIFY_MARGIN_S * TELEPHONY_RATE)
        start = max(self._kept_start, utterance.start - lead)
        audio = None
        if utterance.start >= self._kept_start:
            audio = self._audio(start, min(self._next_start, utterance.end + lead))
        if audio is None:
            raise VerifyUnavailable(
                f"the audio of {utterance.text!r} at {utterance.start_s:.2f} s is no longer "
                f"kept (the stream keeps the last {KEPT_AUDIO_S:.0f} s)"
            )
        return await asyncio.to_thread(self._rerecognise, audio, list(candidates))

    def _rerecognise(self, audio: Samples, candidates: list[str]) -> list[Fit]:
        phrases = [self._engine.known_words(candidate) for candidate in candidates]
        grammar = [phrase for phrase in dict.fromkeys(phrases) if phrase]
        if self._engine.knows(_UNKNOWN_WORD):
            grammar.append(_UNKNOWN_WORD)
        recognizer = vosk.KaldiRecognizer(
            self._engine.model, VOSK_RATE, json.dumps(grammar, ensure_ascii=False)
        )
        recognizer.SetWords(True)
        resampler = StreamResampler(TELEPHONY_RATE, VOSK_RATE)
        upsampled = np.concatenate([resampler.process(audio), resampler.flush()])
        recognizer.AcceptWaveform(upsampled.astype("<i2").tobytes())
        result = json.loads(recognizer.FinalResult())
        chosen = str(result.get("text", ""))
        words = result.get("result", [])
        confidence = sum(float(w.get("conf", 1.0)) for w in words) / len(words) if words else 0.0
        other = math.log(max(1.0 - confidence, _SURE))
        return [
            Fit(candidate, 0.0 if phrase and phrase == chosen else other)
            for candidate, phrase in zip(candidates, phrases, strict=True)
        ]

    def _decode(self, samples: Samples, fed_until: int, partials: bool = True) -> list[Utterance]:
        """Decode audio that ends at media time `fed_until` (on a decoding thread)."""
        if len(samples) == 0:
            return []
        if self._recognizer.AcceptWaveform(samples.astype("<i2").tobytes()):
            return self._final(self._recognizer.Result(), fed_until)
        if not partials or fed_until < self._partial_due:
            return []
        self._partial_due = fed_until + PARTIAL_INTERVAL
        return self._partial(self._recognizer.PartialResult(), fed_until)

    def _partial(self, raw: str, fed_until: int) -> list[Utterance]:
        result = json.loads(raw)
        text = str(result.get("partial", ""))
        if not text or text == self._last_partial:
            return []
        self._last_partial = text
        partial = self._utterance(text, result.get("partial_result", []), False, fed_until)
        self._partial_span = Span(partial.start, partial.end)
        return [partial]

    def _final(self, raw: str, fed_until: int) -> list[Utterance]:
        self._last_partial = ""
        self._partial_span = None
        result = json.loads(raw)
        text = str(result.get("text", ""))
        if not text:
            return []
        return [self._utterance(text, result.get("result", []), True, fed_until)]

    def _utterance(
        self, text: str, raw_words: list[dict[str, Any]], final: bool, fed_until: int
    ) -> Utterance:
        words = tuple(
            Word(
                start=self._media_time(float(word["start"])),
                end=self._media_time(float(word["end"])),
                text=str(word["word"]),
                confidence=float(word.get("conf", 1.0)),
            )
            for word in raw_words
        )
        if words:
            start, end = words[0].start, words[-1].end
            confidence = sum(word.confidence for word in words) / len(words)
        else:
            start = end = fed_until
            confidence = 0.0
        return Utterance(
            start=start, end=end, text=text, confidence=confidence, final=final, words=words
        )

    def _media_time(self, seconds: float) -> int:
        return self._origin + round(seconds * TELEPHONY_RATE)


def dither_free_overlay(model_dir: Path) -> Path:
    """A view of the model whose MFCC front end has no dither, for reproducible results.

    Kaldi adds random dither to every frame, so the same audio decodes differently from run
    to run. The installed model is never modified: the overlay (in the user cache) links to
    every file of the model except conf/mfcc.conf, which is a patched copy. It is built under
    a temporary name and renamed into place, so concurrent processes never see half of one.
    """
    source = model_dir.resolve()
    try:
        patched = (source / "conf" / "mfcc.conf").read_text(encoding="utf-8").rstrip("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(f"{source}/conf/mfcc.conf: cannot read ({error})") from None
    patched += f"\n{_NO_DITHER}\n"
    key = hashlib.sha256(f"{source}\n{patched}".encode()).hexdigest()[:16]
    overlays = cache_root() / "vosk-overlays"
    overlay = overlays / f"{source.name}-{key}"
    if _overlay_matches(overlay, source):
        return overlay
    try:
        overlays.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=overlays, prefix=".build-"))
    except OSError as error:
        raise ModelError(f"{overlays}: cannot create ({error.strerror})") from None
    try:
        for entry in source.iterdir():
            if entry.name != "conf":
                (staging / entry.name).symlink_to(entry)
        (staging / "conf").mkdir()
        for entry in (source / "conf").iterdir():
            if entry.name != "mfcc.conf":
                (staging / "conf" / entry.name).symlink_to(entry)
        (staging / "conf" / "mfcc.conf").write_text(patched, encoding="utf-8")
        if overlay.exists():
            shutil.rmtree(overlay, ignore_errors=True)
        try:
            staging.rename(overlay)
        except OSError:
            if not _overlay_matches(overlay, source):
                raise
    except OSError as error:
        raise ModelError(f"{overlay}: cannot build the overlay ({error.strerror})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return overlay


def _overlay_matches(overlay: Path, source: Path) -> bool:
    """An existing overlay is reused only if it still mirrors every file of the model."""
    if not looks_like_vosk_model(overlay):
        return False
    wanted = {entry.name for entry in source.iterdir()}
    wanted_conf = {entry.name for entry in (source / "conf").iterdir()}
    present = {entry.name for entry in overlay.iterdir()}
    present_conf = {entry.name for entry in (overlay / "conf").iterdir()}
    return wanted == present and wanted_conf == present_conf
