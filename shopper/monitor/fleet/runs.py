"""What travels through the queue: a scheduled run to call, and a finished run's record.

A job carries only names and times (JSON in procrastinate's `args`): the worker finds the
check in the schedule file by name, so workers and monitors must see the same schedule and
scripts (the same checkout or image on every machine). Records go back as JSON in the fleet's
run table, with aware UTC times.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, cast

from shopper.monitor.records import RunOutcome, RunRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetRun:
    """One scheduled run of a check, as a job: `run_id` is `<check>@<scheduled UTC ISO>`,
    the same in every monitor, so the run is enqueued once whoever enqueues it; `line` is the
    target line (carrier and number), the job's lock, so one line carries one call at a time
    across the fleet."""

    run_id: str
    check: str
    scheduled_at: datetime
    line: str
    schedule: str
    """The schedule file the check is in, as the monitor was given it."""

    def to_job(self) -> dict[str, str]:
        return {
            "run_id": self.run_id,
            "check": self.check,
            "scheduled_at": self.scheduled_at.astimezone(UTC).isoformat(),
            "line": self.line,
            "schedule": self.schedule,
        }

    @classmethod
    def from_job(cls, args: dict[str, Any]) -> FleetRun:
        return cls(
            run_id=str(args["run_id"]),
            check=str(args["check"]),
            scheduled_at=datetime.fromisoformat(str(args["scheduled_at"])),
            line=str(args["line"]),
            schedule=str(args["schedule"]),
        )


_TIMES = ("scheduled_at", "started_at", "ended_at")


def record_to_json(run: RunRecord) -> dict[str, Any]:
    document = asdict(run)
    for name in _TIMES:
        document[name] = cast(datetime, document[name]).astimezone(UTC).isoformat()
    return document


def record_from_json(document: dict[str, Any]) -> RunRecord:
    return RunRecord(
        run_id=str(document["run_id"]),
        check=str(document["check"]),
        scheduled_at=datetime.fromisoformat(document["scheduled_at"]),
        started_at=datetime.fromisoformat(document["started_at"]),
        ended_at=datetime.fromisoformat(document["ended_at"]),
        outcome=cast(RunOutcome, document["outcome"]),
        attempts=int(document["attempts"]),
        failure_kind=document.get("failure_kind"),
        failure_message=document.get("failure_message"),
        reached_human=bool(document.get("reached_human", False)),
        time_to_human_s=document.get("time_to_human_s"),
        hold_s=document.get("hold_s"),
        call_id=document.get("call_id"),
        evidence=document.get("evidence"),
    )
