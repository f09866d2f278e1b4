"""Crawl lines that share shopper's own process: the calls of a Twilio crawl.

A Twilio call is heard through shopper's built-in server, which Twilio reaches at the one
public URL the user gave (a tunnel to `--listen`). Lines in processes of their own would each
need a server, a port and a public URL of their own. Here every line is a task on one event
loop, in a thread of shopper's process, so all of them go through one server, one REST client
and one ledger, exactly as `shopper run --parallel` does, and the pacing caps (calls at once
and per second to the target) hold for the whole crawl rather than per line. The phone
system is remote and the recogniser runs in its own worker processes (shared by all lines),
so calls lose nothing by sharing a process; the thread keeps their real-time audio off the
loop the explorer thinks on.

Stopping is the crawl's decision, as with `Lines`: `hang_up` cancels every call in progress,
which hangs it up through the REST API (the carrier's teardown is shielded from the cancel)
and keeps its evidence, and no later call is dialled.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from pathlib import Path

from shopper.asr.selection import EngineChoice, select_engine
from shopper.carriers.twilio.runtime import close_twilio
from shopper.crawl.lines import HUNG_UP
from shopper.crawl.pathcall import CallResult, PathJob, run_path


class SharedLines:
    """Crawl calls as concurrent tasks of one event loop in a thread of this process; use as a
    context manager. The explorer keeps at most `lines` calls in progress."""

    def __init__(self, engine: EngineChoice, vosk_model: Path | None = None) -> None:
        self._engine = select_engine(
            engine, vosk_model, deterministic=True, recall_across_calls=True
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="crawl-lines", daemon=True)
        self._calls: set[asyncio.Task[CallResult]] = set()
        self._stopping = False
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def place(self, job: PathJob) -> Future[CallResult | None]:
        """Place the call now; its result is None when `hang_up` ended it first (or came
        before it was dialled)."""
        return asyncio.run_coroutine_threadsafe(self._place(job), self._loop)

    async def _place(self, job: PathJob) -> CallResult | None:
        if self._stopping:
            return None
        call = asyncio.create_task(run_path(job, self._engine))
        self._calls.add(call)
        try:
            return await call
        except asyncio.CancelledError:
            if not call.cancelled():
                raise  # this wait was cancelled, not the call: pass it on
            return None
        finally:
            self._calls.discard(call)

    def hang_up(self) -> None:
        """Hang up every call in progress and place no more: the crawl is stopping."""
        self._loop.call_soon_threadsafe(self._cancel_all)

    def _cancel_all(self) -> None:
        self._stopping = True
        for call in self._calls:
            call.cancel(msg=HUNG_UP)

    async def _close(self) -> None:
        """Wait for the calls to be over (hung up, evidence written), then close the built-in
        server and the REST client of this loop."""
        await asyncio.gather(*self._calls, return_exceptions=True)
        await close_twilio()
        await self._loop.shutdown_asyncgens()

    def __enter__(self) -> SharedLines:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.hang_up()  # the crawl failed: no call goes on for nothing
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
