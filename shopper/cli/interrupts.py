"""Ctrl-C and SIGTERM while calls run: the calls in progress are cancelled, which hangs them
up through the carrier and keeps their evidence, and no further call starts.

Without this, SIGINT became a KeyboardInterrupt somewhere inside a call and SIGTERM killed the
process outright: no recording, no result, and speech workers left running."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}
"""Shell convention: 128 + the signal's number."""


class Interrupts:
    """Which signal stopped the run (None: none yet), and the tasks it cancels."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def cancels(self, task: asyncio.Task[Any]) -> None:
        """A signal cancels `task` until it is done (at once if one came already): each call
        of a parallel run, or the whole crawl."""
        if self.signal_name is not None:
            task.cancel(msg=f"interrupted by {self.signal_name}")
        elif not task.done():
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def stop(self, number: signal.Signals) -> None:
        """The first signal cancels; a further one (an impatient second Ctrl-C) must not cut
        short the hang-up and the writing of the evidence the first one started."""
        if self.signal_name is not None:
            return
        self.signal_name = number.name
        for task in list(self._tasks):
            task.cancel(msg=f"interrupted by {number.name}")

    @property
    def exit_code(self) -> int | None:
        return EXIT_CODES.get(self.signal_name) if self.signal_name else None


@contextmanager
def interrupts() -> Iterator[Interrupts]:
    """Handle SIGINT and SIGTERM on the running event loop for the duration of the block."""
    loop = asyncio.get_running_loop()
    state = Interrupts()
    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, state.stop, number)
    try:
        yield state
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)
