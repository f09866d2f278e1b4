"""The monitor's decisions per fire, driven with chosen fire times (no real minutes): skips
for overlap, inactive hours and maintenance recorded with their reason; runs recorded before
observers hear of them; a broken observer or dispatch does not stop the monitoring; a
restarted monitor does not replay what it missed. One short test runs the real APScheduler
clock on a one-second cadence to show fires arrive with their scheduled times."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shopper.carriers.options import DialOptions
from shopper.errors import ShopperError
from shopper.monitor.calendar import closed_reason
from shopper.monitor.checks import CheckContext, ScheduledRun
from shopper.monitor.dispatch import CallHere, DispatchResult
from shopper.monitor.history import History, opened_history
from shopper.monitor.records import RunRecord, SkippedRun
from shopper.monitor.scheduler import Monitor
from shopper.monitor.spec import ActiveHours, CheckSpec, Every, Maintenance, Schedule

CHICAGO = ZoneInfo("America/Chicago")
BUSINESS = ActiveHours(
    days=frozenset(range(1, 6)),
    hours=((time(8), time(20)),),
    except_dates=frozenset({date(2026, 12, 25)}),
)
MONDAY_9AM = datetime(2026, 12, 7, 9, tzinfo=CHICAGO)


def check(name: str = "line", **fields: object) -> CheckSpec:
    return CheckSpec(name=name, script=Path("unused.yaml"), cadence=Every(300), **fields)  # type: ignore[arg-type]


def schedule(*checks: CheckSpec) -> Schedule:
    return Schedule(path=Path("schedule.yaml"), timezone=CHICAGO, checks=checks)


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    with opened_history(tmp_path / "monitor.sqlite3") as opened:
        yield opened


class Recorder:
    """A dispatch that records each run and, while `gate` is unset, holds it (a long call)."""

    def __init__(self) -> None:
        self.runs: list[ScheduledRun] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, run: ScheduledRun) -> DispatchResult:
        self.runs.append(run)
        await self.gate.wait()
        return passed(run)


def passed(run: ScheduledRun) -> RunRecord:
    return RunRecord(
        run_id=run.run_id,
        check=run.check.name,
        scheduled_at=run.scheduled_at,
        started_at=run.scheduled_at,
        ended_at=run.scheduled_at + timedelta(seconds=40),
        outcome="passed",
        attempts=1,
    )


class Observer:
    """Notes what it is told and what the history held at that moment."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.told: list[tuple[str, str, bool]] = []

    async def run_ended(self, run: RunRecord) -> None:
        in_history = run.run_id in {r.run_id for r in self.history.runs(run.check)}
        self.told.append(("ended", run.run_id, in_history))

    async def run_skipped(self, skip: SkippedRun) -> None:
        in_history = skip in self.history.skips(skip.check)
        self.told.append(("skipped", skip.reason, in_history))


async def test_a_fire_while_the_previous_run_goes_on_is_skipped_and_recorded(
    history: History,
) -> None:
    dispatch, observer = Recorder(), Observer(history)
    line = check()
    monitor = Monitor(schedule(line), history, dispatch, [observer])
    dispatch.gate.clear()
    first = asyncio.create_task(monitor.fire(line, MONDAY_9AM))
    await asyncio.sleep(0)
    assert monitor.running == {"line"}
    await monitor.fire(line, MONDAY_9AM + timedelta(minutes=5))
    dispatch.gate.set()
    await first
    assert [run.scheduled_at for run in dispatch.runs] == [MONDAY_9AM]
    (skip,) = history.skips("line")
    assert skip.reason == "overlap" and skip.scheduled_at == MONDAY_9AM + timedelta(minutes=5)
    assert [r.run_id for r in history.runs("line")] == ["line@2026-12-07T15:00:00Z"]
    assert observer.told == [
        ("skipped", "overlap", True),
        ("ended", "line@2026-12-07T15:00:00Z", True),
    ]
    await monitor.fire(line, MONDAY_9AM + timedelta(minutes=10))  # the line is free again
    assert len(dispatch.runs) == 2 and monitor.running == frozenset()


