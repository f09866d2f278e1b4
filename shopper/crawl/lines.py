"""Parallel lines: each crawl call runs in its own worker process.

The simulated phone system and the recogniser are CPU-bound, so calls gain nothing from
sharing an event loop. Each line is a process that loads its speech engine once and runs one
call at a time; the machine's cores are shared out between the lines' speech workers, since
every worker loads its own copy of the model (~2 s of CPU, ~800 MB).

Stopping is shopper's decision, never a line's (shopper.hosts.processes): a line ignores
Ctrl-C and SIGTERM and hangs up its call when the crawl tells it to (`Lines.hang_up`). A line
ends with shopper even when shopper is killed outright, and its speech workers end with it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from multiprocessing.synchronize import Event
from pathlib import Path

from shopper.asr.selection import EngineChoice, select_engine
from shopper.asr.types import SpeechEngine
from shopper.crawl.pathcall import CallResult, PathJob, run_path
from shopper.hosts.processes import leave_stopping_to_shopper, signals_held

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
    leave_stopping_to_shopper(shopper_pid)
    global _engine, _hang_up
    _hang_up = _HangUp(stop)
    _engine = select_engine(choice, vosk_model, deterministic=True, speech_workers=speech_workers)


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
        with signals_held():
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
