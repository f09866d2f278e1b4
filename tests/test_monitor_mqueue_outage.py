"""A worker's run across interruptions that are not its death: a PostgreSQL restart while it
is mid-call (every heartbeat in the database is old when it comes back, yet the live worker's
run is not taken for a dead worker's and put back, to be called twice on the same line), and
the worker being stopped (its call hung up after the grace time, its run given back).

The workers here are in-process `FleetWorker`s whose call is a stand-in that waits (no
speech, no sandbox): what is tested is the queue's side."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import procrastinate.worker
import pytest
from monitor_runs import passed_now, serve_until_finished
from postgres import Postgres

from shopper.monitor.fleet import ledger
from shopper.monitor.fleet.enqueue import enqueue_run
from shopper.monitor.fleet.hangup import Leg
from shopper.monitor.fleet.queue import connect, fleet_app, prepare
from shopper.monitor.fleet.runs import FleetRun
from shopper.monitor.fleet.worker import FleetWorker, WorkerSettings
from shopper.monitor.records import RunRecord

pytestmark = pytest.mark.realtime  # mostly waiting on the clock: CI runs it beside the others

HEARTBEAT_S = 0.5
STALLED_S = 3.0  # six heartbeats: room for a loaded machine


class HeldCall:
    """A call that lasts until released; counts how often it was placed (by any worker)."""

    def __init__(self) -> None:
        self.placed = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, run: FleetRun, placed: Callable[[Leg], None]) -> RunRecord:
        self.placed += 1
        placed(Leg(carrier="sandbox", call_id=f"call-{self.placed}"))
        self.started.set()
        await self.release.wait()
        return passed_now(run)


async def _job_statuses(dsn: str) -> list[str]:
    connection = await connect(dsn)
    try:
        rows = await (await connection.execute("SELECT status FROM procrastinate_jobs")).fetchall()
        return [str(row[0]) for row in rows]
    finally:
        await connection.close()


async def test_a_database_restart_does_not_put_back_a_live_workers_run(
    postgres_server: Postgres, postgres_dsn: str, tmp_path: Path
) -> None:
    await prepare(postgres_dsn)
    call = HeldCall()
    settings = WorkerSettings(
        dsn=postgres_dsn, lines=1, heartbeat_s=HEARTBEAT_S, stalled_after_s=STALLED_S
    )
    # Two workers share the stand-in call, which counts every placement: one of them takes
    # the run, the other would take it again were it put back.
    stop = asyncio.Event()
    serving = [asyncio.create_task(FleetWorker(settings, call).serve(stop)) for _ in range(2)]
    at = datetime.now(UTC).replace(microsecond=0)
    run = FleetRun(
        run_id=f"support@{at:%Y-%m-%dT%H:%M:%SZ}",
        check="support",
        scheduled_at=at,
        line="sandbox:acme",
        schedule="schedule.yaml",
    )
    connection = await connect(postgres_dsn)
    try:
        await enqueue_run(fleet_app(postgres_dsn), connection, run, "monitor")
    finally:
        await connection.close()
    await asyncio.wait_for(call.started.wait(), 30)
    await asyncio.sleep(STALLED_S + 2 * HEARTBEAT_S)  # both workers look for silent ones

    await asyncio.to_thread(postgres_server.stop)
    await asyncio.sleep(STALLED_S + 1)  # every heartbeat is now older than STALLED_S
    await asyncio.to_thread(postgres_server.start)
    await asyncio.sleep(3 * STALLED_S)  # time for a wrong put-back, and for its retry
    assert await _job_statuses(postgres_dsn) == ["doing"]

    call.release.set()
    async with asyncio.timeout(30):
        while await _job_statuses(postgres_dsn) != ["succeeded"]:
            await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*serving)
    connection = await connect(postgres_dsn)
    try:
        attempts = await ledger.attempts(connection)
        assert await ledger.has_result(connection, run.run_id)
    finally:
        await connection.close()
    assert call.placed == 1
    assert [(a.attempt, a.ended_at is not None) for a in attempts] == [(1, True)]


async def test_a_stopping_worker_hangs_up_after_its_grace_and_gives_the_run_back(
    postgres_dsn: str,
) -> None:
    """SIGTERM's path: no new run is taken, the call in progress gets `shutdown_grace_s`,
    then it is cancelled (run_check hangs it up) and its run goes back in the queue, its
    attempt noted as stopped, so the next worker neither hangs it up again nor loses it."""
    await prepare(postgres_dsn)
    call = HeldCall()
    settings = WorkerSettings(
        dsn=postgres_dsn,
        lines=1,
        heartbeat_s=HEARTBEAT_S,
        stalled_after_s=STALLED_S,
        shutdown_grace_s=0.5,
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(FleetWorker(settings, call).serve(stop))
    at = datetime.now(UTC).replace(microsecond=0)
    run = FleetRun(
        run_id=f"support@{at:%Y-%m-%dT%H:%M:%SZ}",
        check="support",
        scheduled_at=at,
        line="sandbox:acme",
        schedule="schedule.yaml",
    )
    connection = await connect(postgres_dsn)
    try:
        await enqueue_run(fleet_app(postgres_dsn), connection, run, "monitor")
        await asyncio.wait_for(call.started.wait(), 30)
        stop.set()
        await asyncio.wait_for(serving, 30)
        assert await _job_statuses(postgres_dsn) == ["todo"]
        [attempt] = await ledger.attempts(connection)
        assert attempt.hung_up_at is not None and attempt.ended_at is None
        assert not await ledger.unfinished_attempts(connection, run.run_id)
        assert not await ledger.has_result(connection, run.run_id)
    finally:
        await connection.close()


async def test_a_dead_workers_leg_is_hung_up_before_its_run_is_called_again(
    postgres_dsn: str,
) -> None:
    """A worker died holding a run whose Twilio call it had placed: the worker that takes
    the run back hangs that leg up first, notes it, and only then places its own call."""
    await prepare(postgres_dsn)
    app = fleet_app(postgres_dsn)
    at = datetime.now(UTC).replace(microsecond=0)
    run = FleetRun(
        run_id=f"support@{at:%Y-%m-%dT%H:%M:%SZ}",
        check="support",
        scheduled_at=at,
        line="twilio:+15550100001",
        schedule="schedule.yaml",
    )
    leftover = Leg(carrier="twilio", call_id="call-0", carrier_id="CA" + "7" * 32)
    connection = await connect(postgres_dsn)
    try:
        async with app.open_async():  # the worker that dies, as the database saw it
            dead = await app.job_manager.register_worker()
            await enqueue_run(app, connection, run, "monitor")
            assert await app.job_manager.fetch_job(queues=None, worker_id=dead) is not None
        attempt = await ledger.start_attempt(connection, run.run_id, "dead", run.line)
        await ledger.save_leg(connection, run.run_id, attempt, leftover)
        await connection.execute(
            "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"
        )
        order: list[str] = []
        call = HeldCall()
        call.release.set()

        async def hang_up(leg: Leg) -> str:
            assert call.placed == 0, "hung up after the new call was placed"
            order.append(f"hang up {leg.carrier_id}")
            return "hung up (stand-in)"

        settings = WorkerSettings(
            dsn=postgres_dsn, lines=1, heartbeat_s=HEARTBEAT_S, stalled_after_s=STALLED_S
        )
        await serve_until_finished(FleetWorker(settings, call, hang_up), connection, run.run_id, 30)
        attempts = await ledger.attempts(connection)
    finally:
        await connection.close()
    assert order == [f"hang up {leftover.carrier_id}"] and call.placed == 1
    assert [(a.worker, a.hang_up_note, a.ended_at is not None) for a in attempts] == [
        ("dead", "hung up (stand-in)", False),
        (settings.checked().name, None, True),
    ]


async def test_a_worker_whose_procrastinate_heartbeat_failed_keeps_its_runs(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """procrastinate's heartbeat task ends at its first database error. Made to fail at
    once here (in both workers): the call in progress is not taken for a dead worker's and
    placed again (the fleet's own heartbeat goes on), and the workers take further runs."""

    async def failing_heartbeat(self: object) -> None:
        await asyncio.sleep(HEARTBEAT_S)
        raise procrastinate.exceptions.ConnectorException("heartbeat failed (stand-in)")

    monkeypatch.setattr(procrastinate.worker.Worker, "_update_heartbeat", failing_heartbeat)
    await prepare(postgres_dsn)
    call = HeldCall()
    settings = WorkerSettings(
        dsn=postgres_dsn, lines=1, heartbeat_s=HEARTBEAT_S, stalled_after_s=STALLED_S
    )
    stop = asyncio.Event()
    serving = [asyncio.create_task(FleetWorker(settings, call).serve(stop)) for _ in range(2)]
    app = fleet_app(postgres_dsn)
    at = datetime.now(UTC).replace(microsecond=0)
    runs = [
        FleetRun(
            run_id=f"{check}@{at:%Y-%m-%dT%H:%M:%SZ}",
            check=check,
            scheduled_at=at,
            line="sandbox:acme",
            schedule="schedule.yaml",
        )
        for check in ("first", "second")
    ]
    connection = await connect(postgres_dsn)
    try:
        await enqueue_run(app, connection, runs[0], "monitor")
        await asyncio.wait_for(call.started.wait(), 30)
        await asyncio.sleep(3 * STALLED_S)  # procrastinate's heartbeats have long stopped
        assert await _job_statuses(postgres_dsn) == ["doing"]
        call.release.set()
        await enqueue_run(app, connection, runs[1], "monitor")
        async with asyncio.timeout(30):
            while not all([await ledger.has_result(connection, r.run_id) for r in runs]):
                await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*serving)
    finally:
        await connection.close()
    assert call.placed == 2  # each run once
