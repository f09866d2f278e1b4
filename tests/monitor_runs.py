"""Synthetic runs and a hand-moved clock for the monitor's alert, metrics and status tests, and
a fleet worker served until a run is done."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shopper.monitor.fleet import ledger
from shopper.monitor.fleet.runs import FleetRun
from shopper.monitor.fleet.worker import FleetWorker
from shopper.monitor.records import RunOutcome, RunRecord
from shopper.monitor.spec import AlertRule, CheckSpec, Every

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EVERY = timedelta(minutes=5)


class Clock:
    """The observers' clock, moved by the test: no test waits through real minutes."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def check_spec(
    name: str = "support-line", rule: AlertRule | None = None, webhooks: tuple[str, ...] = ()
) -> CheckSpec:
    return CheckSpec(
        name=name,
        script=Path("scripts/acme/billing-human.yaml"),
        cadence=Every(EVERY.total_seconds()),
        alert=rule or AlertRule(failures=2, of_last=2, recover_after=1, renotify_s=3600.0),
        webhooks=webhooks,
    )


def run_record(
    n: int,
    outcome: RunOutcome,
    check: str = "support-line",
    tth: float = 42.0,
    hold: float | None = 20.0,
) -> RunRecord:
    """The n-th scheduled run of `check`, 5 minutes apart from T0; passed runs reach a person."""
    at = T0 + n * EVERY
    passed = outcome == "passed"
    return RunRecord(
        run_id=f"{check}@{at.isoformat()}",
        check=check,
        scheduled_at=at,
        started_at=at + timedelta(seconds=1),
        ended_at=at + timedelta(seconds=80),
        outcome=outcome,
        attempts=1,
        failure_kind=None if passed else "step",
        failure_message=None if passed else "no person answered within 180 s",
        reached_human=passed,
        time_to_human_s=tth if passed else None,
        hold_s=hold,
        call_id=f"call-{n}",
        evidence=f"/srv/monitor/out/call-{n}",
    )


def passed_now(run: FleetRun) -> RunRecord:
    """`run` passed, started and ended now: the record of a fleet test's stand-in call."""
    now = datetime.now(UTC)
    return RunRecord(
        run_id=run.run_id,
        check=run.check,
        scheduled_at=run.scheduled_at,
        started_at=now,
        ended_at=now,
        outcome="passed",
        attempts=1,
    )


async def serve_until_finished(
    worker: FleetWorker, connection: ledger.Connection, run_id: str, within_s: float
) -> None:
    """Serve with `worker` until the ledger has `run_id`'s result (TimeoutError after
    `within_s`), then stop it."""
    stop = asyncio.Event()
    serving = asyncio.create_task(worker.serve(stop))
    async with asyncio.timeout(within_s):
        while not await ledger.has_result(connection, run_id):
            await asyncio.sleep(0.1)
    stop.set()
    await serving
