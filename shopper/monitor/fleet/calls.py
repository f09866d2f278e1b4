"""A worker's call of a run: the check as the schedule file says now, through `run_check`.

The job names the schedule file and the check; the worker reads the file for every run (like
`run_check` reads the script), so an edited schedule or script takes effect at the next run
on every worker without restarting it. A check the file no longer has, or a file that no
longer loads, is a run with outcome `error` and the one-line reason, like a script that no
longer loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from shopper.errors import ShopperError
from shopper.monitor.checks import CheckContext, ScheduledRun, run_check
from shopper.monitor.fleet.hangup import Leg, follow_legs
from shopper.monitor.fleet.runs import FleetRun
from shopper.monitor.records import RunRecord
from shopper.monitor.spec import CheckSpec, Schedule
from shopper.scripts.runner import CallContext

LoadSchedule = Callable[[Path], Schedule]


class CheckCalls:
    """A worker's `RunCall`: finds the run's check and calls it with `context`."""

    def __init__(self, context: CheckContext, load: LoadSchedule) -> None:
        self._context = context
        self._load = load

    async def __call__(self, run: FleetRun, placed: Callable[[Leg], None]) -> RunRecord:
        try:
            check = self._check(run)
        except ShopperError as error:
            now = datetime.now(UTC)
            return RunRecord(
                run_id=run.run_id,
                check=run.check,
                scheduled_at=run.scheduled_at,
                started_at=now,
                ended_at=now,
                outcome="error",
                attempts=0,
                failure_kind="error",
                failure_message=str(error),
            )

        def on_call(call: CallContext) -> None:
            follow_legs(call.session.call, placed)

        context = replace(self._context, on_call=on_call)
        return await run_check(ScheduledRun(check=check, scheduled_at=run.scheduled_at), context)

    def _check(self, run: FleetRun) -> CheckSpec:
        schedule = self._load(Path(run.schedule))
        for check in schedule.checks:
            if check.name == run.check:
                return check
        raise ShopperError(
            f"{run.schedule}: no check named {run.check!r} any more (run {run.run_id}); "
            "workers and monitors must read the same schedule file"
        )
