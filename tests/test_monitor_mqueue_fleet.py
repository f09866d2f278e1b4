"""A fleet end to end: three `shopper worker` processes on a real PostgreSQL take nine
scheduled runs over three sandbox lines; one worker is killed (SIGKILL, its whole process
group, as when its machine dies) in the middle of a call. Every run still ends with exactly
one result, the killed worker's calls are called again by the others after stall detection,
and no line ever carries two calls at once (the attempts' times, from PostgreSQL's clock)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shopper.monitor.checks import run_id_of
from shopper.monitor.fleet import ledger
from shopper.monitor.fleet.enqueue import enqueue_run
from shopper.monitor.fleet.evidence import EVIDENCE_FILE, EvidenceLedger, WorkerRetention
from shopper.monitor.fleet.queue import connect, fleet_app, prepare
from shopper.monitor.fleet.runs import FleetRun

pytestmark = [pytest.mark.slow, pytest.mark.realtime]  # real-time calls: beside the others

LINE = """
name: {name}
start: main
nodes:
  main:
    play: "asterisk:pls-hold-while-try"
    silence: 3s
"""
"""A recorded prompt, three seconds of quiet, and the IVR hangs up: about 5 s in real time."""
SCRIPT = """
name: {name}
target: {line}.yaml
steps:
  - expect_hangup: {{within: 30s}}
"""
LINES = ("line-a", "line-b", "line-c")
CHECKS = {f"{line}-{n}": line for line in LINES for n in range(3)}
WORKERS = 3


def write_fleet(folder: Path) -> Path:
    for line in LINES:
        (folder / f"{line}.yaml").write_text(LINE.format(name=line))
    for check, line in CHECKS.items():
        (folder / f"{check}.yaml").write_text(SCRIPT.format(name=check, line=line))
    body = "".join(f"  {check}:\n    script: {check}.yaml\n    every: 1h\n" for check in CHECKS)
    schedule = folder / "schedule.yaml"
    schedule.write_text(f"timezone: UTC\nchecks:\n{body}")
    return schedule


async def enqueue_all(dsn: str, schedule: Path, folder: Path) -> list[FleetRun]:
    """One run per check, due now, enqueued the way a monitor's dispatch does."""
    await prepare(dsn)
    app = fleet_app(dsn)
    connection = await connect(dsn)
    at = datetime.now(UTC).replace(microsecond=0)
    runs = [
        FleetRun(
            run_id=run_id_of(check, at),
            check=check,
            scheduled_at=at,
            line=f"sandbox:{folder / f'{line}.yaml'}",
            schedule=str(schedule),
        )
        for check, line in CHECKS.items()
    ]
    try:
        for run in runs:
            assert await enqueue_run(app, connection, run, "test") == "enqueued"
    finally:
        await connection.close()
    return runs


