"""A fleet's alert states, shared in a real PostgreSQL: two monitors follow the same results;
when the reporting one dies the other takes over without announcing again what was announced
and without missing a change, and a change claimed by a monitor that died before announcing
it is announced by the next, once, with the same document."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import procrastinate
from monitor_runs import EVERY, T0, Clock, check_spec

from shopper.monitor.alert_observer import AlertObserver
from shopper.monitor.alert_states import Claim, Known
from shopper.monitor.fleet import ledger
from shopper.monitor.fleet.alerts import FleetAlertStates
from shopper.monitor.fleet.enqueue import enqueue_run
from shopper.monitor.fleet.monitor import FleetResults
from shopper.monitor.fleet.queue import connect, fleet_app, prepare
from shopper.monitor.fleet.runs import FleetRun
from shopper.monitor.history import History
from shopper.monitor.records import AlertState, RunOutcome, RunRecord
from shopper.publish.outbox import Outbox
from shopper.publish.publisher import Publisher
from shopper.publish.settings import mqtt_settings

CHECK = "support-line"


async def finish_run(
    app: procrastinate.App, writer: ledger.Connection, n: int, outcome: RunOutcome
) -> None:
    """The n-th scheduled run of CHECK, enqueued, taken and finished with `outcome`, as a
    fleet worker records it in the shared ledger."""
    at = T0 + n * EVERY
    run = FleetRun(
        run_id=f"{CHECK}@{at:%Y-%m-%dT%H:%M:%SZ}", check=CHECK, scheduled_at=at,
        line="sandbox:acme", schedule="s.yaml",
    )  # fmt: skip
    await enqueue_run(app, writer, run, "m")
    attempt = await ledger.start_attempt(writer, run.run_id, "w", run.line)
    record = RunRecord(
        run_id=run.run_id, check=CHECK, scheduled_at=at, started_at=at,
        ended_at=at + timedelta(seconds=30), outcome=outcome, attempts=1,
        failure_kind=None if outcome == "passed" else "step",
        failure_message=None if outcome == "passed" else "nobody answered",
        reached_human=outcome == "passed", evidence=f"/srv/out/call-{n}",
    )  # fmt: skip
    await ledger.save_result(writer, attempt, record)


async def take_over(results: FleetResults, connection: ledger.Connection) -> None:
    """Follow until this monitor reports: a closed session's lock is freed once its server
    process has ended, a moment after the client closed it."""
    async with asyncio.timeout(10):
        while not results.reporting:
            await results.catch_up(connection)
            await asyncio.sleep(0.05)


class Monitor:
    """One monitor's alert side in a fleet: its own history and MQTT outbox (a publisher never
    started: what it announces stays there to be read), the shared states, the follower."""

    def __init__(self, dsn: str, folder: Path, name: str, clock: Clock) -> None:
        self.history = History(folder / f"{name}.sqlite3")
        settings = mqtt_settings({"url": "mqtt://127.0.0.1:9", "site": "lab"})
        assert settings is not None
        self.outbox = Outbox(folder / f"{name}-outbox.sqlite3", warn=lambda _: None)
        publisher = Publisher(settings, self.outbox, lambda _: None)
        self.states = FleetAlertStates(self.history, name)
        self.observer = AlertObserver(
            [check_spec()], self.history, publisher=publisher, clock=clock, states=self.states
        )
        self.results = FleetResults(dsn, self.history, [self.observer], alerts=self.states)

    def announced(self) -> list[dict[str, object]]:
        return [json.loads(entry.payload) for entry in self.outbox.peek(100)]

    def close(self) -> None:
        self.history.close()
        self.outbox.close()


async def test_a_monitor_taking_over_neither_repeats_nor_misses_a_change(
    postgres_dsn: str, tmp_path: Path
) -> None:
    await prepare(postgres_dsn)
    app = fleet_app(postgres_dsn)
    writer = await connect(postgres_dsn)
    clock = Clock(T0)

    async def finish(n: int, outcome: RunOutcome) -> None:
        clock.now = T0 + n * EVERY + timedelta(minutes=1)
        await finish_run(app, writer, n, outcome)

    a = Monitor(postgres_dsn, tmp_path, "a", clock)
    b = Monitor(postgres_dsn, tmp_path, "b", clock)
    connection_a, connection_b = await connect(postgres_dsn), await connect(postgres_dsn)
    try:
        for n in range(2):
            await finish(n, "failed")  # failures: 2 of the last 2
        await a.results.catch_up(connection_a)
        await b.results.catch_up(connection_b)
        assert (a.results.reporting, b.results.reporting) == (True, False)
        assert [p["change"] for p in a.announced()] == ["raised"]
        assert b.announced() == []
        await b.results.catch_up(connection_b)  # b copies the shared state for its views
        state_b = b.history.alert(CHECK)
        assert state_b is not None and state_b.status == "failing"

        await connection_a.close()  # the reporter dies: its lock goes with its session
        await finish(2, "failed")
        await take_over(b.results, connection_b)
        assert b.announced() == [], "b must not raise again what a announced"
        await finish(3, "passed")  # recover_after: 1
        await b.results.catch_up(connection_b)
        assert [(p["change"], p["previous"]) for p in b.announced()] == [("recovered", "failing")]
        assert [p["change"] for p in a.announced()] == ["raised"]
        assert [s.status for s in b.history.alerts(CHECK)] == ["failing", "ok"]
        rows = await (
            await writer.execute(
                "SELECT status, previous, claimed_by, announced_at IS NOT NULL "
                "FROM shopper_fleet_alerts ORDER BY seq"
            )
        ).fetchall()
        assert [(r[0], r[2], r[3]) for r in rows] == [("failing", "a", True), ("ok", "b", True)]
        assert rows[0][1] == 0
    finally:
        for connection in (connection_a, connection_b, writer):
            await connection.close()
        a.close()
        b.close()


class DiesAfterClaiming(FleetAlertStates):
    """A reporter that dies between claiming a change and announcing it."""

    async def claim(self, state: AlertState, against: Known, payload: dict[str, object]) -> Claim:
        claim = await super().claim(state, against, payload)
        assert claim is not None
        raise ConnectionAbortedError("killed")


async def test_a_change_claimed_by_a_dead_reporter_is_announced_once_by_the_next(
    postgres_dsn: str, tmp_path: Path
) -> None:
    await prepare(postgres_dsn)
    app = fleet_app(postgres_dsn)
    writer = await connect(postgres_dsn)
    clock = Clock(T0 + 2 * EVERY)
    a = Monitor(postgres_dsn, tmp_path, "a", clock)
    a.states = DiesAfterClaiming(a.history, "a")
    a.observer.states = a.states
    a.results = FleetResults(postgres_dsn, a.history, [a.observer], alerts=a.states)
    b = Monitor(postgres_dsn, tmp_path, "b", clock)
    connection_a, connection_b = await connect(postgres_dsn), await connect(postgres_dsn)
    try:
        for n in range(2):
            await finish_run(app, writer, n, "failed")
        await a.results.catch_up(connection_a)
        assert a.announced() == []
        [claimed] = await (
            await writer.execute("SELECT payload FROM shopper_fleet_alerts")
        ).fetchall()
        await connection_a.close()
        await take_over(b.results, connection_b)
        [announced] = b.announced()
        assert announced == claimed[0], "the dead reporter's document, with its id"
        await b.results.catch_up(connection_b)
        assert len(b.announced()) == 1
        # a claim needs the reporter lock, and one change per state
        a.states.use(connection_b)  # b's session holds the lock
        known = await b.states.current(CHECK)
        ok = AlertState(check=CHECK, status="ok", since=clock.now, reason="test")
        assert await b.states.claim(ok, Known(None), {"id": "x"}) is None
        other = await connect(postgres_dsn)
        b.states.use(other)
        assert await b.states.claim(ok, known, {"id": "y"}) is None, "not the reporter"
        b.states.use(connection_b)
        assert await b.states.claim(ok, known, {"id": "z"}) is not None
        await other.close()
    finally:
        for connection in (connection_a, connection_b, writer):
            await connection.close()
        a.close()
        b.close()
