"""A fleet worker: takes scheduled runs from the queue and calls them, N lines at a time.

procrastinate runs up to `lines` jobs at once, each holding its target line's lock, so the
fleet never places two calls on one line at once. The worker sends a heartbeat every
`heartbeat_s`; every worker also looks, as often, for jobs of workers silent for
`stalled_after_s` (killed, frozen, cut off) and puts them back in the queue. The worker that
takes such a job back first hangs up the legs the dead worker's attempts left
(shopper.monitor.fleet.hangup), then calls again. A run whose result is already in (its
worker died after saving it) is not called again.

On SIGTERM or Ctrl-C the worker takes no new job and lets its calls finish for up to
`shutdown_grace_s`; calls still going then are hung up and their runs go back in the queue
for another worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import procrastinate
import psycopg
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from procrastinate.worker import Worker
from psycopg_pool import AsyncConnectionPool

from shopper.errors import ShopperError
from shopper.monitor.fleet import ledger
from shopper.monitor.fleet.hangup import HangUp, Leg, hang_up_leftover
from shopper.monitor.fleet.queue import QUEUE, TASK, fleet_app, prepare
from shopper.monitor.fleet.runs import FleetRun
from shopper.monitor.records import RunRecord

log = logging.getLogger(__name__)

RunCall = Callable[[FleetRun, Callable[[Leg], None]], Awaitable[RunRecord]]
"""Places a run's call (with the check's retries) and returns its record; it reports the
carrier leg of each call it places, as soon as it is placed, through the callback."""

_RETRY_STALLED = """
SELECT procrastinate_retry_job_v2(id, now(), NULL, NULL, NULL)
  FROM (SELECT job.id
          FROM procrastinate_jobs AS job
          LEFT JOIN procrastinate_workers AS worker ON worker.id = job.worker_id
         WHERE job.status = 'doing' AND job.queue_name = %(queue)s
           AND (worker.id IS NULL
                OR worker.last_heartbeat < now() - make_interval(secs => %(stalled)s))
           FOR UPDATE OF job SKIP LOCKED) AS stalled
