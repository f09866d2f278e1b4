"""Alert rules: whether a check is failing, judged from its run history alone.

Pure functions over `RunRecord`s (oldest first) and the check's current `AlertState`, so the
same history always gives the same answer: a monitor restarted on its SQLite history finds
the state it saved and announces nothing again. One `RunRecord` is one scheduled run with its
retries (the scheduler keeps its last attempt), so a retried run counts once; a run id seen
twice (a fleet job retried after its worker died) also counts once, as its later record.

How a check's alert moves (docs/monitor.md, "Alerts"):
- `ok` -> `failing` when `failures` of the last `of_last` runs failed (`error` counts as a
  failure of the line), or when any SLO is breached over its window. Only runs after the
  last recovery are counted, so the failures that were already answered by a recovery do
  not raise the alert again.
- `failing` -> `ok` after `recover_after` passed runs in a row since it started failing, and
  only when no SLO is breached (otherwise the next run would raise it again at once).
- while `failing`, a reminder every `renotify_s` after the last notification.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from shopper.monitor.records import AlertState, RunRecord
from shopper.monitor.spec import AlertRule, SloRule

FAILED_OUTCOMES = frozenset({"failed", "error"})
SLO_QUANTILE = 0.95

ChangeKind = Literal["raised", "recovered", "reminder"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's judgement: whether it holds, why, and the runs that show it (by run id)."""

    holds: bool
    reason: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertChange:
    """A state to save and announce: a change of status, or a reminder of a failing one."""

    kind: ChangeKind
    state: AlertState
    previous: AlertState | None


