"""The monitor's side of a fleet: enqueue each fire, follow the results into the history.

`shopper monitor SCHEDULE --queue URL` runs the same scheduler as on one machine with
`EnqueueRuns` as its dispatch: a fire claims its run id and queues the job (or learns that
another monitor did), and returns at once. `FleetResults` then follows the fleet's results
table: every monitor copies every result into its own SQLite history (so each one's `status`
and dashboard see the whole fleet), and one monitor at a time, the one holding a PostgreSQL
advisory lock, tells the observers that notify (alerts over MQTT and webhooks) of each new
result, so a fleet with three monitors alerts once, judged against alert states the monitors
share in PostgreSQL (shopper.monitor.fleet.alerts); the views (metrics, dashboard, console)
of every monitor hear of every result. When the reporting monitor dies its session ends, the
lock is free, and another monitor takes over from the last result reported (a shared
cursor).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import procrastinate
import psycopg
from psycopg_pool import AsyncConnectionPool

from shopper.errors import ShopperError
from shopper.monitor.checks import ScheduledRun
from shopper.monitor.dispatch import DispatchResult
from shopper.monitor.fleet import ledger
from shopper.monitor.fleet.alerts import FleetAlertStates, copy_states
from shopper.monitor.fleet.enqueue import enqueue_run
from shopper.monitor.fleet.queue import REPORTER_LOCK, connect, fleet_app, prepare, safe_dsn
from shopper.monitor.fleet.runs import FleetRun
from shopper.monitor.history import History
from shopper.monitor.observers import RunObserver
from shopper.monitor.records import RunRecord, SkippedRun
from shopper.monitor.scheduler import Monitor
from shopper.monitor.spec import CheckSpec
from shopper.scripts.loader import load_script

log = logging.getLogger(__name__)

_CURSOR = "observers"
PRUNE_EVERY = timedelta(hours=1)


def line_of(check: CheckSpec) -> str:
    """The target line a check calls (`carrier:target`), the lock of its runs' jobs."""
    script = load_script(check.script)
    return f"{script.carrier}:{script.target}"


def monitor_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class EnqueueRuns:
    """A `Dispatch` that enqueues each fire for the fleet instead of calling.

    A run is due at its scheduled time plus its jitter, and its job waits until then, so the
    jitter holds in a fleet too. Returns None (handed over: its result is followed from the
    fleet's table), or a `queued` skip when a run of the check still waits."""

    def __init__(
        self,
        app: procrastinate.App,
        pool: AsyncConnectionPool,
        schedule: str,
        name: str,
    ) -> None:
        self._app = app
        self._pool = pool
        self._schedule = schedule
        self._name = name

    async def __call__(self, run: ScheduledRun) -> DispatchResult:
        fleet_run = FleetRun(
            run_id=run.run_id,
            check=run.check.name,
            scheduled_at=run.scheduled_at,
            line=line_of(run.check),
            schedule=self._schedule,
        )
        try:
            async with self._pool.connection() as connection:
                outcome = await enqueue_run(
                    self._app, connection, fleet_run, self._name, due_at=run.due_at
                )
        except psycopg.Error as error:
            raise ShopperError(f"could not enqueue {run.run_id}: {error}") from None
        if outcome == "queued":
            return SkippedRun(check=run.check.name, scheduled_at=run.scheduled_at, reason="queued")
        return None


def notifies(observer: RunObserver) -> bool:
    """Whether an observer sends notifications (alerts over MQTT and webhooks): in a fleet
    those go out from one monitor, not from each. Such an observer says so with a true
    `notifies` attribute; the others (metrics, the dashboard, the console) are views of each
    monitor's own history and hear of every result in every monitor."""
    return bool(getattr(observer, "notifies", False))


