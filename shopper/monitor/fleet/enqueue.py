"""Enqueueing a scheduled run: once per run id, whichever monitor fires first.

Every monitor process fires every scheduled run (no leader, so no election and no failover
gap). The run id is deterministic (`<check>@<scheduled UTC ISO>`), and the run's row in
`shopper_fleet_runs` is keyed by it: claiming the row and deferring the procrastinate job
happen in one transaction, so a run is either claimed and queued, or neither; a second
monitor's claim finds the row and does nothing. This is the same idea as procrastinate's own
periodic-defer key (task, periodic id, timestamp), but kept for as long as the run's row
lives, where procrastinate deletes a periodic task's older keys at each new defer, so a
monitor lagging a whole period behind could enqueue an old run again.

The job's `lock` is the target line (one call per line across the fleet) and its
`queueing_lock` the check (at most one run of a check waits): a run fired while the check's
previous run still waits is recorded as skipped (`queued`), in the same transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

import procrastinate
import psycopg

from shopper.monitor.fleet.queue import QUEUE, TASK
from shopper.monitor.fleet.runs import FleetRun

log = logging.getLogger(__name__)

Enqueued = Literal["enqueued", "already", "queued"]
"""The run is now in the queue; another monitor had already enqueued it; it was skipped
(by this monitor or another) because a run of the same check still waited. Every monitor
hears `queued` for a skipped run, so each records the skip in its own history."""


async def enqueue_run(
    app: procrastinate.App,
    connection: psycopg.AsyncConnection[tuple[object, ...]],
    run: FleetRun,
    monitor: str,
    due_at: datetime | None = None,
) -> Enqueued:
    """Claim the run id and defer its job atomically (`connection` in autocommit mode); the
    job is not taken before `due_at` (the run's scheduled time plus its jitter). The claim
    is logged once committed: a monitor stopped mid-transaction claimed nothing."""
    outcome, claimed = await _claim_and_defer(app, connection, run, monitor, due_at)
    if claimed:
        log.info("%s claimed by %s", run.run_id, monitor)
    return outcome


async def _claim_and_defer(
    app: procrastinate.App,
    connection: psycopg.AsyncConnection[tuple[object, ...]],
    run: FleetRun,
    monitor: str,
    due_at: datetime | None,
) -> tuple[Enqueued, bool]:
    """The outcome, and whether this monitor's claim of the run id is what committed."""
    async with connection.transaction():
        claimed = await connection.execute(
            "INSERT INTO shopper_fleet_runs "
            "(run_id, check_name, scheduled_at, line, state, enqueued_by) "
            "VALUES (%s, %s, %s, %s, 'queued', %s) ON CONFLICT (run_id) DO NOTHING "
            "RETURNING run_id",
            (run.run_id, run.check, run.scheduled_at, run.line, monitor),
        )
        if await claimed.fetchone() is None:
            return await _claimed_before(connection, run.run_id), False
        deferrer = app.configure_task(
            TASK,
            queue=QUEUE,
            lock=run.line,
            queueing_lock=run.check,
            schedule_at=due_at,
            connection=connection,
        )
        try:
            async with connection.transaction():  # a savepoint: the claim survives a refusal
                job_id = await deferrer.defer_async(**run.to_job())
        except procrastinate.exceptions.AlreadyEnqueued:
            await connection.execute(
                "UPDATE shopper_fleet_runs SET state = 'skipped' WHERE run_id = %s",
                (run.run_id,),
            )
            return "queued", True
        await connection.execute(
            "UPDATE shopper_fleet_runs SET job_id = %s WHERE run_id = %s", (job_id, run.run_id)
        )
    return "enqueued", True


async def _claimed_before(
    connection: psycopg.AsyncConnection[tuple[object, ...]], run_id: str
) -> Enqueued:
    found = await connection.execute(
        "SELECT state FROM shopper_fleet_runs WHERE run_id = %s", (run_id,)
    )
    row = await found.fetchone()
    return "queued" if row is not None and row[0] == "skipped" else "already"
