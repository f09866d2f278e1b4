"""shopper's own record of the fleet's runs in PostgreSQL: attempts, legs and results.

This is the fleet's shared history: every worker writes each run's result here (once per run
id: a run whose result is already in is not called again when its job comes back after a
crash), and every monitor follows it into its own SQLite history (shopper.monitor.fleet.
follow). Each call attempt is kept with its worker, line and carrier leg, so a retry can hang
up what a dead worker left and an operator can see which worker placed which call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from shopper.monitor.fleet.hangup import Leg
from shopper.monitor.fleet.runs import record_from_json, record_to_json
from shopper.monitor.records import RunRecord

Connection = psycopg.AsyncConnection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call attempt of a run, as the ledger has it."""

    run_id: str
    attempt: int
    worker: str
    line: str
    started_at: datetime
    ended_at: datetime | None
    leg: Leg | None
    hung_up_at: datetime | None
    hang_up_note: str | None


@dataclass(frozen=True, slots=True)
class Result:
    """A run's result with its position in the fleet's result sequence."""

    seq: int
    record: RunRecord


async def has_result(connection: Connection, run_id: str) -> bool:
    found = await connection.execute(
        "SELECT 1 FROM shopper_fleet_runs WHERE run_id = %s AND state = 'ended'", (run_id,)
    )
    return await found.fetchone() is not None


async def unfinished_attempts(connection: Connection, run_id: str) -> list[Attempt]:
    """The run's attempts that never ended and were not hung up: their workers died."""
    return [
        attempt
        for attempt in await attempts(connection, run_id)
        if attempt.ended_at is None and attempt.hung_up_at is None
    ]


async def attempts(connection: Connection, run_id: str | None = None) -> list[Attempt]:
    """A run's attempts (every run's, without `run_id`), in the order they started."""
    query = (
        "SELECT run_id, attempt, worker, line, started_at, ended_at, leg, hung_up_at, "
        "hang_up_note FROM shopper_fleet_attempts"
    )
    params: tuple[str, ...] = ()
    if run_id is not None:
        query += " WHERE run_id = %s"
        params = (run_id,)
    rows = await (await connection.execute(query + " ORDER BY started_at", params)).fetchall()
    return [
        Attempt(
            run_id=row[0],
            attempt=row[1],
            worker=row[2],
            line=row[3],
            started_at=row[4],
            ended_at=row[5],
            leg=None if row[6] is None else Leg.from_json(row[6]),
            hung_up_at=row[7],
            hang_up_note=row[8],
        )
        for row in rows
    ]


async def note_hang_up(connection: Connection, attempt: Attempt, note: str) -> None:
    await connection.execute(
        "UPDATE shopper_fleet_attempts SET hung_up_at = clock_timestamp(), hang_up_note = %s "
        "WHERE run_id = %s AND attempt = %s",
        (note, attempt.run_id, attempt.attempt),
    )


async def stopped_attempt(connection: Connection, run_id: str, attempt: int) -> None:
    await connection.execute(
        "UPDATE shopper_fleet_attempts SET hung_up_at = clock_timestamp(), "
        "hang_up_note = 'its worker stopped and hung up' WHERE run_id = %s AND attempt = %s",
        (run_id, attempt),
    )


async def start_attempt(connection: Connection, run_id: str, worker: str, line: str) -> int:
    """Record a new attempt (numbered from 1) before its call is dialled."""
    started = await connection.execute(
        "INSERT INTO shopper_fleet_attempts (run_id, attempt, worker, line) "
        "SELECT %s, COALESCE(MAX(attempt), 0) + 1, %s, %s FROM shopper_fleet_attempts "
        "WHERE run_id = %s RETURNING attempt",
        (run_id, worker, line, run_id),
    )
    row = await started.fetchone()
    assert row is not None
    return int(row[0])


async def save_leg(connection: Connection, run_id: str, attempt: int, leg: Leg) -> None:
    await connection.execute(
        "UPDATE shopper_fleet_attempts SET leg = %s WHERE run_id = %s AND attempt = %s",
        (Jsonb(leg.to_json()), run_id, attempt),
    )


async def save_result(connection: Connection, attempt: int, record: RunRecord) -> None:
    """End the attempt and keep the run's result, in one transaction (`connection` in
    autocommit mode); the result takes the next place in the fleet's result sequence."""
    async with connection.transaction():
        await connection.execute(
            "UPDATE shopper_fleet_attempts SET ended_at = clock_timestamp() "
            "WHERE run_id = %s AND attempt = %s",
            (record.run_id, attempt),
        )
        await connection.execute(
            "UPDATE shopper_fleet_runs SET state = 'ended', record = %s, "
            "seq = nextval('shopper_fleet_results') WHERE run_id = %s",
            (Jsonb(record_to_json(record)), record.run_id),
        )


async def results_after(connection: Connection, seq: int, limit: int = 500) -> list[Result]:
    """Results that came in after position `seq`, oldest first."""
    rows = await (
        await connection.execute(
            "SELECT seq, record FROM shopper_fleet_runs WHERE seq > %s ORDER BY seq LIMIT %s",
            (seq, limit),
        )
    ).fetchall()
    return [Result(seq=int(row[0]), record=record_from_json(row[1])) for row in rows]


async def forget_before(connection: Connection, cutoff: datetime) -> int:
    """Delete the fleet's records of runs scheduled before `cutoff` that are over (ended or
    skipped; their attempts go with them) and procrastinate's finished jobs due before it;
    returns how many runs were forgotten. Each monitor's history keeps its own copy and
    retention (keep_days) of the same runs."""
    async with connection.transaction():
        forgotten = await connection.execute(
            "DELETE FROM shopper_fleet_runs WHERE scheduled_at < %s "
            "AND state IN ('ended', 'skipped')",
            (cutoff,),
        )
        await connection.execute(
            "DELETE FROM procrastinate_jobs WHERE scheduled_at < %s "
            "AND status IN ('succeeded', 'failed', 'cancelled', 'aborted')",
            (cutoff,),
        )
    return forgotten.rowcount
