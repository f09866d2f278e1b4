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
import contextlib
import itertools
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from pathlib import Path

from shopper.asr.selection import EngineChoice, select_engine
from shopper.asr.types import SpeechEngine
from shopper.crawl.pathcall import CallResult, PathJob, run_path
from shopper.hosts.processes import leave_stopping_to_shopper, signals_held
from shopper.monitor.fleet.hangup import Leg, follow_legs, hang_up_leftover
from shopper.scripts.runner import CallContext

HUNG_UP = "hung up: the crawl was stopped"
"""Why a call the crawl stopped ended, in its result (failure message)."""
LINE_ENDED = (
    "a crawl line's process ended unexpectedly (killed, or out of memory), and with it the "
    "calls in progress"
)
"""Why a crawl stopped when a line died: the pool cannot place calls any more."""


def line_ended(placed: asyncio.Future[CallResult | None]) -> bool:
    """Whether this finished call failed because a line's process died (every line's
    calls fail so: the process pool is broken)."""
    return isinstance(placed.exception(), BrokenProcessPool)


_engine: SpeechEngine | None = None
_hang_up: _HangUp | None = None
_legs: Queue[tuple[int, Leg] | None] | None = None


class _HangUp:
    """In a line process: the call in progress, cancelled (which hangs it up through the
    carrier) as soon as the crawl closes its end of `stop`; a call handed over after that is
    not dialled.

    The word is the end of a pipe, not a multiprocessing.Event: setting an Event waits until
    every process waiting on it has woken, and a line killed while waiting never does, so
    the crawl hung for good (Ctrl-C included) once a line had died. A closed pipe reaches
    every reader, alive or not, and also comes when shopper itself has gone. A thread waits
    on it, so the call's own loop needs no polling; it is a daemon so that it never keeps the
    line alive."""

    def __init__(self, stop: Connection) -> None:
        self._stop = stop
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._call: tuple[asyncio.AbstractEventLoop, asyncio.Task[CallResult]] | None = None
        threading.Thread(target=self._watch, name="hang-up", daemon=True).start()

    async def place(
        self, job: PathJob, engine: SpeechEngine, on_leg: Callable[[Leg], None]
    ) -> CallResult | None:
        """The call's result, or None when the crawl stopped before it ended. `on_leg` hears
        of the call's carrier leg as it is placed and answered."""

        def placed(context: CallContext) -> None:
            follow_legs(context.session.call, on_leg)

        task = asyncio.create_task(run_path(job, engine, on_placed=placed))
        with self._lock:
            if self._stopped.is_set():
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
        with contextlib.suppress(EOFError, OSError):  # nothing is ever sent: it closes
            self._stop.recv_bytes()
        with self._lock:
            self._stopped.set()
            if self._call is not None:
                loop, task = self._call
                loop.call_soon_threadsafe(partial(task.cancel, msg=HUNG_UP))


def _start_line(
    shopper_pid: int,
    stop: Connection,
    legs: Queue[tuple[int, Leg] | None],
    choice: EngineChoice,
    vosk_model: Path | None,
    speech_workers: int,
) -> None:
    """Initializer of a line process. Its engine recalls the readings of replayed prompts
    across the line's calls: a crawl calls one phone system over and over, and every call
    hears its first menus again (the fingerprint only matches a whole replay of a recording
    of 2 s or more, so a prompt cut by a key is read afresh). It reads each recording once,
    and alike on every call."""
    leave_stopping_to_shopper(shopper_pid)
    global _engine, _hang_up, _legs
    _hang_up = _HangUp(stop)
    _legs = legs
    _engine = select_engine(
        choice,
        vosk_model,
        deterministic=True,
        speech_workers=speech_workers,
        recall_across_calls=True,
    )


def _call(number: int, job: PathJob) -> CallResult | None:
    assert _engine is not None and _hang_up is not None, "set when the line's process starts"
    return asyncio.run(_hang_up.place(job, _engine, partial(_report_leg, number)))


def _report_leg(number: int, leg: Leg) -> None:
    assert _legs is not None, "set when the line's process starts"
    _legs.put((number, leg))


class Lines:
    """`lines` worker processes placing crawl calls; use as a context manager.

    Each line reports its call's carrier leg as the call is placed and answered (what a
    BYE or CANCEL from another process needs, no credentials): a line that dies cannot hang
    up, so shopper ends its call from here (`hang_up_left`), as a fleet worker ends a dead
    worker's (shopper.monitor.fleet.hangup)."""

    def __init__(self, lines: int, engine: EngineChoice, vosk_model: Path | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        stop, self._stop = context.Pipe(duplex=False)  # the lines read; the crawl closes
        self._reported: Queue[tuple[int, Leg] | None] = context.Queue()
        self._legs: dict[int, Leg] = {}
        """The latest leg of each call not yet ended, by the call's number."""
        self._ended: set[int] = set()
        """Calls whose line said how they ended (a leg reported late is not kept)."""
        self._lock = threading.Lock()
        self._numbers = itertools.count()
        self._reader = threading.Thread(target=self._read_legs, name="line legs", daemon=True)
        self._reader.start()
        self._pool = ProcessPoolExecutor(
            max_workers=lines,
            mp_context=context,
            initializer=_start_line,
            initargs=(
                os.getpid(),
                stop,
                self._reported,
                engine,
                vosk_model,
                max(1, (os.cpu_count() or 1) // lines),
            ),
        )

    def place(self, job: PathJob) -> Future[CallResult | None]:
        """Place the call on the next free line; its result is None when `hang_up` ended it
        first (or came before it was dialled)."""
        number = next(self._numbers)
        with signals_held():
            placed = self._pool.submit(_call, number, job)
        placed.add_done_callback(partial(self._settled, number))
        return placed

    def hang_up(self) -> None:
        """Hang up every call in progress and place no more: the crawl is stopping."""
        self._stop.close()

    async def hang_up_left(self) -> list[str]:
        """After a line died: end through its carrier every call whose line could not say
        it ended (the dead line's; the others' too, as the broken pool lost their results:
        a call its own line hung up meanwhile is noted as already gone). What was done."""
        with self._lock:
            legs = list(self._legs.values())
            self._legs.clear()
        return [await hang_up_leftover(leg) for leg in legs]

    def _settled(self, number: int, placed: Future[CallResult | None]) -> None:
        """A call's line said how it ended: its leg is no longer needed (a call whose pool
        broke keeps it, for `hang_up_left`)."""
        if placed.cancelled() or not isinstance(placed.exception(), BrokenProcessPool):
            with self._lock:
                self._ended.add(number)
                self._legs.pop(number, None)

    def _read_legs(self) -> None:
        """Thread: the legs the lines report, latest per call."""
        while (reported := self._reported.get()) is not None:
            number, leg = reported
            with self._lock:
                if number not in self._ended:
                    self._legs[number] = leg

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.hang_up()  # the crawl failed: no call goes on for nothing
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._reported.put(None)
        self._reader.join()
        self._reported.close()
