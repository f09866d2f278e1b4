"""One scheduled run of a check: its call placed the way `shopper run` places it, retried
while it fails, its evidence written and published, and its outcome as a `RunRecord`.

A run's retries count once: the record carries the last attempt (its outcome, failure and
call folder) and how many attempts it took, so a call that failed once and passed on the
retry is a passed run, and an outage is one failed run per scheduled time, not one per
attempt. Every attempt is written like any call `shopper run` places; the earlier ones end
up inside the last one's folder, under `retried/`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shopper.asr.types import SpeechEngine
from shopper.carriers.options import DialOptions
from shopper.errors import ShopperError
from shopper.monitor.records import RunRecord
from shopper.monitor.spec import CheckSpec
from shopper.publish.feed import CallFeed
from shopper.publish.publisher import Publisher
from shopper.publish.topics import script_id
from shopper.results.record import CallRecord
from shopper.results.writer import ResultWriteError, write_call
from shopper.scripts.loader import load_script
from shopper.scripts.model import CallScript
from shopper.scripts.runner import CallContext, CallInterrupted, run_script

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_id_of(check: str, scheduled_at: datetime) -> str:
    """`<check>@<scheduled time, UTC ISO to the second>`: one id per scheduled run."""
    return f"{check}@{scheduled_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def jitter_of(run_id: str, jitter_s: float) -> float:
    """A delay in [0, jitter_s) drawn from the run id alone (SHA-256), so every process
    that fires the run delays it alike, and checks with the same cadence do not all dial on
    the same second."""
    if jitter_s <= 0:
        return 0.0
    digest = hashlib.sha256(run_id.encode()).digest()
    return jitter_s * int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledRun:
    """One fire of a check that was not skipped: what to call and when it was due."""

    check: CheckSpec
    scheduled_at: datetime
    """The cadence's fire time (aware), before jitter: with the check's name, the run's
    identity."""

    @property
    def run_id(self) -> str:
        return run_id_of(self.check.name, self.scheduled_at)

    @property
    def jitter_s(self) -> float:
        return jitter_of(self.run_id, self.check.jitter_s)

    @property
    def due_at(self) -> datetime:
        """When the call is dialled: the scheduled time plus the run's jitter."""
        return self.scheduled_at + timedelta(seconds=self.jitter_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckContext:
    """What placing a check's call needs besides the check: the speech engine, how to dial
    (caps included), where evidence goes, and the MQTT publisher (None: not publishing).

    A run's call folder is `out/<check>/<call id>` (retries inside it). `sleep` and `clock` are
    injectable so tests drive retries without waiting."""

    speech: SpeechEngine
    options: DialOptions
    out: Path
    publisher: Publisher | None = None
    sleep: Sleep = asyncio.sleep
    clock: Clock = utc_now
    on_call: Callable[[CallContext], None] | None = None
    """Sees each attempt's call as soon as it is placed (a fleet worker records its carrier
    leg, to hang it up should the worker die mid-call)."""


@dataclass(frozen=True, slots=True)
class _Attempt:
    record: CallRecord
    folder: Path
    feed: CallFeed | None

    @property
    def result(self) -> dict[str, Any]:
        return self.record.result

    @property
    def passed(self) -> bool:
        return bool(self.result["outcome"] == "passed")

    def publish(self) -> None:
        """The attempt's result, retained on the script's results topic."""
        if self.feed is not None:
            self.feed.finish(self.record)


def call_folder(out: Path, check: str, call_id: str) -> Path:
    """Where a check's call is written: `out/<check>/<call id>`."""
    return out / check / call_id


async def run_check(run: ScheduledRun, context: CheckContext) -> RunRecord:
    """Place the run's call, re-try it (`retries`) while it does not pass, and return the run.

    The script is read again for every run, so an edited script takes effect at the next run
    without restarting the monitor; a script that no longer loads is a run with outcome
    `error` (its one-line message as the failure), not a stopped monitor.

    Cancelled (Ctrl-C, SIGTERM) during a call: the call is hung up, its folder written, and
    the cancellation goes on; the run is not returned, so it is not recorded as a failure of
    the line. Raises ShopperError when the evidence cannot be written."""
    started = context.clock()
    try:
        script = load_script(run.check.script)
    except ShopperError as error:
        return RunRecord(
            run_id=run.run_id,
            check=run.check.name,
            scheduled_at=run.scheduled_at,
            started_at=started,
            ended_at=context.clock(),
            outcome="error",
            attempts=0,
            failure_kind="error",
            failure_message=str(error),
        )
    earlier: list[Path] = []
    while True:
        attempt = await _place(script, run, context)
        if attempt.passed or len(earlier) == run.check.retries.count:
            break
        earlier.append(attempt.folder)
        await context.sleep(run.check.retries.after_s)
    attempt.publish()
    _keep_inside(earlier, attempt.folder)
    return _record(run, attempt, len(earlier) + 1, started, context.clock())


RETRIED_FOLDER = "retried"


def _keep_inside(earlier: list[Path], last: Path) -> None:
    """Move the earlier attempts' call folders into the last one's `retried/`, so the run's
    evidence is one folder (the one the history names): deleting it deletes them all, and
    the failures a retry hid stay beside the verdict."""
    for folder in earlier:
        target = last / RETRIED_FOLDER / folder.name
        try:
            target.parent.mkdir(exist_ok=True)
            folder.rename(target)
        except OSError as error:
            raise ResultWriteError(
                f"{folder}: cannot move it into {target.parent} ({error.strerror})"
            ) from None


async def _place(script: CallScript, run: ScheduledRun, context: CheckContext) -> _Attempt:
    """One attempt: the call as `shopper run` places it (its live events on MQTT), tagged
    with the run id, written into its folder. Only the run's last attempt publishes its
    result, so a consumer sees one result per run id; an interrupted call publishes its own,
    as `shopper run` does."""
    publisher = context.publisher
    feed = CallFeed(publisher, script_id(script)) if publisher is not None else None

    def folder_of(call_id: str, _started: datetime) -> Path:
        return call_folder(context.out, run.check.name, call_id)

    def placed(call: CallContext) -> None:
        for watcher in (feed.attach if feed is not None else None, context.on_call):
            if watcher is not None:
                watcher(call)

    interrupted: CallInterrupted | None = None
    try:
        record = await run_script(
            script, context.speech, context.options, on_call=placed, folder=folder_of
        )
    except CallInterrupted as stopped:
        interrupted, record = stopped, stopped.record
    record.result["run_id"] = run.run_id
    folder = folder_of(str(record.result["call_id"]), run.scheduled_at)
    write_call(record, folder)
    attempt = _Attempt(record, folder, feed)
    if interrupted is not None:
        attempt.publish()
        raise asyncio.CancelledError(str(interrupted))
    return attempt


def _record(
    run: ScheduledRun, attempt: _Attempt, attempts: int, started: datetime, ended: datetime
) -> RunRecord:
    result = attempt.result
    failure = result["failure"]
    metrics = result["metrics"]
    return RunRecord(
        run_id=run.run_id,
        check=run.check.name,
        scheduled_at=run.scheduled_at,
        started_at=started,
        ended_at=ended,
        outcome=result["outcome"],
        attempts=attempts,
        failure_kind=None if failure is None else str(failure["kind"]),
        failure_message=None if failure is None else str(failure["message"]),
        reached_human=bool(result["human"]["detected"]),
        time_to_human_s=metrics["time_to_human_s"],
        hold_s=metrics["hold_s"],
        call_id=str(result["call_id"]),
        evidence=str(attempt.folder),
    )
