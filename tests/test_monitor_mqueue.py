"""The fleet's queue on a real PostgreSQL, without calls: several monitor processes enqueue
each scheduled run once (no leader), a check has at most one waiting run, silent workers'
runs are put back, results are followed into each monitor's history and reported once."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from procrastinate.jobs import Status

from shopper.monitor.checks import ScheduledRun
from shopper.monitor.fleet import ledger
from shopper.monitor.fleet.enqueue import enqueue_run
from shopper.monitor.fleet.monitor import FleetResults, enqueueing
from shopper.monitor.fleet.queue import QueueError, connect, fleet_app, prepare
from shopper.monitor.fleet.runs import FleetRun
from shopper.monitor.history import opened_history
from shopper.monitor.records import RunRecord, SkippedRun
from shopper.monitor.spec import CheckSpec, Every

HARNESS = Path(__file__).parent / "fleet_monitor.py"
LINE = """
name: {name}
start: main
nodes:
  main:
    play: "asterisk:pls-hold-while-try"
    silence: 1s
"""
SCRIPT = """
name: {name}
target: {ivr}
steps:
  - expect_hangup: {{within: 20s}}
"""


def write_lines(folder: Path, checks: dict[str, str]) -> None:
    """Sandbox lines and a script per check: {check: line name}."""
    for line in set(checks.values()):
        (folder / f"{line}.yaml").write_text(LINE.format(name=line))
    for check, line in checks.items():
        (folder / f"{check}.yaml").write_text(SCRIPT.format(name=check, ivr=f"{line}.yaml"))


def write_schedule(folder: Path, checks: dict[str, str], every: str) -> Path:
    write_lines(folder, checks)
    body = "".join(
        f"  {check}:\n    script: {check}.yaml\n    every: {every}\n" for check in checks
    )
    schedule = folder / "schedule.yaml"
    schedule.write_text(f"timezone: UTC\nchecks:\n{body}")
    return schedule


async def _rows(dsn: str, query: str) -> list[tuple[object, ...]]:
    connection = await connect(dsn)
    try:
        return list(await (await connection.execute(query)).fetchall())  # type: ignore[arg-type]
    finally:
        await connection.close()


def _record(run: FleetRun, outcome: str = "passed") -> RunRecord:
    return RunRecord(
        run_id=run.run_id,
        check=run.check,
        scheduled_at=run.scheduled_at,
        started_at=run.scheduled_at + timedelta(seconds=1),
        ended_at=run.scheduled_at + timedelta(seconds=30),
        outcome=outcome,  # type: ignore[arg-type]
        attempts=1,
    )


async def drain(dsn: str, running: Callable[[], bool]) -> int:
    """A stand-in worker that takes every job at once and finishes it (no call), so a check's
    queueing lock never holds a fire back: without the run-id key, a second monitor firing a
    run already taken would enqueue it again. Returns how many jobs it took."""
    app = fleet_app(dsn)
    taken = 0
    async with app.open_async():
        worker = await app.job_manager.register_worker()
        while running():
            job = await app.job_manager.fetch_job(queues=None, worker_id=worker)
            if job is None:
                await asyncio.sleep(0.01)
                continue
            await app.job_manager.finish_job(job, Status.SUCCEEDED, delete_job=False)
            taken += 1
    return taken


@pytest.mark.realtime  # mostly waiting on the clock: CI runs it beside the others
def test_three_monitor_processes_enqueue_each_run_once(postgres_dsn: str, tmp_path: Path) -> None:
    """Three real monitors (the scheduler firing every 1 s, the fleet's dispatch) fire the
    same runs while a stand-in worker empties the queue as fast as it fills: every run id has
    exactly one job, claimed by one monitor, and each monitor claimed some (no leader)."""
    checks = {"alpha": "line-a", "beta": "line-a", "gamma": "line-b"}
    schedule = write_schedule(tmp_path, checks, "1s")
    asyncio.run(prepare(postgres_dsn))  # so the monitors do not wait on each other's setup
    logs = [tmp_path / f"m{n}.log" for n in range(3)]
    monitors = []
    for n, log in enumerate(logs):
        with log.open("w") as stream:
            database = str(tmp_path / f"m{n}.db")
            monitors.append(
                subprocess.Popen(
                    [sys.executable, str(HARNESS), postgres_dsn, str(schedule), database, "8"],
                    stderr=stream,
                )
            )
    taken = asyncio.run(drain(postgres_dsn, lambda: any(m.poll() is None for m in monitors)))
    codes = [monitor.wait(timeout=60) for monitor in monitors]
    texts = [log.read_text() for log in logs]
    assert codes == [0, 0, 0], texts

    claims = [re.findall(r"(\S+@\S+) claimed by", text) for text in texts]
    jobs = asyncio.run(
        _rows(postgres_dsn, "SELECT args->>'run_id', count(*) FROM procrastinate_jobs GROUP BY 1")
    )
    runs = asyncio.run(_rows(postgres_dsn, "SELECT run_id, state FROM shopper_fleet_runs"))
    assert len(runs) >= 4 * len(checks), "each check should fire several times in 8 s"
    assert {str(run_id): state for run_id, state in runs} == {
        str(run_id): "queued" for run_id, _ in runs
    }, "the queue was emptied as it filled: no fire should have been skipped"
    assert sorted(count for _, count in jobs) == [1] * len(runs)
    assert taken == len(runs)
    assert Counter(run for log in claims for run in log) == Counter(
        {str(run_id): 1 for run_id, _ in runs}
    )
    assert all(claims), "every monitor fires and enqueues: none is a leader"


async def test_a_run_claimed_once_however_late_the_monitor(postgres_dsn: str) -> None:
    """procrastinate's own periodic key forgets older times at each new defer; the run's
    row does not, so a monitor a whole period behind cannot enqueue an old run again."""
    await prepare(postgres_dsn)
    app = fleet_app(postgres_dsn)
    connection = await connect(postgres_dsn)
    t0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    try:
        runs = [
            FleetRun(
                run_id=f"check-{n}@{t0 + timedelta(minutes=n):%Y-%m-%dT%H:%M:%SZ}",
                check=f"check-{n}",
                scheduled_at=t0 + timedelta(minutes=n),
                line=f"sandbox:line-{n}",
                schedule="schedule.yaml",
            )
            for n in range(3)
        ]
        first = [await enqueue_run(app, connection, run, "fast") for run in runs]
        late = [await enqueue_run(app, connection, run, "late") for run in reversed(runs)]
        assert first == ["enqueued"] * 3
        assert late == ["already"] * 3
        jobs = await (
            await connection.execute("SELECT count(*) FROM procrastinate_jobs")
        ).fetchone()
        assert jobs == (3,)
    finally:
        await connection.close()


async def test_a_check_has_one_waiting_run_and_the_skip_is_kept(postgres_dsn: str) -> None:
    await prepare(postgres_dsn)
    app = fleet_app(postgres_dsn)
    connection = await connect(postgres_dsn)
    t0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    try:
        outcomes = []
        for n in range(2):
            at = t0 + timedelta(minutes=5 * n)
            run = FleetRun(
                run_id=f"support@{at:%Y-%m-%dT%H:%M:%SZ}",
                check="support",
                scheduled_at=at,
                line="sandbox:acme",
                schedule="schedule.yaml",
            )
            outcomes.append(await enqueue_run(app, connection, run, "one"))
            outcomes.append(await enqueue_run(app, connection, run, "two"))
        assert outcomes == ["enqueued", "already", "queued", "queued"]
        states = await (
            await connection.execute("SELECT state FROM shopper_fleet_runs ORDER BY scheduled_at")
        ).fetchall()
        assert states == [("queued",), ("skipped",)]
    finally:
        await connection.close()


async def test_enqueueing_dispatch_hands_over_or_skips(postgres_dsn: str, tmp_path: Path) -> None:
    write_lines(tmp_path, {"support": "acme"})
    check = CheckSpec(name="support", script=tmp_path / "support.yaml", cadence=Every(300))
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    async with enqueueing(postgres_dsn, tmp_path / "schedule.yaml") as dispatch:
        assert await dispatch(ScheduledRun(check=check, scheduled_at=at)) is None
        later = await dispatch(ScheduledRun(check=check, scheduled_at=at + timedelta(minutes=5)))
    assert later == SkippedRun(
        check="support", scheduled_at=at + timedelta(minutes=5), reason="queued"
    )
    rows = await _rows(
        postgres_dsn, "SELECT args->>'line', args->>'run_id' FROM procrastinate_jobs"
    )
    assert rows == [(f"sandbox:{tmp_path / 'acme.yaml'}", "support@2026-12-07T09:00:00Z")]


class Seen:
    """An observer that keeps the run ids it hears of; `notifies` like an alert observer."""

    def __init__(self, notifies: bool = False) -> None:
        self.notifies = notifies
        self.ended: list[str] = []

    async def run_ended(self, run: RunRecord) -> None:
        self.ended.append(run.run_id)

    async def run_skipped(self, skip: SkippedRun) -> None:
        raise AssertionError("the follower reports results only")


async def test_results_reach_every_history_and_one_reporter(
    postgres_dsn: str, tmp_path: Path
) -> None:
    """Two monitors follow the results: both histories get every run, and both monitors'
    views hear of each result that came in while they followed; only the monitor holding the
    reporter lock tells its notifying observers, and when it goes the other takes over from
    the last result reported, not from the start."""
    await prepare(postgres_dsn)
    app = fleet_app(postgres_dsn)
    writer = await connect(postgres_dsn)
    t0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    runs = [
        FleetRun(
            run_id=f"support@{t0 + timedelta(minutes=5 * n):%Y-%m-%dT%H:%M:%SZ}",
            check="support",
            scheduled_at=t0 + timedelta(minutes=5 * n),
            line=f"sandbox:line-{n}",
            schedule="s.yaml",
        )
        for n in range(4)
    ]

    async def finish(run: FleetRun) -> None:
        await enqueue_run(app, writer, run, "m")
        attempt = await ledger.start_attempt(writer, run.run_id, "w1", run.line)
        await ledger.save_result(writer, attempt, _record(run))

    alerts_a, alerts_b, view_a, view_b = Seen(True), Seen(True), Seen(), Seen()
    with (
        opened_history(tmp_path / "a.db") as history_a,
        opened_history(tmp_path / "b.db") as history_b,
    ):
        a = FleetResults(postgres_dsn, history_a, [alerts_a, view_a])
        b = FleetResults(postgres_dsn, history_b, [alerts_b, view_b])
        connection_a, connection_b = await connect(postgres_dsn), await connect(postgres_dsn)
        await finish(runs[0])  # before either monitor follows
        await a.catch_up(connection_a)
        await b.catch_up(connection_b)
        await finish(runs[1])
        await a.catch_up(connection_a)
        await b.catch_up(connection_b)
        assert (a.reporting, b.reporting) == (True, False)
        # b's own failed enqueue reaches its views, not its alerts while a reports
        failed = _record(runs[0], "error")
        for observer in b.for_fires([alerts_b, view_b]):
            await observer.run_ended(failed)
        assert (alerts_b.ended, view_b.ended) == ([], [runs[1].run_id, failed.run_id])
        view_b.ended.clear()
        await connection_a.close()  # monitor a dies: its lock goes with its session
        await finish(runs[2])
        await b.catch_up(connection_b)
        await finish(runs[3])
        await b.catch_up(connection_b)
        await connection_b.close()
        assert [run.run_id for run in history_a.runs("support")] == [r.run_id for r in runs[:2]]
        assert [run.run_id for run in history_b.runs("support")] == [r.run_id for r in runs]
    await writer.close()
    assert alerts_a.ended == [r.run_id for r in runs[:2]]
    assert alerts_b.ended == [r.run_id for r in runs[2:]]
    assert view_a.ended == [runs[1].run_id]
    assert view_b.ended == [r.run_id for r in runs[2:]]


async def test_silent_workers_runs_are_put_back_once(postgres_dsn: str) -> None:
    """A job held by a worker whose heartbeat stopped goes back to `todo` exactly once; a
    job of a live worker stays where it is."""
    from shopper.monitor.fleet.worker import _RETRY_STALLED

    await prepare(postgres_dsn)
    app = fleet_app(postgres_dsn)
    async with app.open_async():
        manager = app.job_manager
        dead, live = await manager.register_worker(), await manager.register_worker()
        connection = await connect(postgres_dsn)
        try:
            for n, line in enumerate(("a", "b")):
                at = datetime(2026, 12, 7, 9, n, tzinfo=UTC)
                run = FleetRun(
                    run_id=f"c{n}@{at:%Y-%m-%dT%H:%M:%SZ}", check=f"c{n}", scheduled_at=at,
                    line=line, schedule="s.yaml",
                )  # fmt: skip
                await enqueue_run(app, connection, run, "m")
            first = await manager.fetch_job(queues=None, worker_id=dead)
            second = await manager.fetch_job(queues=None, worker_id=live)
            assert first is not None and second is not None
            await connection.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' "
                "WHERE id = %s",
                (dead,),
            )
            params = {"queue": "shopper-calls", "stalled": 30.0}
            assert (await connection.execute(_RETRY_STALLED, params)).rowcount == 1
            assert (await connection.execute(_RETRY_STALLED, params)).rowcount == 0
            statuses = await (
                await connection.execute("SELECT id, status FROM procrastinate_jobs ORDER BY id")
            ).fetchall()
            assert statuses == [(first.id, "todo"), (second.id, "doing")]
        finally:
            await connection.close()


async def test_an_unreachable_queue_is_one_line_naming_it_without_password() -> None:
    with pytest.raises(QueueError) as error:
        await connect("postgresql://shopper:s3cret@127.0.0.1:1/fleet")
    message = str(error.value)
    assert "postgresql://127.0.0.1:1/fleet" in message and "s3cret" not in message
    assert "\n" not in message


async def test_the_reporting_monitor_forgets_old_fleet_runs(
    postgres_dsn: str, tmp_path: Path
) -> None:
    """keep_days applies to the fleet's tables too: runs that are over and older go, with
    their attempts and finished jobs; a run still waiting in the queue stays, whatever its
    age, and so does every newer run."""
    await prepare(postgres_dsn)
    app = fleet_app(postgres_dsn)
    connection = await connect(postgres_dsn)
    now = datetime.now(UTC).replace(microsecond=0)
    old, recent, waiting = (
        FleetRun(
            run_id=f"{check}@{at:%Y-%m-%dT%H:%M:%SZ}",
            check=check,
            scheduled_at=at,
            line=f"sandbox:{check}",
            schedule="s.yaml",
        )
        for check, at in (
            ("old", now - timedelta(days=40)),
            ("recent", now - timedelta(days=2)),
            ("waiting", now - timedelta(days=40)),
        )
    )
    try:
        async with app.open_async():
            worker = await app.job_manager.register_worker()
            for run in (old, recent):
                await enqueue_run(app, connection, run, "m", due_at=run.scheduled_at)
                job = await app.job_manager.fetch_job(queues=None, worker_id=worker)
                assert job is not None
                attempt = await ledger.start_attempt(connection, run.run_id, "w", run.line)
                await ledger.save_result(connection, attempt, _record(run))
                await app.job_manager.finish_job(job, Status.SUCCEEDED, delete_job=False)
            await enqueue_run(app, connection, waiting, "m", due_at=waiting.scheduled_at)
        with opened_history(tmp_path / "h.db") as history:
            results = FleetResults(postgres_dsn, history, [], keep_days=30)
            await results.catch_up(connection)
            assert [r.run_id for r in history.runs("old")] == [old.run_id]  # copied first
        rows = await (
            await connection.execute("SELECT run_id FROM shopper_fleet_runs ORDER BY run_id")
        ).fetchall()
        jobs = await (
            await connection.execute("SELECT args->>'check' FROM procrastinate_jobs ORDER BY 1")
        ).fetchall()
        assert [row[0] for row in rows] == [recent.run_id, waiting.run_id]
        assert [row[0] for row in jobs] == ["recent", "waiting"]
        assert [a.run_id for a in await ledger.attempts(connection)] == [recent.run_id]
    finally:
        await connection.close()
