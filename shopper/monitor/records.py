"""What scheduled monitoring remembers: runs, skipped runs and alert states.

These are the facts the scheduler, the alert rules, `monitor status`, the dashboard and the
fleet's workers share, so they are plain frozen records with aware UTC times: each of those
parts reads them, none of them owns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

RunOutcome = Literal["passed", "failed", "error"]
"""A run's outcome is its call's: `error` is a call that could not be judged (not placed,
interrupted, a bad script), which the alert rules count as a failure of the line."""

SkipReason = Literal["overlap", "inactive", "maintenance", "queued"]
"""Why a scheduled run was not placed: the check's previous run was still going; outside the
check's active hours; inside a maintenance window; a run of the check already waits in the
fleet's queue."""

AlertStatus = Literal["ok", "failing"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """One scheduled run of a check: its retries count once, as its last attempt.

    `run_id` is unique per scheduled run and travels in the call's result, so consumers of
    results that arrive twice (a fleet worker died after publishing) de-duplicate by it."""

    run_id: str
    check: str
    scheduled_at: datetime
    started_at: datetime
    ended_at: datetime
    outcome: RunOutcome
    attempts: int
    failure_kind: str | None = None
    failure_message: str | None = None
    reached_human: bool = False
    time_to_human_s: float | None = None
    hold_s: float | None = None
    call_id: str | None = None
    evidence: str | None = None
    """The kept attempt's call folder (its report.html is the evidence a person opens)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SkippedRun:
    """A fire time that placed no call, kept so `status` and metrics can count them."""

    check: str
    scheduled_at: datetime
    reason: SkipReason


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertState:
    """A check's alert as it stands since `since`; `evidence` names the runs that caused it."""

    check: str
    status: AlertStatus
    since: datetime
    reason: str
    evidence: tuple[str, ...] = ()
    notified_at: datetime | None = None
    """When the last notification of this state went out (re-notification counts from it)."""
