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
from shopper.monitor.checks import CheckContext, ScheduledRun, call_folder, run_check
from shopper.monitor.fleet.evidence import EvidenceLedger
from shopper.monitor.fleet.hangup import Leg, follow_legs
from shopper.monitor.fleet.runs import FleetRun
from shopper.monitor.records import RunRecord
from shopper.monitor.spec import CheckSpec, Schedule
from shopper.scripts.runner import CallContext

LoadSchedule = Callable[[Path], Schedule]


class CheckCalls:
    """A worker's `RunCall`: finds the run's check and calls it with `context`.

    With `evidence`, each call folder is entered in the worker's ledger as its call is placed
    (to expire the schedule's `keep_days` later) and marked ended with its run, for the
    worker's retention (shopper.monitor.fleet.evidence)."""

    def __init__(
        self, context: CheckContext, load: LoadSchedule, evidence: EvidenceLedger | None = None
    ) -> None:
        self._context = context
        self._load = load
        self._evidence = evidence

    async def __call__(self, run: FleetRun, placed: Callable[[Leg], None]) -> RunRecord:
        try:
            schedule, check = self._check(run)
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
            if self._evidence is not None:
                folder = call_folder(self._context.out, check.name, call.call_id)
                at = self._context.clock()
                self._evidence.placed(folder.absolute(), run.run_id, at, schedule.keep_days)
            follow_legs(call.session.call, placed)

        context = replace(self._context, on_call=on_call)
        try:
            return await run_check(
                ScheduledRun(check=check, scheduled_at=run.scheduled_at), context
            )
        finally:
            if self._evidence is not None:
                self._evidence.ended(run.run_id)

    def _check(self, run: FleetRun) -> tuple[Schedule, CheckSpec]:
        schedule = self._load(Path(run.schedule))
        for check in schedule.checks:
            if check.name == run.check:
                return schedule, check
        raise ShopperError(
            f"{run.schedule}: no check named {run.check!r} any more (run {run.run_id}); "
            "workers and monitors must read the same schedule file"
        )
