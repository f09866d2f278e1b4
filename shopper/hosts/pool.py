"""Call hosts: K worker processes, each with its own event loop and speech engine, each
running many calls at once (`shopper run --processes K`, `shopper bench load --processes K`).

One event loop runs on one core. A real-time call costs its process CPU beyond speech (the
ear's classifiers, RTP in and out, the session, the frame iterator, the loop itself: about
1.7 CPU-seconds per call-minute, docs/benchmarks.md), so one process falls behind the wire
once that times the calls in progress exceeds its core, whatever the speech workers do.
Hosts spread the calls over one loop per core.

The parent stays the scheduler: it waits for each target's turn (shopper.carriers.pacing, so
the per-target caps hold across every host), hands the call to the least busy host, and
releases the turn when the host reports the call ended. A call's live events and its result
come back as they happen, over one queue, as the picklable objects they are.

Stopping is shopper's decision, never a host's (shopper.hosts.processes): a host ignores
Ctrl-C and SIGTERM and ends with shopper. A signal cancels the parent's wait for a call, which
asks the host to hang that call up with the same reason, through the carrier, and the call's
record still comes back. `hang_up` (a failed run) hangs up every call of every host. A host
that dies fails the calls it had with `HostDied`, a one-line error; the others go on.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import math
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import wait as wait_for_any
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from types import TracebackType
from typing import Protocol, TypeVar, cast

from shopper.asr.types import SpeechEngine
from shopper.carriers.pacing import TargetCaps
from shopper.errors import ShopperError
from shopper.hosts.processes import leave_stopping_to_shopper, signals_held

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

Emit = Callable[[object], None]
"""How a job in a host sends something to the parent while it runs (picklable objects)."""
EngineRecipe = Callable[[], SpeechEngine]
"""How a host makes its speech engine: picklable (a module-level function, or a
functools.partial of one)."""

ALREADY_PACED = TargetCaps(at_once=sys.maxsize, per_second=math.inf)
"""The caps a call dialled in a host is given: the parent has already waited for its
target's turn under the real caps."""
HUNG_UP = "hung up: the run was stopped"
"""Why a call `CallHosts.hang_up` ended, in its result (failure message)."""
DIED_GRACE_S = 1.0
"""After a host's end is seen, how long what it sent before it ended is awaited before its
calls are declared lost (the queue's pipe may still hold a result)."""
JOIN_S = 60.0
"""How long a closing pool waits for a host to end before killing it."""


class HostJob(Protocol[T_co]):
    """A call for a host: picklable, run on the host's event loop with the host's engine.
    Cancelled (hung up), it may still return its record, as `run_script` does."""

    async def run(self, engine: SpeechEngine, emit: Emit) -> T_co: ...


class HostDied(ShopperError):
    """The host placing a call ended under it (killed, out of memory): the call is lost."""


class HostCallFailed(ShopperError):
    """A call raised in its host: the one-line error it raised there."""


@dataclass(frozen=True, slots=True)
class _Place:
    call: int
    job: HostJob[object]


@dataclass(frozen=True, slots=True)
class _HangUp:
    call: int
    reason: str


@dataclass(frozen=True, slots=True)
class _HangUpAll:
    """Parent to host: hang up every call and place no more (the run is stopping)."""


_CLOSE = None
"""Parent to host: place no more calls, end once those in progress have ended."""


@dataclass(frozen=True, slots=True)
class _Ready:
    host: int
    engine: str


@dataclass(frozen=True, slots=True)
class _Unusable:
    host: int
    message: str


@dataclass(frozen=True, slots=True)
class _Emitted:
    call: int
    item: object


@dataclass(frozen=True, slots=True)
class _Ended:
    call: int
    result: object
    dialled: bool = True
    """False: hung up before it was dialled; no record."""


@dataclass(frozen=True, slots=True)
class _Failed:
    call: int
    message: str


_Report = _Ready | _Unusable | _Emitted | _Ended | _Failed


def one_line(error: BaseException) -> str:
    """A job's error as one line for the parent (a ShopperError already is one)."""
    if isinstance(error, ShopperError):
        return str(error)
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# --- in a host process -------------------------------------------------------------------


def _host_main(
    host: int,
    shopper_pid: int,
    inbox: Queue[object],
    outbox: Queue[bytes | None],
    recipe: EngineRecipe,
    preload: tuple[str, ...],
) -> None:
    """A host process: its engine, then its loop, until the parent closes it."""
    leave_stopping_to_shopper(shopper_pid)
    for module in preload:
        importlib.import_module(module)
    try:
        engine = recipe()
    except ShopperError as error:
        outbox.put(pickle.dumps(_Unusable(host, str(error))))
        return
    outbox.put(pickle.dumps(_Ready(host, engine.name)))
    asyncio.run(_Host(inbox, outbox, engine).serve())