async def test_runs_of_different_checks_do_not_overlap_each_other(history: History) -> None:
    dispatch = Recorder()
    a, b = check("a"), check("b")
    monitor = Monitor(schedule(a, b), history, dispatch)
    dispatch.gate.clear()
    first = asyncio.create_task(monitor.fire(a, MONDAY_9AM))
    second = asyncio.create_task(monitor.fire(b, MONDAY_9AM))
    await asyncio.sleep(0)
    dispatch.gate.set()
    await asyncio.gather(first, second)
    assert {r.check.name for r in dispatch.runs} == {"a", "b"} and history.skips("a") == []


@pytest.mark.parametrize(
    ("moment", "reason"),
    [
        (MONDAY_9AM, None),
        (datetime(2026, 12, 7, 7, 59, tzinfo=CHICAGO), "inactive"),  # before opening
        (datetime(2026, 12, 7, 20, 0, tzinfo=CHICAGO), "inactive"),  # the end is excluded
        (datetime(2026, 12, 12, 10, 0, tzinfo=CHICAGO), "inactive"),  # Saturday
        (datetime(2026, 12, 25, 10, 0, tzinfo=CHICAGO), "inactive"),  # the holiday
        (datetime(2026, 12, 31, 22, 30, tzinfo=CHICAGO), "maintenance"),
        (datetime(2027, 1, 1, 1, 59, tzinfo=CHICAGO), "maintenance"),
    ],
)
def test_business_hours_holidays_and_maintenance_in_local_time(
    moment: datetime, reason: str | None
) -> None:
    window = Maintenance(
        start=datetime(2026, 12, 31, 22, tzinfo=CHICAGO),
        end=datetime(2027, 1, 1, 2, tzinfo=CHICAGO),
    )
    line = check(active=BUSINESS, maintenance=(window,))
    assert closed_reason(line, moment.astimezone(UTC), CHICAGO) == reason


def test_opening_hours_follow_the_local_clock_in_winter_and_summer() -> None:
    line = check(active=BUSINESS)
    # 13:30 UTC is 07:30 in Chicago in winter (closed) and 08:30 in summer (open)
    assert closed_reason(line, datetime(2026, 12, 7, 13, 30, tzinfo=UTC), CHICAGO) == "inactive"
    assert closed_reason(line, datetime(2026, 7, 6, 13, 30, tzinfo=UTC), CHICAGO) is None


async def test_skipped_fires_place_no_call_and_say_why(history: History) -> None:
    dispatch, observer = Recorder(), Observer(history)
    line = check(active=BUSINESS)
    monitor = Monitor(schedule(line), history, dispatch, [observer])
    await monitor.fire(line, datetime(2026, 12, 12, 10, tzinfo=CHICAGO))
    await monitor.fire(line, datetime(2026, 12, 7, 6, tzinfo=CHICAGO))
    assert dispatch.runs == []
    assert [s.reason for s in history.skips("line")] == ["inactive", "inactive"]
    assert observer.told == [("skipped", "inactive", True)] * 2


async def test_a_broken_observer_does_not_keep_the_others_from_hearing(
    history: History,
) -> None:
    class Broken:
        async def run_ended(self, run: RunRecord) -> None:
            raise RuntimeError("dashboard disk full")

        async def run_skipped(self, skip: SkippedRun) -> None:
            raise RuntimeError("dashboard disk full")

    warnings: list[str] = []
    observer = Observer(history)
    line = check()
    monitor = Monitor(
        schedule(line), history, Recorder(), [Broken(), observer], warn=warnings.append
    )
    await monitor.fire(line, MONDAY_9AM)
    assert [told[0] for told in observer.told] == ["ended"]
    assert len(warnings) == 1 and "dashboard disk full" in warnings[0]


async def test_a_dispatch_that_cannot_keep_its_evidence_is_an_error_run(
    history: History,
) -> None:
    async def unwritable(run: ScheduledRun) -> DispatchResult:
        raise ShopperError("/out/line: cannot create folder (disk full)")

    line = check()
    await Monitor(schedule(line), history, unwritable).fire(line, MONDAY_9AM)
    (run,) = history.runs("line")
    assert run.outcome == "error" and "disk full" in (run.failure_message or "")