class FleetResults:
    """Copies the fleet's results into `history` and tells the observers.

    Views (every observer that does not `notify`) hear of each result that comes in while
    this monitor follows (the backlog found at its start is copied without them: they read
    the history). Notifying observers hear of each result after the fleet's shared cursor,
    only while this monitor holds the reporter lock."""

    def __init__(
        self,
        dsn: str,
        history: History,
        observers: Sequence[RunObserver],
        poll_s: float = 2.0,
        warn: Callable[[str], None] = log.warning,
        keep_days: float | None = None,
        alerts: FleetAlertStates | None = None,
    ) -> None:
        self._dsn = dsn
        self._alerts = alerts
        self._states_copied = 0
        """The last of the fleet's alert states (seq) copied into the history."""
        self._keep = None if keep_days is None else timedelta(days=keep_days)
        self._pruned_at: datetime | None = None
        self._history = history
        self._observers = list(observers)
        self._poll_s = poll_s
        self._warn = warn
        self._copied = 0
        """The last result (fleet sequence) copied into the history."""
        self._following = False
        """Past the backlog found at start: new results are news to the views."""
        self.reporting = False

    async def follow(self) -> None:
        """Follow until cancelled; reconnect after losing the database."""
        while True:
            try:
                await self._follow_once()
            except (psycopg.Error, ShopperError) as error:
                self._warn(f"lost the queue database {safe_dsn(self._dsn)}: {error}")
                self.reporting = False
                if self._alerts is not None:
                    self._alerts.use(None)
                await asyncio.sleep(self._poll_s)

    async def _follow_once(self) -> None:
        connection = await connect(self._dsn)
        try:
            while True:
                await self.catch_up(connection)
                await asyncio.sleep(self._poll_s)
        finally:
            await connection.close()

    async def catch_up(self, connection: ledger.Connection) -> None:
        """Copy every new result and tell the observers it is news to. The reporter lock is
        the connection's own session lock: it goes when the connection does."""
        self._states_copied = await copy_states(connection, self._history, self._states_copied)
        if not self.reporting:
            taken = await connection.execute("SELECT pg_try_advisory_lock(%s)", (REPORTER_LOCK,))
            row = await taken.fetchone()
            self.reporting = bool(row and row[0])
            if self.reporting:
                await self._take_over(connection)
        reported = await _cursor(connection) if self.reporting else None
        while results := await ledger.results_after(connection, self._copied):
            for result in results:
                self._history.add_run(result.record)
                self._copied = result.seq
                to_report = reported is not None and result.seq > reported
                await self._tell(
                    result.record,
                    [o for o in self._observers if (to_report if notifies(o) else self._following)],
                )
                if to_report:
                    await _advance(connection, result.seq)
        self._following = True
        if self.reporting:
            await self._prune(connection)

    async def _take_over(self, connection: ledger.Connection) -> None:
        """Now the reporter: the shared alert states go through this connection (the one
        holding the lock), and changes a dead reporter claimed but never announced go out."""
        if self._alerts is None:
            return
        self._alerts.use(connection)
        for observer in self._observers:
            resume = getattr(observer, "resume", None)
            if notifies(observer) and callable(resume):
                try:
                    await resume()
                except Exception as error:  # like _tell: the monitoring goes on
                    self._warn(f"{type(observer).__name__} could not resume: {error!r}")

    async def _prune(self, connection: ledger.Connection) -> None:
        """The reporting monitor applies the schedule's keep_days to the fleet's tables,
        at most once an hour."""
        now = datetime.now(UTC)
        if self._keep is None or (self._pruned_at and now - self._pruned_at < PRUNE_EVERY):
            return
        self._pruned_at = now
        forgotten = await ledger.forget_before(connection, now - self._keep)
        if forgotten:
            log.info("forgot %d fleet run(s) older than %s", forgotten, self._keep)

    def for_fires(self, observers: Sequence[RunObserver]) -> list[RunObserver]:
        """The observers as this monitor's scheduler should tell them of its own fires that
        placed no job (a `queued` skip, a run it could not enqueue): views always, the ones
        that notify only while this monitor reports (so alert reminders go out once)."""
        return [_WhileReporting(o, self) if notifies(o) else o for o in observers]

    async def _tell(self, run: RunRecord, observers: Sequence[RunObserver]) -> None:
        for observer in observers:
            try:
                await observer.run_ended(run)
            except Exception as error:  # one broken observer must not stop the monitoring
                self._warn(f"{type(observer).__name__} failed on {run.run_id}: {error!r}")


class _WhileReporting:
    """A notifying observer, told only while its monitor holds the reporter lock."""

    def __init__(self, observer: RunObserver, results: FleetResults) -> None:
        self._observer = observer
        self._results = results

    async def run_ended(self, run: RunRecord) -> None:
        if self._results.reporting:
            await self._observer.run_ended(run)

    async def run_skipped(self, skip: SkippedRun) -> None:
        if self._results.reporting:
            await self._observer.run_skipped(skip)


async def _cursor(connection: ledger.Connection) -> int:
    found = await connection.execute(
        "INSERT INTO shopper_fleet_cursors (name, seq) VALUES (%s, 0) "
        "ON CONFLICT (name) DO UPDATE SET seq = shopper_fleet_cursors.seq RETURNING seq",
        (_CURSOR,),
    )
    row = await found.fetchone()
    return int(row[0]) if row is not None else 0


async def _advance(connection: ledger.Connection, seq: int) -> None:
    await connection.execute(
        "UPDATE shopper_fleet_cursors SET seq = GREATEST(seq, %s) WHERE name = %s",
        (seq, _CURSOR),
    )


@asynccontextmanager
async def enqueueing(dsn: str, schedule: Path) -> AsyncIterator[EnqueueRuns]:
    """The dispatch of `shopper monitor SCHEDULE --queue URL`, its database prepared and its
    connections open for the block."""
    await prepare(dsn)
    pool = AsyncConnectionPool(
        dsn,
        kwargs={"autocommit": True},
        min_size=1,
        max_size=4,
        open=False,
        check=AsyncConnectionPool.check_connection,
    )
    await pool.open()
    try:
        yield EnqueueRuns(fleet_app(dsn), pool, str(schedule), monitor_name())
    finally:
        await pool.close()


async def monitor_fleet(monitor: Monitor, results: FleetResults) -> None:
    """Fire the schedule (enqueueing) and follow the fleet's results, until cancelled."""
    async with asyncio.TaskGroup() as group:
        group.create_task(monitor.run())
        group.create_task(results.follow())
