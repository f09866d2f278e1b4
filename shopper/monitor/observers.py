"""What happens after a scheduled run: the parts that react to runs plug in here.

The scheduler places calls and records them; alerts, metrics and the dashboard each react to
a finished or skipped run without the scheduler knowing them. Each observer is awaited in
turn after the run is in the history, so an observer reads a history that includes it.
"""

from __future__ import annotations

from typing import Protocol

from shopper.monitor.records import RunRecord, SkippedRun


class RunObserver(Protocol):
    async def run_ended(self, run: RunRecord) -> None:
        """A run (with its retries) ended and is in the history."""

    async def run_skipped(self, skip: SkippedRun) -> None:
        """A fire time placed no call (overlap, inactive, maintenance, queued)."""
