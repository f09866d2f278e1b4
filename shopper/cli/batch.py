"""Several calls at once for `shopper run --parallel N`: at most N in progress, each one's
result handed over as soon as it ends, whatever order they end in.

The calls share one event loop and one speech engine (its worker processes already serve
concurrent calls), rather than a process each as the crawl's lines do: a process per call
would load the model again (~2 s of CPU, ~800 MB) for every line. When one loop's core is
not enough (`--processes K`), each job hands its call to one of K call hosts, each of which
runs many calls (shopper.hosts.pool); the jobs still run here. How fast and how many calls
reach one target is not decided here but by every call's turn (shopper.carriers.pacing), so
the same caps hold for the Python API and the pytest plugin.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from shopper.cli.interrupts import Interrupts

T = TypeVar("T")

Job = Callable[[], Coroutine[Any, Any, T]]
"""One call to make: returns its record, also when a signal cancelled it (the call was hung
up and its evidence kept); ends cancelled when it was stopped before it was dialled."""


async def run_at_most(
    jobs: Sequence[Job[T]],
    at_once: int,
    stop: Interrupts,
    on_end: Callable[[int, T], None],
) -> None:
    """Run `jobs`, at most `at_once` at a time in the order given; `on_end(index, result)` as
    each ends (those ending together in the order given).

    A signal cancels every job in progress and starts no further one. A job that raises (an
    error no call can carry, e.g. its folder cannot be written) hangs up the others, whose
    records are still handed over, and is raised once they have ended."""
    waiting = deque(enumerate(jobs))
    running: dict[asyncio.Task[T], int] = {}
    error: BaseException | None = None
    try:
        while True:
            while waiting and len(running) < at_once and not stop.signal_name and not error:
                index, job = waiting.popleft()
                task = asyncio.create_task(job())
                stop.cancels(task)
                running[task] = index
            if not running:
                break
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=running.__getitem__):
                index = running.pop(task)
                if task.cancelled():
                    continue  # stopped before it was dialled: nothing to hand over
                failed = task.exception()
                if failed is None:
                    on_end(index, task.result())
                elif error is None:
                    error = failed
                    for other in running:
                        other.cancel(msg=f"hung up: another call failed ({failed})")
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    if error is not None:
        raise error
