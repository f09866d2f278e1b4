"""Where each check stands, from the history: what `shopper monitor status` prints.

Per check over a recent window: the last run, uptime (the share of runs that passed; skipped
fire times placed no call and are not counted), p50 and p95 of the time to a person over the
runs that reached one (nearest rank, as the SLO rules use), and the alert as it stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.table import Table

from shopper.monitor.alerts import is_failure, nearest_rank
from shopper.monitor.history import History
from shopper.monitor.records import AlertState, RunRecord


@dataclass(frozen=True, slots=True)
class CheckStatus:
    check: str
    last: RunRecord | None
    runs: int
    """Runs in the window."""
    uptime: float | None
    """Share of the window's runs that passed; None without runs."""
    reached: int
    """Runs in the window that reached a person (the sample of the two quantiles)."""
    p50_time_to_human_s: float | None
    p95_time_to_human_s: float | None
    alert: AlertState | None


def check_status(history: History, check: str, since: datetime) -> CheckStatus:
    runs = history.runs(check, since=since)
    last = history.runs(check, last=1)
    times = [r.time_to_human_s for r in runs if r.reached_human and r.time_to_human_s is not None]
    passed = sum(not is_failure(run) for run in runs)
    return CheckStatus(
        check=check,
        last=last[0] if last else None,
        runs=len(runs),
        uptime=passed / len(runs) if runs else None,
        reached=len(times),
        p50_time_to_human_s=nearest_rank(times, 0.5) if times else None,
        p95_time_to_human_s=nearest_rank(times, 0.95) if times else None,
        alert=history.alert(check),
    )


def statuses(history: History, now: datetime, window: timedelta) -> list[CheckStatus]:
    """Every check the history knows, by name."""
    return [check_status(history, check, now - window) for check in history.checks()]


def status_table(rows: list[CheckStatus], window: timedelta) -> Table:
    span = _span(window)
    table = Table(title=f"shopper monitor: the last {span}", title_justify="left")
    table.add_column("check", overflow="fold")  # a long name folds, never cut to "…"
    table.add_column("last run (UTC)")
    table.add_column(f"uptime ({span})", justify="right")
    table.add_column("p50 to human", justify="right")
    table.add_column("p95 to human", justify="right")
    table.add_column("alert")
    for row in rows:
        table.add_row(
            row.check,
            _last(row.last),
            "-" if row.uptime is None else f"{row.uptime:.1%} of {row.runs}",
            _seconds(row.p50_time_to_human_s),
            _seconds(row.p95_time_to_human_s),
            _alert(row.alert),
        )
    return table


def _last(run: RunRecord | None) -> str:
    if run is None:
        return "-"
    return f"{run.scheduled_at:%Y-%m-%d %H:%M} {run.outcome}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _alert(state: AlertState | None) -> str:
    if state is None:
        return "ok"
    if state.status == "ok":
        return f"ok since {state.since:%Y-%m-%d %H:%M}"
    return f"FAILING since {state.since:%Y-%m-%d %H:%M}: {state.reason}"


def _span(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours / 24:g} d" if hours >= 48 and hours % 24 == 0 else f"{hours:g} h"
