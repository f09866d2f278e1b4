"""The fleet's queue: a procrastinate app on PostgreSQL and shopper's tables beside it.

Every monitor and worker calls `prepare` on start: it creates procrastinate's schema when the
database has none, and shopper's own tables when missing, under an advisory lock so several
processes starting at once do not race. A database URL that cannot be reached is a one-line
error naming it (without its password) and what to check.
"""

from __future__ import annotations

import procrastinate
import psycopg
from psycopg.conninfo import conninfo_to_dict

from shopper.errors import ShopperError

TASK = "shopper.monitor.fleet.run_call"
"""The procrastinate task name of one scheduled run (workers register it; monitors defer it
by name)."""
QUEUE = "shopper-calls"

_SETUP_LOCK = 7_160_514_001
"""pg_advisory_xact_lock key held while creating the schema."""
REPORTER_LOCK = 7_160_514_002
"""pg_try_advisory_lock key of the monitor that reports results to the observers (alerts)."""

SHOPPER_TABLES = """
CREATE TABLE IF NOT EXISTS shopper_fleet_runs (
    run_id text PRIMARY KEY,
    check_name text NOT NULL,
    scheduled_at timestamptz NOT NULL,
    line text NOT NULL,
    state text NOT NULL CHECK (state IN ('queued', 'skipped', 'ended')),
    job_id bigint,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    enqueued_by text NOT NULL,
    record jsonb,
    seq bigint UNIQUE
);
CREATE SEQUENCE IF NOT EXISTS shopper_fleet_results;
CREATE TABLE IF NOT EXISTS shopper_fleet_attempts (
    run_id text NOT NULL REFERENCES shopper_fleet_runs ON DELETE CASCADE,
    attempt integer NOT NULL,
    worker text NOT NULL,
    line text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at timestamptz,
    leg jsonb,
    hung_up_at timestamptz,
    hang_up_note text,
    PRIMARY KEY (run_id, attempt)
);
CREATE TABLE IF NOT EXISTS shopper_fleet_cursors (
    name text PRIMARY KEY,
    seq bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS shopper_fleet_alerts (
    seq bigserial PRIMARY KEY,
    check_name text NOT NULL,
    previous bigint NOT NULL,
    status text NOT NULL,
    since timestamptz NOT NULL,
    reason text NOT NULL,
    evidence jsonb NOT NULL,
    notified_at timestamptz,
    payload jsonb NOT NULL,
    claimed_by text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    announced_at timestamptz,
    UNIQUE (check_name, previous)
);
"""


class QueueError(ShopperError):
    """The fleet's database cannot be used (unreachable, refused, not PostgreSQL)."""


def safe_dsn(dsn: str) -> str:
    """The URL as it may be shown: host, port and database, never the password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the --queue URL"
    host = parts.get("host", "localhost")
    port = parts.get("port", "5432")
    return f"postgresql://{host}:{port}/{parts.get('dbname', '')}"


def fleet_app(dsn: str, max_connections: int = 4) -> procrastinate.App:
    """The procrastinate app on the fleet's database (opened with `async with app.open_async()`)."""
    connector = procrastinate.PsycopgConnector(conninfo=dsn, min_size=1, max_size=max_connections)
    return procrastinate.App(connector=connector)


async def connect(dsn: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    """An autocommit connection of shopper's own (its tables, the enqueueing transaction)."""
    try:
        return await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    except psycopg.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise QueueError(
            f"cannot reach the queue database {safe_dsn(dsn)}: {first} "
            "(check --queue: host, port, user, database, and that PostgreSQL is running)"
        ) from None


async def prepare(dsn: str) -> None:
    """Create procrastinate's schema (when absent) and shopper's tables (when missing)."""
    connection = await connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            found = await connection.execute("SELECT to_regclass('procrastinate_jobs')")
            row = await found.fetchone()
            if row is None or row[0] is None:
                schema = procrastinate.schema.SchemaManager.get_schema()
                await connection.execute(schema)
            await connection.execute(SHOPPER_TABLES)
    except psycopg.Error as error:
        raise QueueError(f"cannot set up the queue database {safe_dsn(dsn)}: {error}") from None
    finally:
        await connection.close()
