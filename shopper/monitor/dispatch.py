"""What a scheduled fire does: place the call in this process, or hand it to someone else.

The scheduler decides *when* a check runs and whether a fire is skipped; a `Dispatch` decides
*what* a fire that is not skipped does. `CallHere` places the call in this process
(`shopper monitor SCHEDULE`); a fleet's dispatch enqueues the run for workers on other
machines instead. Both are given the same `ScheduledRun`, whose id and jitter are derived
from the check's name and scheduled time alone, so several monitor processes that fire the
same run agree on both without talking to each other.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from shopper.monitor.checks import CheckContext, ScheduledRun, run_check
from shopper.monitor.records import RunRecord, SkippedRun

DispatchResult = RunRecord | SkippedRun | None
"""A run that ended here (recorded in the history, then observers told), a run that did not
take place after all (e.g. `queued`: one of the check's runs already waits in the fleet's
queue), or None: handed over, its result is recorded where it runs."""


class Dispatch(Protocol):
    """What a fire does. Awaited once per fire that is not skipped; the scheduler counts the
    check as running (so later fires of it are skipped as overlapping) until it returns.
    Cancelling it (Ctrl-C, SIGTERM) must hang up whatever call it placed."""

    async def __call__(self, run: ScheduledRun) -> DispatchResult: ...


class CallHere:
    """Place each run's call in this process: wait for its jitter, then `run_check`.

    `max_parallel` calls at once over all checks (the schedule's `lines.max_parallel`); a
    run waiting for a free line still counts as running, so its next fire is skipped rather
    than queued behind it. Per-target caps are the calls' own (shopper.carriers.pacing)."""

    def __init__(self, context: CheckContext, max_parallel: int) -> None:
        self._context = context
        self._lines = asyncio.Semaphore(max_parallel)

    async def __call__(self, run: ScheduledRun) -> RunRecord:
        delay = (run.due_at - self._context.clock()).total_seconds()
        if delay > 0:
            await self._context.sleep(delay)
        async with self._lines:
            return await run_check(run, self._context)