def start_worker(dsn: str, name: str, out: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as stream:
        command = [
            sys.executable, "-m", "shopper", "worker",
            "--queue", dsn, "--lines", "2", "--name", name, "--out", str(out),
            "--engine", "moonshine", "--realtime",
            "--heartbeat", "1", "--stalled-after", "3", "--grace", "30",
        ]  # fmt: skip
        return subprocess.Popen(
            command,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def wait_for_call_in_progress(dsn: str, timeout_s: float) -> tuple[str, str]:
    """A worker with a call placed (its leg recorded) and not yet ended, and that call's run
    id. Whichever worker it is: which one gets a line first depends on how fast each
    started, and with more slots than lines one worker may get none for a while."""
    connection = await connect(dsn)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for attempt in await ledger.attempts(connection):
                if attempt.leg is not None and not attempt.ended_at:
                    return attempt.worker, attempt.run_id
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    raise AssertionError(f"no worker placed a call within {timeout_s} s")


async def now_in_postgres(dsn: str) -> datetime:
    connection = await connect(dsn)
    try:
        row = await (await connection.execute("SELECT clock_timestamp()")).fetchone()
        assert row is not None
        moment: datetime = row[0]
        return moment
    finally:
        await connection.close()


async def wait_until_all_ended(dsn: str, count: int, timeout_s: float) -> None:
    connection = await connect(dsn)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            row = await (
                await connection.execute(
                    "SELECT count(*) FROM shopper_fleet_runs WHERE state = 'ended'"
                )
            ).fetchone()
            if row is not None and row[0] == count:
                return
            await asyncio.sleep(0.2)
    finally:
        await connection.close()
    raise AssertionError(f"not every run ended within {timeout_s} s")


async def fleet_state(dsn: str) -> tuple[list[ledger.Attempt], dict[str, dict[str, object]], int]:
    connection = await connect(dsn)
    try:
        attempts = await ledger.attempts(connection)
        rows = await (
            await connection.execute("SELECT run_id, record FROM shopper_fleet_runs")
        ).fetchall()
        jobs = await (
            await connection.execute("SELECT count(*) FROM procrastinate_jobs")
        ).fetchone()
        assert jobs is not None
        return attempts, {str(run_id): record for run_id, record in rows}, int(jobs[0])
    finally:
        await connection.close()


def test_a_worker_killed_mid_call_loses_no_run_and_duplicates_none(
    postgres_dsn: str, tmp_path: Path
) -> None:
    schedule = write_fleet(tmp_path)
    out = tmp_path / "out"
    runs = asyncio.run(enqueue_all(postgres_dsn, schedule, tmp_path))
    names = [f"w{n}" for n in range(WORKERS)]
    workers = {
        name: start_worker(postgres_dsn, name, out, tmp_path / f"{name}.log") for name in names
    }
    try:
        victim, cut_run = asyncio.run(wait_for_call_in_progress(postgres_dsn, 90))
        os.killpg(workers[victim].pid, signal.SIGKILL)
        workers[victim].wait(timeout=10)
        killed_at = asyncio.run(now_in_postgres(postgres_dsn))
        asyncio.run(wait_until_all_ended(postgres_dsn, len(runs), 120))
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers.values():
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in names}

    attempts, records, jobs = asyncio.run(fleet_state(postgres_dsn))
    # No run lost: every run has its result, and it passed (the line hung up as it should).
    assert set(records) == {run.run_id for run in runs}
    assert {run_id: record["outcome"] for run_id, record in records.items()} == {  # type: ignore[index]
        run.run_id: "passed" for run in runs
    }, logs
    # None duplicated: one job per run, and one result file per run among the call folders.
    assert jobs == len(runs)
    written = Counter(
        json.loads(path.read_text())["run_id"] for path in out.glob("*/*/result.json")
    )
    assert written == Counter({run.run_id: 1 for run in runs})

    # The killed worker's call was cut, noted as hung up, and called again by another worker.
    cut = [a for a in attempts if a.worker == victim and a.ended_at is None]
    assert cut_run in {a.run_id for a in cut}
    for attempt in cut:
        assert attempt.hung_up_at is not None and attempt.hang_up_note
        again = [a for a in attempts if a.run_id == attempt.run_id and a.attempt > attempt.attempt]
        assert again and again[-1].worker != victim and again[-1].ended_at is not None
        assert again[0].started_at >= killed_at

    # Never two calls on one line at once: each attempt from its start to its end (a killed
    # one: to the kill).
    for line in LINES:
        spans = sorted(
            (a.started_at, a.ended_at or killed_at)
            for a in attempts
            if a.line.endswith(f"/{line}.yaml")
        )
        assert len(spans) >= 3
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, (line, spans)
    assert killed_at - min(a.started_at for a in attempts) < timedelta(minutes=2)

    # Each worker entered every call folder it wrote in its ledger as the call was placed;
    # the killed worker's cut call is there too, never ended. Once keep_days have passed,
    # retention deletes them all: the dead worker's too, since its process is gone.
    evidence = EvidenceLedger(Path(os.environ["SHOPPER_STATE_DIR"]) / EVIDENCE_FILE)
    rows = [row for row in evidence.folders() if row.folder.is_relative_to(out)]
    results = {path.parent for path in out.glob("*/*/result.json")}
    assert results <= {row.folder for row in rows if row.ended}
    assert cut_run in {row.run_id for row in rows if not row.ended}
    later = datetime.now(UTC) + timedelta(days=31)  # the schedule keeps the default 30 days
    asyncio.run(WorkerRetention(evidence, out, now=lambda: later).apply())
    assert not [row for row in evidence.folders() if row.folder.is_relative_to(out)]
    assert list(out.glob("*/*")) == []
    evidence.close()
