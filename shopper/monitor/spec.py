"""A schedule file as typed values: what to call, when, and when to alert.

The loader (`shopper.monitor.schedule`) turns the YAML into these; the scheduler, the alert
rules, the dashboard and the fleet read only these. Durations are seconds, times of day and
dates are local to the schedule's `timezone`, instants are aware datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

SloMetric = Literal["time_to_human", "hold", "reached_human"]
"""What an SLO is judged on: p95 of the time to a person or of the hold (seconds, lower is
better), or the share of calls that reached a person (higher is better)."""


@dataclass(frozen=True, slots=True)
class Every:
    """A fixed interval: runs at start + k * seconds."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Cron:
    """A five-field cron expression, read in the schedule's time zone."""

    expression: str


Cadence = Every | Cron


@dataclass(frozen=True, slots=True)
class ActiveHours:
    """When a check may call at all (outside: runs are skipped, not only alerts muted).

    `days` are ISO weekdays (1 = Monday); `hours` are [start, end) local times, several
    ranges allowed; `except_dates` are local dates with no runs (holidays)."""

    days: frozenset[int] = frozenset(range(1, 8))
    hours: tuple[tuple[time, time], ...] = ((time(0, 0), time(23, 59, 59, 999999)),)
    except_dates: frozenset[date] = frozenset()


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A planned window [start, end) with no runs; both ends aware (local zone applied)."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Retries:
    """Re-try a failed call `count` times, `after_s` apart, before the run counts as failed."""

    count: int = 0
    after_s: float = 30.0


@dataclass(frozen=True, slots=True)
class AlertRule:
    """When a check's alert goes `failing` and back to `ok`.

    Failing after `failures` failed runs among the last `of_last` (equal: consecutive);
    ok again after `recover_after` passed runs in a row; while failing, notified again
    every `renotify_s` (None: once)."""

    failures: int = 3
    of_last: int = 3
    recover_after: int = 1
    renotify_s: float | None = None


@dataclass(frozen=True, slots=True)
class SloRule:
    """A service level over a sliding window: p95 at most `p95_max` (time_to_human, hold,
    seconds) or a share at least `min_share` (reached_human, 0..1)."""

    metric: SloMetric
    window_s: float
    p95_max: float | None = None
    min_share: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSpec:
    """One named check: a call script on a cadence, with its windows, retries and alerts."""

    name: str
    script: Path
    cadence: Cadence
    jitter_s: float = 0.0
    active: ActiveHours = field(default_factory=ActiveHours)
    maintenance: tuple[Maintenance, ...] = ()
    retries: Retries = field(default_factory=Retries)
    alert: AlertRule = field(default_factory=AlertRule)
    slos: tuple[SloRule, ...] = ()
    webhooks: tuple[str, ...] = ()
    """URLs an alert change is POSTed to as JSON (besides MQTT)."""


@dataclass(frozen=True, slots=True)
class Lines:
    """How many calls at once: in all, per target line, and new calls per second per target."""

    max_parallel: int = 4
    per_target: int = 1
    cps: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A whole schedule file."""

    path: Path
    timezone: ZoneInfo
    checks: tuple[CheckSpec, ...]
    lines: Lines = field(default_factory=Lines)
    keep_days: float = 30.0
    """Call folders and history older than this are deleted (retention)."""
