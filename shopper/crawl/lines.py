"""Parallel lines: each crawl call runs in its own worker process.

The simulated phone system and the recogniser are CPU-bound, so calls gain nothing from
sharing an event loop. Each line is a process that loads its speech engine once and runs one
call at a time; the machine's cores are shared out between the lines' speech workers, since
every worker loads its own copy of the model (~2 s of CPU, ~800 MB).

Stopping is shopper's decision, never a line's: a line ignores Ctrl-C and SIGTERM (a terminal
sends Ctrl-C to every process of the group, a service manager may SIGTERM them all), and hangs
up its call when the crawl tells it to (`Lines.hang_up`). A line ends with shopper even when
shopper is killed outright, and its speech workers end with it (they end with their parent).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from multiprocessing import resource_tracker
from multiprocessing.synchronize import Event
from pathlib import Path
from types import FrameType

from shopper.asr.selection import EngineChoice, select_engine
from shopper.asr.types import SpeechEngine
from shopper.crawl.pathcall import CallResult, PathJob, run_path

_PR_SET_PDEATHSIG = 1
"""prctl option: the signal a process gets when its parent thread ends (linux/prctl.h)."""
_LEFT_TO_SHOPPER = (signal.SIGINT, signal.SIGTERM)
HUNG_UP = "hung up: the crawl was stopped"
"""Why a call the crawl stopped ended, in its result (failure message)."""

_engine: SpeechEngine | None = None
_hang_up: _HangUp | None = None


class _HangUp:
    """In a line process: the call in progress, cancelled (which hangs it up through the
    carrier) as soon as the crawl sets `stop`; a call handed over after that is not dialled.

    A thread waits on the event, so the call's own loop needs no polling; it is a daemon so
    that it never keeps the line alive."""

    def __init__(self, stop: Event) -> None:
        self._stop = stop
        self._lock = threading.Lock()
        self._call: tuple[asyncio.AbstractEventLoop, asyncio.Task[CallResult]] | None = None
        threading.Thread(target=self._watch, name="hang-up", daemon=True).start()

    async def place(self, job: PathJob, engine: SpeechEngine) -> CallResult | None:
        """The call's result, or None when the crawl stopped before it ended."""
        task = asyncio.create_task(run_path(job, engine))
        with self._lock:
            if self._stop.is_set():
                task.cancel(msg=HUNG_UP)
            self._call = (asyncio.get_running_loop(), task)
        try:
            return await task
        except asyncio.CancelledError:
            return None
        finally:
            with self._lock:
                self._call = None

    def _watch(self) -> None:
        self._stop.wait()
        with self._lock:
            if self._call is not None:
                loop, task = self._call
                loop.call_soon_threadsafe(partial(task.cancel, msg=HUNG_UP))


def _start_line(
    shopper_pid: int,
    stop: Event,
    choice: EngineChoice,
    vosk_model: Path | None,
    speech_workers: int,
) -> None:
    """Initializer of a line process."""
    _end_with_shopper(shopper_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _left_to_shopper)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _LEFT_TO_SHOPPER)
    global _engine, _hang_up
    _hang_up = _HangUp(stop)
    _engine = select_engine(choice, vosk_model, deterministic=True, speech_workers=speech_workers)


def _left_to_shopper(number: int, frame: FrameType | None) -> None:
    """SIGTERM's handler in a line: nothing. Ctrl-C is ignored outright, and so it is in the
    speech workers the line starts from their first instant (they ignore it anyway, but only
    once their imports are done). SIGTERM cannot be: an ignored signal stays ignored across
    exec, and the workers end by SIGTERM when their line ends (PR_SET_PDEATHSIG); a handler
    is reset to the default in them."""


def _end_with_shopper(shopper_pid: int) -> None:
    """Ask Linux for SIGKILL when shopper ends (prctl PR_SET_PDEATHSIG; the line ignores
    SIGTERM); if shopper already ended before the request, end now. Elsewhere the pool's
    closed pipes end the line when it next asks for work."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != shopper_pid:
        os._exit(1)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while a line may be started (the pool starts one on a call's
    submission): the line inherits the held signals and takes them only once its own
    handlers are in place. A terminal's Ctrl-C reaches every process of the group, and a line
    still importing would die of it (KeyboardInterrupt, and a broken pool for shopper).
    Held, not ignored: shopper takes a signal sent meanwhile as soon as this ends. The
    resource tracker is started first: starting it unblocks both signals (bpo-33613)."""
    resource_tracker.ensure_running()
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _LEFT_TO_SHOPPER)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _call(job: PathJob) -> CallResult | None:
    assert _engine is not None and _hang_up is not None, "set when the line's process starts"
    return asyncio.run(_hang_up.place(job, _engine))


class Lines:
    """`lines` worker processes placing crawl calls; use as a context manager."""

    def __init__(self, lines: int, engine: EngineChoice, vosk_model: Path | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._pool = ProcessPoolExecutor(
            max_workers=lines,
            mp_context=context,
            initializer=_start_line,
            initargs=(
                os.getpid(),
                self._stop,
                engine,
                vosk_model,
                max(1, (os.cpu_count() or 1) // lines),
            ),
        )

    def place(self, job: PathJob) -> Future[CallResult | None]:
        """Place the call on the next free line; its result is None when `hang_up` ended it
        first (or came before it was dialled)."""
        with _signals_held():
            return self._pool.submit(_call, job)

    def hang_up(self) -> None:
        """Hang up every call in progress and place no more: the crawl is stopping."""
        self._stop.set()

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.hang_up()  # the crawl failed: no call goes on for nothing
        self._pool.shutdown(wait=True, cancel_futures=True)