"""
"""Put back the jobs of silent workers, in one statement: the rows stay locked from the check
to the retry, so a job another worker already took back (and is running) is never put back
twice (procrastinate's get_stalled_jobs then retry_job leave that window open). Uses
procrastinate's SQL API of the pinned version."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSettings:
    dsn: str
    lines: int
    """Calls at once on this worker (each on a different target line)."""
    name: str = ""
    """Shown in the attempts table and the logs; default host-pid."""
    heartbeat_s: float = 10.0
    stalled_after_s: float = 30.0
    """A worker silent this long is taken for dead and its runs are called again: keep it
    well above `heartbeat_s` (a busy but live worker must not lose its calls)."""
    shutdown_grace_s: float = 120.0

    def checked(self) -> WorkerSettings:
        if self.lines < 1:
            raise ShopperError(f"--lines {self.lines}: a worker needs at least 1 line")
        if self.stalled_after_s < 2 * self.heartbeat_s:
            raise ShopperError(
                f"--stalled-after {self.stalled_after_s:g}s must be at least twice "
                f"--heartbeat {self.heartbeat_s:g}s, or live workers would look dead"
            )
        if self.name:
            return self
        return replace(self, name=f"{socket.gethostname()}-{os.getpid()}")


class _RetryWhenStopped(BaseRetryStrategy):
    """A run goes back in the queue when its worker stopped it (shutdown) or lost the
    database mid-run; any other error is a bug, and repeating it would not help."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        stopped = (asyncio.CancelledError, procrastinate.exceptions.JobAborted)
        if isinstance(exception, stopped):
            return RetryDecision(retry_in={"seconds": 0})
        if isinstance(exception, psycopg.OperationalError):
            return RetryDecision(retry_in={"seconds": 5})
        return None


class FleetWorker:
    def __init__(
        self, settings: WorkerSettings, run_call: RunCall, hang_up: HangUp = hang_up_leftover
    ) -> None:
        self.settings = settings.checked()
        self._run_call = run_call
        self._hang_up = hang_up
        self._pool = AsyncConnectionPool(
            settings.dsn,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=2 * settings.lines + 2,
            open=False,
            check=AsyncConnectionPool.check_connection,
        )

    async def serve(self, stop: asyncio.Event) -> None:
        """Take and call runs until `stop` is set, then shut down gracefully."""
        settings = self.settings
        await prepare(settings.dsn)
        app = fleet_app(settings.dsn, max_connections=settings.lines + 3)
        app.task(name=TASK, queue=QUEUE, pass_context=True, retry=_RetryWhenStopped())(self._job)
        await self._pool.open()
        watching = asyncio.create_task(self._put_back_stalled())
        try:
            async with app.open_async():
                while not stop.is_set():
                    await self._take_runs(app, stop)
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
            await self._pool.close()

    async def _take_runs(self, app: procrastinate.App, stop: asyncio.Event) -> None:
        """One procrastinate worker, until `stop` or until it stops by itself.

        procrastinate's heartbeat task ends at its first database error (a restart of
        PostgreSQL): the worker goes on taking jobs but looks dead, and its calls would be
        placed again by others. This worker's own heartbeat (`_keep_alive`) goes on through
        such errors. Should procrastinate's worker stop by itself after a database error, a
        new one takes runs."""
        settings = self.settings
        worker = Worker(
            app=app,
            queues=[QUEUE],
            name=settings.name,
            concurrency=settings.lines,
            install_signal_handlers=False,
            update_heartbeat_interval=settings.heartbeat_s,
            stalled_worker_timeout=settings.stalled_after_s,
            shutdown_graceful_timeout=settings.shutdown_grace_s,
            fetch_job_polling_interval=min(5.0, settings.heartbeat_s),
            delete_jobs="never",  # the reporting monitor prunes (keep_days)
        )
        working = asyncio.create_task(worker.run())  # type: ignore[no-untyped-call]
        beating = asyncio.create_task(self._keep_alive(worker))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not working.done():
                working.cancel()  # a graceful shutdown (shutdown_grace_s for the calls)
            await asyncio.gather(working, return_exceptions=True)
        finally:
            beating.cancel()
            stopping.cancel()
        error = None if working.cancelled() else working.exception()
        if error is not None and not isinstance(
            error, procrastinate.exceptions.ConnectorException | psycopg.Error
        ):
            raise ShopperError(f"the worker stopped: {error!r}")
        if not stop.is_set():
            log.warning("taking runs again after losing the database (%s)", error)
            await asyncio.sleep(settings.heartbeat_s)

    async def _keep_alive(self, worker: Worker) -> None:
        """The worker's heartbeat, kept up through database errors (procrastinate's own
        ends at the first), for as long as the worker runs."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            if worker.worker_id is None:
                continue
            try:
                async with self._pool.connection() as connection:
                    await connection.execute(
                        "UPDATE procrastinate_workers SET last_heartbeat = now() WHERE id = %s",
                        (worker.worker_id,),
                    )
            except psycopg.Error as error:
                log.debug("heartbeat: %s", error)

    async def _put_back_stalled(self) -> None:
        """Every heartbeat, put back the runs of workers silent for `stalled_after_s`, but only
        once this worker has itself been connected that long: after a database outage every
        heartbeat is old, and live workers must first have had the time to send a new one."""
        clock = asyncio.get_running_loop().time
        connected_since = clock()
        server_started: object = None
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                async with self._pool.connection() as connection:
                    started = await connection.execute("SELECT pg_postmaster_start_time()")
                    row = await started.fetchone()
                    if row is None or row[0] != server_started:  # first look, or a restart
                        server_started = None if row is None else row[0]
                        connected_since = clock()
                    if clock() - connected_since < self.settings.stalled_after_s:
                        continue
                    back = await connection.execute(
                        _RETRY_STALLED,
                        {"queue": QUEUE, "stalled": self.settings.stalled_after_s},
                    )
                    if back.rowcount:
                        log.warning("put back %d run(s) of silent workers", back.rowcount)
            except psycopg.Error as error:
                log.warning("could not look for silent workers' runs: %s", error)
                connected_since = clock()

    async def _job(self, _context: JobContext, /, **args: Any) -> None:
        run = FleetRun.from_job(args)
        async with self._pool.connection() as connection:
            if await ledger.has_result(connection, run.run_id):
                log.info("%s: its result is already in; not calling again", run.run_id)
                return
            for left in await ledger.unfinished_attempts(connection, run.run_id):
                note = "no call was placed" if left.leg is None else await self._hang_up(left.leg)
                await ledger.note_hang_up(connection, left, note)
                log.warning("%s attempt %d (%s): %s", run.run_id, left.attempt, left.worker, note)
            attempt = await ledger.start_attempt(
                connection, run.run_id, self.settings.name, run.line
            )
        saving: list[asyncio.Task[None]] = []

        def placed(leg: Leg) -> None:
            # A leg is reported again once a SIP call is answered: saved in order, the last wins.
            after = saving[-1] if saving else None
            saving.append(asyncio.create_task(self._save_leg(run.run_id, attempt, leg, after)))

        try:
            record = await self._run_call(run, placed)
        except asyncio.CancelledError:
            # The worker is stopping: run_check hung the call up; the run goes back in the
            # queue (_RetryWhenStopped) and this attempt needs no hanging up by the next.
            async with self._pool.connection() as connection:
                await ledger.stopped_attempt(connection, run.run_id, attempt)
            raise
        await asyncio.gather(*saving)
        async with self._pool.connection() as connection:
            await ledger.save_result(connection, attempt, record)

    async def _save_leg(
        self, run_id: str, attempt: int, leg: Leg, after: asyncio.Task[None] | None
    ) -> None:
        if after is not None:
            await asyncio.gather(after, return_exceptions=True)
        async with self._pool.connection() as connection:
            await ledger.save_leg(connection, run_id, attempt, leg)
