"""Running a schedule: every check fired on its cadence in one asyncio process.

APScheduler 3.x (AsyncIOScheduler) keeps the clock: it wakes at each check's next fire time
and hands the fire over; everything after that is here, in `Monitor.fire`, which tests
drive directly with any fire time (no real minutes are waited through):

- a fire is skipped and recorded (`SkippedRun`) when the check's previous run is still going
  (`overlap`), outside its active hours (`inactive`) or in a maintenance window;
- otherwise the `Dispatch` decides what the fire does (place the call here, or enqueue it
  for a fleet), and the run it returns is put in the history before any observer is told.

Missed runs are never replayed: jobs are added afresh at start, so a monitor that was
stopped for an hour starts with the next fire time after now, and a loop that fell behind
(a suspended laptop) fires the latest missed time once (coalesced), not every one of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from shopper.errors import ShopperError
from shopper.monitor.cadence import cadence_of
from shopper.monitor.calendar import closed_reason
from shopper.monitor.checks import Clock, ScheduledRun, utc_now
from shopper.monitor.dispatch import Dispatch, DispatchResult
from shopper.monitor.history import History
from shopper.monitor.observers import RunObserver
from shopper.monitor.records import RunRecord, SkippedRun
from shopper.monitor.spec import CheckSpec, Schedule

Warn = Callable[[str], None]
_log = logging.getLogger(__name__)


class Monitor:
    """A schedule's checks, their runs and skips recorded in `history`, each then reported
    to every observer in order (alerts before the dashboard that shows them)."""

    def __init__(
        self,
        schedule: Schedule,
        history: History,
        dispatch: Dispatch,
        observers: Sequence[RunObserver] = (),
        *,
        warn: Warn = _log.warning,
        clock: Clock = utc_now,
    ) -> None:
        self.schedule = schedule
        self.history = history
        self.dispatch = dispatch
        self.observers = list(observers)
        self._warn = warn
        self._clock = clock
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_fire: Callable[[asyncio.Task[None]], None] | None = None
        """Sees the task of every fire APScheduler starts (`shopper monitor` hands each to
        its Ctrl-C/SIGTERM handling)."""

    @property
    def running(self) -> frozenset[str]:
        """The checks with a run in progress."""
        return frozenset(self._running)

    async def fire(self, check: CheckSpec, scheduled_at: datetime) -> None:
        """One fire of `check` due at `scheduled_at`: skipped and recorded, or dispatched and
        its run recorded. Cancelled (a signal), the dispatch hangs up its call and nothing
        is recorded for the run."""
        reason = (
            "overlap"
            if check.name in self._running
            else closed_reason(check, scheduled_at, self.schedule.timezone)
        )
        if reason is not None:
            skip = SkippedRun(check=check.name, scheduled_at=scheduled_at, reason=reason)
            await self._record(skip)
            return
        run = ScheduledRun(check=check, scheduled_at=scheduled_at)
        self._running.add(check.name)
        try:
            result = await self._dispatched(run)
        finally:
            self._running.discard(check.name)
        await self._record(result)

    async def _dispatched(self, run: ScheduledRun) -> DispatchResult:
        started = self._clock()
        try:
            return await self.dispatch(run)
        except ShopperError as error:
            # e.g. the output folder cannot be written: the run happened and failed
            return RunRecord(
                run_id=run.run_id,
                check=run.check.name,
                scheduled_at=run.scheduled_at,
                started_at=started,
                ended_at=self._clock(),
                outcome="error",
                attempts=1,
                failure_kind="error",
                failure_message=str(error),
            )

    async def _record(self, result: DispatchResult) -> None:
        if isinstance(result, RunRecord):
            self.history.add_run(result)
        elif isinstance(result, SkippedRun):
            self.history.add_skip(result)
        else:
            return
        for observer in self.observers:
            try:
                if isinstance(result, RunRecord):
                    await observer.run_ended(result)
                else:
                    await observer.run_skipped(result)
            except Exception as error:  # one broken observer must not stop the monitoring
                self._warn(f"{type(observer).__name__} failed on {_name(result)}: {error!r}")

    # -- on the clock ------------------------------------------------------------------

    def start_fire(self, check: CheckSpec, *run_times: datetime) -> None:
        """APScheduler's job function: fire the latest of the job's due times as a task."""
        task = asyncio.get_running_loop().create_task(self.fire(check, run_times[-1]))
        self._tasks.add(task)
        task.add_done_callback(self._fire_ended)
        if self.on_fire is not None:
            self.on_fire(task)

    def _fire_ended(self, task: asyncio.Task[None]) -> None:
        """Forget the fire; say what went wrong if it failed (a bug, not a failed call: those
        are runs), so the monitor goes on with the next fires instead of dying silently."""
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self._warn(f"a scheduled run failed unexpectedly: {error!r}")

    def scheduler(self) -> AsyncIOScheduler:
        """An APScheduler with one job per check, not started."""
        scheduler = AsyncIOScheduler(
            timezone=self.schedule.timezone,
            executors={"default": _FireExecutor()},
            job_defaults={"coalesce": True, "misfire_grace_time": None},
        )
        for check in self.schedule.checks:
            scheduler.add_job(
                self.start_fire,
                cadence_of(check, self.schedule.timezone),
                args=(check,),
                id=check.name,
                name=check.name,
            )
        return scheduler

    async def run(self) -> None:
        """Fire every check on its cadence until cancelled; then stop the clock, cancel the
        runs in progress (their calls hung up, their evidence written) and wait for them."""
        scheduler = self.scheduler()
        scheduler.start()
        try:
            await asyncio.Event().wait()
        finally:
            scheduler.shutdown(wait=False)
            await self.stop_runs()

    async def stop_runs(self) -> None:
        for task in list(self._tasks):
            task.cancel(msg="the monitor is stopping")
        await asyncio.gather(*self._tasks, return_exceptions=True)


class _FireExecutor(BaseExecutor):  # type: ignore[misc]
    """Calls the job's function with its due times, which APScheduler's own executors do not
    pass on (the run id is made from them). It keeps no count of instances: overlapping runs
    are the Monitor's to skip and record."""

    def submit_job(self, job: Job, run_times: list[datetime]) -> None:
        self._do_submit_job(job, run_times)

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        job.func(*job.args, *run_times)


def _name(result: RunRecord | SkippedRun) -> str:
    if isinstance(result, RunRecord):
        return result.run_id
    return f"{result.check} ({result.reason})"