async def test_a_queued_or_handed_over_run_is_recorded_as_its_dispatch_says(
    history: History,
) -> None:
    async def queued(run: ScheduledRun) -> DispatchResult:
        return SkippedRun(check=run.check.name, scheduled_at=run.scheduled_at, reason="queued")

    async def handed_over(run: ScheduledRun) -> DispatchResult:
        return None

    line = check()
    await Monitor(schedule(line), history, queued).fire(line, MONDAY_9AM)
    await Monitor(schedule(line), history, handed_over).fire(line, MONDAY_9AM)
    assert [s.reason for s in history.skips("line")] == ["queued"]
    assert history.runs("line") == []


async def test_a_restarted_monitor_does_not_replay_the_runs_it_missed(history: History) -> None:
    """The history says the last run was three hours ago; started again, every job's next
    fire is the next one after now, and nothing fires at start."""
    dispatch = Recorder()
    line = check()
    three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
    history.add_run(passed(ScheduledRun(check=line, scheduled_at=three_hours_ago)))
    monitor = Monitor(schedule(line, check("other")), history, dispatch)
    scheduler = monitor.scheduler()
    before = datetime.now(UTC)
    scheduler.start(paused=True)
    try:
        jobs = scheduler.get_jobs()
        assert {job.id for job in jobs} == {"line", "other"}
        for job in jobs:
            assert before <= job.next_run_time <= before + timedelta(minutes=5)
    finally:
        scheduler.shutdown(wait=False)
    assert dispatch.runs == [] and len(history.runs("line")) == 1


async def test_the_real_clock_fires_on_the_grid_with_the_scheduled_time(
    history: History,
) -> None:
    """APScheduler on a one-second cadence, for two seconds of real time: each fire carries
    its grid time (the run id), and a run longer than the cadence makes the next fire skip."""
    fast = CheckSpec(name="fast", script=Path("unused.yaml"), cadence=Every(1.0))
    dispatch = Recorder()
    dispatch.gate.clear()  # the first run lasts until released: the next fires overlap it
    monitor = Monitor(schedule(fast), history, dispatch)
    running = asyncio.create_task(monitor.run())
    async with asyncio.timeout(10):
        while len(history.skips("fast")) < 1:
            await asyncio.sleep(0.05)
    dispatch.gate.set()
    async with asyncio.timeout(10):
        while len(history.runs("fast")) < 2:
            await asyncio.sleep(0.05)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    runs = history.runs("fast")
    assert all(run.scheduled_at.microsecond == 0 for run in runs)
    assert all(run.run_id == f"fast@{run.scheduled_at:%Y-%m-%dT%H:%M:%SZ}" for run in runs)
    skipped = history.skips("fast")[0]
    assert skipped.reason == "overlap" and skipped.scheduled_at > runs[0].scheduled_at


async def test_a_call_here_waits_for_its_jitter_and_a_script_gone_is_an_error_run(
    tmp_path: Path,
) -> None:
    """The jitter is waited on the injected clock; a script deleted since the schedule was
    loaded makes the run an `error` with the loader's message, and the monitor goes on."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    gone = CheckSpec(name="gone", script=tmp_path / "gone.yaml", cadence=Every(300), jitter_s=30.0)
    context = CheckContext(
        speech=None,  # type: ignore[arg-type]  # never reached: the script does not load
        options=DialOptions(),
        out=tmp_path / "out",
        sleep=sleep,
        clock=lambda: MONDAY_9AM,
    )
    run = ScheduledRun(check=gone, scheduled_at=MONDAY_9AM)
    record = await CallHere(context, 1)(run)
    assert waits == [pytest.approx(run.jitter_s)] and 0 < run.jitter_s < 30
    assert record.outcome == "error" and record.attempts == 0
    assert "gone.yaml" in (record.failure_message or "")


async def test_a_fire_that_fails_unexpectedly_is_reported_and_frees_its_check(
    history: History,
) -> None:
    async def buggy(run: ScheduledRun) -> DispatchResult:
        raise RuntimeError("bug in a dispatch")

    warnings: list[str] = []
    line = check()
    monitor = Monitor(schedule(line), history, buggy, warn=warnings.append)
    monitor.start_fire(line, MONDAY_9AM - timedelta(minutes=5), MONDAY_9AM)  # coalesced
    async with asyncio.timeout(5):
        while not warnings:
            await asyncio.sleep(0.01)
    assert "bug in a dispatch" in warnings[0] and monitor.running == frozenset()
    assert history.runs("line") == [] and history.skips("line") == []
