"""A monitor history as weeks of scheduled runs would leave it, for dashboard and retention tests.

Runs every few minutes in each check's business hours, times to a person that wander like real
queues do (longer at lunch, a slow afternoon), scattered failures and errors, and one outage
long enough to raise an alert and clear it, with the alert states a 3-in-a-row / 2-to-recover
rule would have saved. Deterministic (seeded), so a test can name the runs it expects.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from shopper.monitor.history import History
from shopper.monitor.records import AlertState, RunOutcome, RunRecord

CHICAGO = ZoneInfo("America/Chicago")


@dataclass(frozen=True)
class SyntheticCheck:
    name: str
    every_min: int
    hours: tuple[int, int]
    """Local business hours [start, end) on weekdays; (0, 24) for every day, all day."""
    typical_s: float
    """Median time to a person."""
    failure_share: float
    error_share: float
    outage: tuple[datetime, datetime] | None = None


def fill_history(
    history: History,
    out_dir: Path,
    checks: list[SyntheticCheck],
    *,
    start: datetime,
    end: datetime,
    make_folders: bool = False,
) -> list[RunRecord]:
    """Add every check's runs between `start` and `end` and the alert states they cause;
    with `make_folders`, each run's call folder under `out_dir` with a tiny report.html."""
    added = []
    for index, check in enumerate(checks):
        spawn = random.Random(index)
        failures_in_a_row = 0
        passes_in_a_row = 0
        failing = False
        for at in _fire_times(check, start, end):
            run = _run(check, at, spawn, out_dir)
            history.add_run(run)
            added.append(run)
            if make_folders and run.evidence is not None:
                folder = Path(run.evidence)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "report.html").write_text(f"<title>{run.run_id}</title>\n")
            if run.outcome == "passed":
                passes_in_a_row, failures_in_a_row = passes_in_a_row + 1, 0
            else:
                passes_in_a_row, failures_in_a_row = 0, failures_in_a_row + 1
            if not failing and failures_in_a_row >= 3:
                failing = True
                reason = f"{failures_in_a_row} failed runs in a row: {run.failure_message}"
                history.save_alert(_alert(run, "failing", reason))
            elif failing and passes_in_a_row >= 2:
                failing = False
                history.save_alert(_alert(run, "ok", "2 passed runs in a row"))
    return added


def _fire_times(check: SyntheticCheck, start: datetime, end: datetime) -> Iterator[datetime]:
    at = start
    while at < end:
        local = at.astimezone(CHICAGO)
        all_day = check.hours == (0, 24)
        if all_day or (local.isoweekday() <= 5 and check.hours[0] <= local.hour < check.hours[1]):
            yield at
        at += timedelta(minutes=check.every_min)


def _run(check: SyntheticCheck, at: datetime, spawn: random.Random, out_dir: Path) -> RunRecord:
    local = at.astimezone(CHICAGO)
    hour = local.hour + local.minute / 60
    busy = 1 + 0.6 * math.exp(-(((hour - 12.5) / 1.2) ** 2)) + 0.3 * (hour > 15)
    hold = max(spawn.lognormvariate(math.log(check.typical_s * 0.7 * busy), 0.35), 0.0)
    time_to_human: float | None = hold + spawn.uniform(14, 22)
    outcome: RunOutcome = "passed"
    kind: str | None = None
    message: str | None = None
    in_outage = check.outage is not None and check.outage[0] <= at < check.outage[1]
    draw = spawn.random()
    if in_outage:
        outcome, kind, time_to_human, hold = "failed", "no-human", None, 590.0
        message = "no person answered within 10 min (hold music until the call was ended)"
    elif draw < check.error_share:
        outcome, kind, time_to_human, hold = "error", "carrier", None, 0.0
        message = "the carrier could not place the call: 503 Service Unavailable"
    elif draw < check.error_share + check.failure_share:
        outcome, kind = "failed", "assertion"
        time_to_human = 180 + spawn.uniform(5, 140)
        hold = time_to_human - 18
        message = f"time_to_human {time_to_human:.1f} s is over its limit of 180 s"
    call_id = f"{at.strftime('%Y%m%dT%H%M%SZ')}-{check.name}-{spawn.getrandbits(24):06x}"
    folder = out_dir / check.name / call_id
    return RunRecord(
        run_id=f"{check.name}@{at.isoformat()}",
        check=check.name,
        scheduled_at=at,
        started_at=at + timedelta(seconds=2),
        ended_at=at + timedelta(seconds=(time_to_human or 600) + 10),
        outcome=outcome,
        attempts=1 if outcome == "passed" else 2,
        failure_kind=kind,
        failure_message=message,
        reached_human=time_to_human is not None,
        time_to_human_s=None if time_to_human is None else round(time_to_human, 3),
        hold_s=round(hold, 3),
        call_id=call_id,
        evidence=str(folder),
    )


def _alert(run: RunRecord, status: str, reason: str) -> AlertState:
    return AlertState(
        check=run.check,
        status=status,  # type: ignore[arg-type]
        since=run.ended_at,
        reason=reason,
        evidence=(run.run_id,),
        notified_at=run.ended_at,
    )


def three_weeks_of_checks(now: datetime) -> tuple[list[SyntheticCheck], datetime]:
    """Three checks over three weeks up to `now`, the first with a 90-minute outage."""
    start = (now - timedelta(days=21)).replace(minute=0, second=0, microsecond=0)
    outage_start = (
        (now - timedelta(days=2))
        .astimezone(CHICAGO)
        .replace(hour=10, minute=30, second=0, microsecond=0)
    )
    outage = (outage_start.astimezone(UTC), (outage_start + timedelta(minutes=90)).astimezone(UTC))
    checks = [
        SyntheticCheck("support-line", 5, (8, 20), 75.0, 0.02, 0.005, outage),
        SyntheticCheck("billing-human", 10, (8, 18), 140.0, 0.06, 0.01),
        SyntheticCheck("after-hours-voicemail", 15, (0, 24), 25.0, 0.01, 0.01),
    ]
    return checks, start