def counted_runs(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """One record per run id (the last one given wins), in scheduled order."""
    by_id = {run.run_id: run for run in runs}
    return sorted(by_id.values(), key=lambda run: (run.scheduled_at, run.started_at))


def is_failure(run: RunRecord) -> bool:
    return run.outcome in FAILED_OUTCOMES


def failure_rule(rule: AlertRule, runs: Sequence[RunRecord]) -> Finding:
    """`failures` failed runs among the last `of_last` (consecutive when the two are equal)."""
    window = list(runs)[-rule.of_last :]
    failed = [run for run in window if is_failure(run)]
    if len(failed) < rule.failures:
        return Finding(False, f"{len(failed)} of the last {len(window)} runs failed")
    if len(failed) == 1:
        what = "1 run failed"
    elif len(failed) == len(window):
        what = f"{len(failed)} runs in a row failed"
    else:
        what = f"{len(failed)} of the last {len(window)} runs failed"
    latest = failed[-1]
    detail = " ".join((latest.failure_message or latest.failure_kind or latest.outcome).split())
    return Finding(True, f"{what} (latest: {detail})", tuple(run.run_id for run in failed))


def recovery_rule(rule: AlertRule, runs: Sequence[RunRecord]) -> Finding:
    """`recover_after` passed runs in a row, ending with the latest run."""
    streak: list[RunRecord] = []
    for run in reversed(runs):
        if is_failure(run):
            break
        streak.append(run)
    streak.reverse()
    if len(streak) < rule.recover_after:
        return Finding(False, f"{len(streak)} passed in a row, {rule.recover_after} needed")
    shown = streak[-rule.recover_after :]
    noun = "run" if len(shown) == 1 else "runs in a row"
    return Finding(True, f"{len(shown)} {noun} passed", tuple(run.run_id for run in shown))


def nearest_rank(values: Sequence[float], quantile: float) -> float:
    """The nearest-rank quantile: the smallest value with at least `quantile` of the values at
    or below it. No interpolation, so with fewer than 20 values p95 is the largest of them."""
    ordered = sorted(values)
    rank = max(1, math.ceil(quantile * len(ordered)))
    return ordered[rank - 1]


def in_window(runs: Sequence[RunRecord], window_s: float, now: datetime) -> list[RunRecord]:
    start = now - timedelta(seconds=window_s)
    return [run for run in runs if start <= run.scheduled_at <= now]


def slo_rule(slo: SloRule, runs: Sequence[RunRecord], now: datetime) -> Finding:
    """Whether `slo` is breached by the runs scheduled within its window before `now`.

    The two p95s are over the runs that measured their figure: time to human over the runs
    that reached a person, hold over the runs that were judged. Runs that reached nobody are
    the failure rule's and the `reached_human` share's to count; counting them here as
    "infinitely slow" would let one failed call breach the p95 of any window under 20 runs
    and bypass `failures`/`of_last`. A window without a measured figure breaches nothing."""
    window = in_window(runs, slo.window_s, now)
    span = _duration(slo.window_s)
    if slo.metric == "reached_human":
        return _share_rule(slo, window, span)
    label = "time to human" if slo.metric == "time_to_human" else "hold"
    measured = [(run, value) for run in window if (value := _figure(slo, run)) is not None]
    if not measured or slo.p95_max is None:
        return Finding(False, f"no {label} measured in the last {span}")
    p95 = nearest_rank([value for _, value in measured], SLO_QUANTILE)
    breached = p95 > slo.p95_max
    reason = (
        f"p95 {label} over the last {span} is {p95:.0f} s "
        f"(limit {slo.p95_max:.0f} s, {len(measured)} runs)"
    )
    over = tuple(run.run_id for run, value in measured if value > slo.p95_max)
    return Finding(breached, reason, over if breached else ())


def _figure(slo: SloRule, run: RunRecord) -> float | None:
    """The run's value for a p95 SLO; None when the run did not measure it."""
    if slo.metric == "time_to_human":
        return run.time_to_human_s if run.reached_human else None
    return run.hold_s


def _share_rule(slo: SloRule, window: Sequence[RunRecord], span: str) -> Finding:
    if not window or slo.min_share is None:
        return Finding(False, f"no runs in the last {span}")
    reached = sum(run.reached_human for run in window)
    share = reached / len(window)
    breached = share < slo.min_share
    reason = (
        f"{reached} of {len(window)} runs over the last {span} reached a person "
        f"({share:.0%}, at least {slo.min_share:.0%} wanted)"
    )
    missed = tuple(run.run_id for run in window if not run.reached_human)
    return Finding(breached, reason, missed if breached else ())


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def breached_slos(
    slos: Sequence[SloRule], runs: Sequence[RunRecord], now: datetime
) -> list[Finding]:
    return [finding for slo in slos if (finding := slo_rule(slo, runs, now)).holds]


def evaluate(
    rule: AlertRule,
    slos: Sequence[SloRule],
    runs: Sequence[RunRecord],
    current: AlertState | None,
    now: datetime,
) -> AlertChange | None:
    """What to save and announce for a check after its history changed, or None.

    `runs` is the check's recent history, oldest first (enough to cover `of_last` and every
    SLO window); `current` its saved state (None: never alerted, which counts as `ok`)."""
    ordered = counted_runs(runs)
    if not ordered:
        return None
    check = ordered[-1].check
    latest = ordered[-1].scheduled_at
    since_change = [run for run in ordered if current is None or run.scheduled_at > current.since]
    if current is None or current.status == "ok":
        findings = [failure_rule(rule, since_change), *breached_slos(slos, ordered, now)]
        fired = [finding for finding in findings if finding.holds]
        if not fired:
            return None
        state = AlertState(
            check=check,
            status="failing",
            since=latest,
            reason="; ".join(finding.reason for finding in fired),
            evidence=_joined(finding.evidence for finding in fired),
            notified_at=now,
        )
        return AlertChange("raised", state, current)
    recovered = recovery_rule(rule, since_change)
    if recovered.holds and not breached_slos(slos, ordered, now):
        state = AlertState(
            check=check,
            status="ok",
            since=latest,
            reason=recovered.reason,
            evidence=recovered.evidence,
            notified_at=now,
        )
        return AlertChange("recovered", state, current)
    return reminder(rule, current, now)


def reminder(rule: AlertRule, current: AlertState | None, now: datetime) -> AlertChange | None:
    """A reminder of a failing alert once `renotify_s` passed since its last notification."""
    if current is None or current.status != "failing" or rule.renotify_s is None:
        return None
    last = current.notified_at or current.since
    if now - last < timedelta(seconds=rule.renotify_s):
        return None
    return AlertChange("reminder", replace(current, notified_at=now), current)


def history_needed(rule: AlertRule, slos: Sequence[SloRule]) -> tuple[int, float]:
    """How much history `evaluate` needs: at least this many runs, and this many seconds."""
    runs = max(rule.of_last, rule.recover_after, rule.failures)
    seconds = max((slo.window_s for slo in slos), default=0.0)
    return runs, seconds


def _joined(groups: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    """Run ids of several findings, each once, in the order first named."""
    return tuple(dict.fromkeys(run_id for group in groups for run_id in group))