class _Host:
    """A host's calls, on its event loop, fed by a daemon thread reading the parent's
    requests (so the loop needs no polling, and the thread never keeps the host alive).

    The hang-up of everything comes over the same queue, not as a multiprocessing.Event as
    for the crawl's lines: setting such an Event waits for every process waiting on it to
    wake, and a host killed while waiting never does; the parent would hang there."""

    def __init__(
        self, inbox: Queue[object], outbox: Queue[bytes | None], engine: SpeechEngine
    ) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._engine = engine
        self._calls: dict[int, asyncio.Task[object]] = {}
        self._stopped = False
        self._closing = False
        self._ended = asyncio.Event()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._receive, args=(loop,), daemon=True).start()
        await self._ended.wait()

    def _receive(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                request = self._inbox.get()
            except (EOFError, OSError):
                request = _CLOSE  # the parent has gone
            loop.call_soon_threadsafe(self._take, request)
            if request is _CLOSE:
                return

    def _take(self, request: object) -> None:
        if isinstance(request, _Place):
            if self._stopped:
                self._send(_Ended(request.call, None, dialled=False))
                return
            job = request.job.run(self._engine, partial(self._emit, request.call))
            task = asyncio.create_task(job)
            self._calls[request.call] = task
            task.add_done_callback(partial(self._call_ended, request.call))
        elif isinstance(request, _HangUp):
            if (placed := self._calls.get(request.call)) is not None:
                placed.cancel(msg=request.reason)
        elif isinstance(request, _HangUpAll):
            self._hang_up_all()
        else:
            self._closing = True
            self._end_if_idle()

    def _hang_up_all(self) -> None:
        self._stopped = True
        for task in self._calls.values():
            task.cancel(msg=HUNG_UP)

    def _emit(self, call: int, item: object) -> None:
        self._send(_Emitted(call, item))

    def _call_ended(self, call: int, task: asyncio.Task[object]) -> None:
        del self._calls[call]
        if task.cancelled():
            self._send(_Ended(call, None, dialled=False))
        elif (error := task.exception()) is not None:
            self._send(_Failed(call, one_line(error)))
        else:
            self._send(_Ended(call, task.result()))
        self._end_if_idle()

    def _send(self, report: _Report) -> None:
        """Pickled here, so that what cannot be sent fails the call, not the queue's thread."""
        try:
            data = pickle.dumps(report)
        except Exception as error:
            if isinstance(report, _Emitted):
                return  # a live event that cannot travel is not worth the call
            call = report.call if isinstance(report, _Ended | _Failed) else -1
            data = pickle.dumps(_Failed(call, f"its result could not be sent: {one_line(error)}"))
        self._outbox.put(data)

    def _end_if_idle(self) -> None:
        if self._closing and not self._calls:
            self._ended.set()


# --- in shopper's process ----------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    host: int
    outcome: asyncio.Future[_Ended | _Failed | HostDied]
    on_emit: Emit | None


class CallHosts:
    """`hosts` call host processes; `async with`, then `place` calls on them."""

    def __init__(self, hosts: int, engine: EngineRecipe, preload: tuple[str, ...] = ()) -> None:
        """`preload`: modules each host imports as it starts, those of the jobs it will be
        given (else the first job's unpickling imports them, seconds on a loaded machine,
        and that call is dialled late)."""
        context = multiprocessing.get_context("spawn")
        self._outbox: Queue[bytes | None] = context.Queue()
        self._inboxes: list[Queue[object]] = [context.Queue() for _ in range(hosts)]
        self._processes: list[SpawnProcess] = [
            context.Process(
                target=_host_main,
                args=(number, os.getpid(), inbox, self._outbox, engine, preload),
                name=f"shopper call host {number + 1}",
            )
            for number, inbox in enumerate(self._inboxes)
        ]
        self._busy = [0] * hosts
        self._dead: dict[int, str] = {}
        self._calls: dict[int, _Pending] = {}
        self._numbers = itertools.count()
        self._closing = False
        self._ready: asyncio.Future[None] | None = None
        self._waiting_for = set(range(hosts))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: threading.Thread | None = None
        self.engine_name = ""

    @property
    def pids(self) -> tuple[int, ...]:
        """The host processes (their speech workers are their children)."""
        return tuple(process.pid for process in self._processes if process.pid is not None)

    async def __aenter__(self) -> CallHosts:
        """Start the hosts and wait until each has its engine (an engine that cannot be
        used is a one-line error here, before any call)."""
        self._loop = asyncio.get_running_loop()
        self._ready = self._loop.create_future()
        with signals_held():
            for process in self._processes:
                process.start()
        self._reader = threading.Thread(target=self._receive, name="host reports", daemon=True)
        self._reader.start()
        threading.Thread(target=self._watch_hosts, name="host deaths", daemon=True).start()
        try:
            await self._ready
        except BaseException:
            await self._close(failed=True)
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close(failed=kind is not None)

    async def place(
        self, job: HostJob[T], on_emit: Emit | None = None, host: int | None = None
    ) -> T:
        """Place the call on `host` (default: the least busy); its result once it ended.

        Cancelled, the host hangs the call up with the cancellation's message and its
        result still comes back; a call hung up before it was dialled ends cancelled. Raises
        HostCallFailed when the job raised in its host, HostDied when the host ended."""
        assert self._loop is not None, "use CallHosts as `async with`"
        number = self._least_busy() if host is None else host
        if number in self._dead:
            raise HostDied(self._dead[number])
        call = next(self._numbers)
        outcome: asyncio.Future[_Ended | _Failed | HostDied] = self._loop.create_future()
        self._calls[call] = _Pending(number, outcome, on_emit)
        self._busy[number] += 1
        try:
            self._inboxes[number].put(_Place(call, cast("HostJob[object]", job)))
            while not outcome.done():
                try:
                    await asyncio.shield(outcome)
                except asyncio.CancelledError as cancelled:
                    if outcome.done():
                        break
                    reason = str(cancelled.args[0]) if cancelled.args else HUNG_UP
                    self._inboxes[number].put(_HangUp(call, reason))
        finally:
            del self._calls[call]
            self._busy[number] -= 1
        ended = outcome.result()
        if isinstance(ended, HostDied):
            raise ended
        if isinstance(ended, _Failed):
            raise HostCallFailed(ended.message)
        if not ended.dialled:
            raise asyncio.CancelledError(HUNG_UP)
        return cast(T, ended.result)

    def hang_up(self) -> None:
        """Hang up every call of every host and place no more: the run is stopping."""
        for inbox in self._inboxes:
            inbox.put(_HangUpAll())

    def _least_busy(self) -> int:
        alive = [number for number in range(len(self._processes)) if number not in self._dead]
        if not alive:
            raise HostDied(next(iter(self._dead.values())))
        return min(alive, key=lambda number: (self._busy[number], number))

    def _receive(self) -> None:
        """Thread: the hosts' reports, unpickled off the loop and handed to it."""
        assert self._loop is not None
        while True:
            data = self._outbox.get()
            if data is None:
                return
            self._loop.call_soon_threadsafe(self._take, pickle.loads(data))

    def _take(self, report: _Report) -> None:
        if isinstance(report, _Ready | _Unusable):
            self._host_started(report)
            return
        pending = self._calls.get(report.call)
        if pending is None:
            return
        if isinstance(report, _Emitted):
            if pending.on_emit is not None:
                pending.on_emit(report.item)
        elif not pending.outcome.done():
            pending.outcome.set_result(report)

    def _host_started(self, report: _Ready | _Unusable) -> None:
        assert self._ready is not None
        self._waiting_for.discard(report.host)
        if self._ready.done():
            return
        if isinstance(report, _Unusable):
            self._ready.set_exception(ShopperError(report.message))
            return
        self.engine_name = report.engine
        if not self._waiting_for:
            self._ready.set_result(None)

    def _watch_hosts(self) -> None:
        """Thread: wait for any host to end; one that ends while the pool is open died."""
        assert self._loop is not None
        alive = {process.sentinel: number for number, process in enumerate(self._processes)}
        while alive:
            for sentinel in wait_for_any(list(alive)):
                number = alive.pop(cast(int, sentinel))
                if not self._closing:
                    self._loop.call_soon_threadsafe(
                        self._loop.call_later, DIED_GRACE_S, self._host_died, number
                    )

    def _host_died(self, number: int) -> None:
        if self._closing:
            return
        process = self._processes[number]
        code = process.exitcode
        how = (
            f"killed by {signal.Signals(-code).name}"
            if code is not None and code < 0
            else f"exit code {code}"
        )
        message = (
            f"call host {number + 1} (pid {process.pid}) ended unexpectedly ({how}); "
            "the call it was placing is lost (its recording may be partly written)"
        )
        self._dead[number] = message
        assert self._ready is not None
        if not self._ready.done():
            self._ready.set_exception(ShopperError(message))
        for pending in self._calls.values():
            if pending.host == number and not pending.outcome.done():
                pending.outcome.set_result(HostDied(message))

    async def _close(self, *, failed: bool) -> None:
        """Let the hosts end (hanging up every call first when the run failed)."""
        if failed:
            self.hang_up()
        self._closing = True
        for inbox in self._inboxes:
            inbox.put(_CLOSE)
        await asyncio.to_thread(self._join)
        self._outbox.put(None)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join)
        self._outbox.close()
        for inbox in self._inboxes:
            inbox.close()

    def _join(self) -> None:
        for process in self._processes:
            if process.pid is None:
                continue
            process.join(JOIN_S)
            if process.is_alive():
                process.kill()
                process.join()
