"""The page an operations person keeps open: every check's trend, failures and alerts.

`OUT/dashboard.html` is rebuilt from the history after each run, so it is never more than one
run behind and needs no server: one self-contained file (uPlot, the chart library shipped in
shopper/monitor/static/, its CSS, the page's script and the data all inline) whose links to
each run's report.html are relative, so the output folder can be copied or served anywhere.
Check names and failure messages are untrusted text: this module decides what is shown and
templates/dashboard.html.j2 writes it with Jinja2's autoescaping; the chart data travels as
JSON through Jinja2's `tojson`, which escapes everything that could end the script element.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from markupsafe import Markup

from shopper.html_templates import load_template
from shopper.monitor.history import History, opened_history
from shopper.monitor.records import AlertState, RunOutcome, RunRecord, SkippedRun
from shopper.results.writer import write_text_atomic

DASHBOARD_FILE = "dashboard.html"
TEMPLATE = "dashboard.html.j2"
REPORT_FILE = "report.html"

OUTCOME_CODES: dict[RunOutcome, int] = {"passed": 0, "failed": 1, "error": 2}
"""How a run's outcome travels in the chart data (the script's OUTCOMES lists them in order)."""

UTC_ZONE = ZoneInfo("UTC")

RECENT_WINDOW = timedelta(hours=24)
RECENT_FAILURES = 8
"""Failed runs listed under a chart as plain links (the newest), for readers without script."""


# --- what the page shows ------------------------------------------------------------------
# Plain text and numbers only: the template escapes every value.


@dataclass(frozen=True, slots=True)
class RunLink:
    """One run named in text: when, how it ended, why, and its report (empty: no evidence)."""

    when: str
    outcome: str
    message: str
    href: str


@dataclass(frozen=True, slots=True)
class AlertView:
    """`status` is a CSS class too: ok, failing, or none (no alert state saved yet)."""

    status: str
    label: str
    since: str
    reason: str


@dataclass(frozen=True, slots=True)
class CheckView:
    name: str
    series: int
    """Which entry of the chart data is this check's."""
    anchor: str
    alert: AlertView
    runs: int
    uptime_recent: str
    uptime_all: str
    kept_since: str
    time_to_human_p50: str
    time_to_human_p95: str
    last_run: RunLink | None
    recent_failures: list[RunLink]


@dataclass(frozen=True, slots=True)
class Dashboard:
    title: str
    generated: str
    timezone: str
    checks: list[CheckView]
    failing: int
    chart_data: dict[str, Any]
    """What the page's script draws: per check, columns of every run and the alert periods."""
    uplot_js: Markup
    uplot_css: Markup


# --- building it from the history ---------------------------------------------------------


def render_dashboard(
    history: History,
    out_dir: Path,
    *,
    timezone: ZoneInfo = UTC_ZONE,
    now: datetime | None = None,
    scheduled: Sequence[str] = (),
) -> str:
    """The whole page, from every run and alert state in `history`, with a section for each
    `scheduled` check too (one that has not run yet: outside its hours, say, shows as such
    rather than missing).

    `out_dir` is where the page will be written: each run's evidence folder is linked relative
    to it. Times are shown in `timezone` (the schedule's, so they read like its active hours)."""
    moment = now or datetime.now(UTC)
    checks = sorted(set(history.checks()) | set(scheduled))
    views = []
    series = []
    for index, check in enumerate(checks):
        runs = history.runs(check)
        alerts = history.alerts(check)
        views.append(_check_view(check, index, runs, alerts, out_dir, timezone, moment))
        series.append(_chart_series(check, index, runs, alerts, out_dir, moment))
    # failing checks first: they are what the reader came for
    views.sort(key=lambda view: (view.alert.status != "failing", view.name))
    return load_template("shopper.monitor", TEMPLATE).render(
        dashboard=Dashboard(
            title="shopper monitor",
            generated=_local(moment, timezone),
            timezone=_zone_name(timezone),
            checks=views,
            failing=sum(view.alert.status == "failing" for view in views),
            chart_data={
                "timezone": _zone_name(timezone),
                "now": _epoch(moment),
                "checks": series,
            },
            uplot_js=_static("uPlot.iife.min.js", "script"),
            uplot_css=_static("uPlot.min.css", "style"),
        )
    )


def write_dashboard(
    history: History,
    out_dir: Path,
    *,
    timezone: ZoneInfo = UTC_ZONE,
    now: datetime | None = None,
    scheduled: Sequence[str] = (),
) -> Path:
    """Render and write `out_dir/dashboard.html` atomically (a browser reloading it never
    reads half a page)."""
    page = render_dashboard(history, out_dir, timezone=timezone, now=now, scheduled=scheduled)
    path = out_dir / DASHBOARD_FILE
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, page)
    return path


class DashboardObserver:
    """Rebuilds `out_dir/dashboard.html` after each run (a RunObserver).

    Reading weeks of runs and rendering them takes a noticeable fraction of a second, so it
    all happens in a worker thread, through a connection of its own to the history file (the
    monitor's connection belongs to the event loop's thread; WAL lets both read at once), and
    calls in progress are not held up."""

    def __init__(
        self,
        history: History,
        out_dir: Path,
        *,
        timezone: ZoneInfo = UTC_ZONE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        scheduled: Sequence[str] = (),
    ) -> None:
        self._history_path = history.path
        self._out_dir = out_dir
        self._timezone = timezone
        self._now = now
        self._scheduled = tuple(scheduled)

    async def run_ended(self, run: RunRecord) -> None:
        await self.refresh()

    async def run_skipped(self, skip: SkippedRun) -> None:
        """A skipped run changes no chart; the page stays as it is."""

    async def refresh(self) -> Path:
        """Rebuild the page now (also worth calling at start-up, before the first run)."""
        return await asyncio.to_thread(self._rebuild, self._now())

    def _rebuild(self, now: datetime) -> Path:
        with opened_history(self._history_path) as history:
            return write_dashboard(
                history, self._out_dir, timezone=self._timezone, now=now, scheduled=self._scheduled
            )


def _check_view(
    check: str,
    index: int,
    runs: Sequence[RunRecord],
    alerts: Sequence[AlertState],
    out_dir: Path,
    timezone: ZoneInfo,
    now: datetime,
) -> CheckView:
    recent = [run for run in runs if run.scheduled_at >= now - RECENT_WINDOW]
    reached = [run.time_to_human_s for run in recent if run.time_to_human_s is not None]
    failures = [run for run in runs if run.outcome != "passed"][-RECENT_FAILURES:]
    return CheckView(
        name=check,
        series=index,
        anchor=f"check-{index}",
        alert=_alert_view(alerts[-1] if alerts else None, timezone),
        runs=len(runs),
        uptime_recent=_uptime(recent),
        uptime_all=_uptime(runs),
        kept_since=_local(runs[0].scheduled_at, timezone) if runs else "—",
        time_to_human_p50=_duration(_percentile(reached, 0.50)),
        time_to_human_p95=_duration(_percentile(reached, 0.95)),
        last_run=_run_link(runs[-1], out_dir, timezone) if runs else None,
        recent_failures=[_run_link(run, out_dir, timezone) for run in reversed(failures)],
    )


def _alert_view(state: AlertState | None, timezone: ZoneInfo) -> AlertView:
    if state is None:
        return AlertView("none", "no alert yet", "", "")
    label = "FAILING" if state.status == "failing" else "OK"
    return AlertView(state.status, label, _local(state.since, timezone), state.reason)


def _run_link(run: RunRecord, out_dir: Path, timezone: ZoneInfo) -> RunLink:
    message = run.failure_message or run.failure_kind or ""
    return RunLink(_local(run.scheduled_at, timezone), run.outcome, message, _href(run, out_dir))


def _chart_series(
    check: str,
    index: int,
    runs: Sequence[RunRecord],
    alerts: Sequence[AlertState],
    out_dir: Path,
    now: datetime,
) -> dict[str, Any]:
    """Columns, one entry per run, as uPlot wants them; times as UTC epoch seconds."""
    return {
        "name": check,
        "anchor": f"check-{index}",
        "t": [_epoch(run.scheduled_at) for run in runs],
        "tth": [_rounded(run.time_to_human_s) for run in runs],
        "hold": [_rounded(run.hold_s) for run in runs],
        "outcome": [OUTCOME_CODES[run.outcome] for run in runs],
        "href": [_href(run, out_dir) or None for run in runs],
        "message": [
            None if run.outcome == "passed" else run.failure_message or run.failure_kind
            for run in runs
        ],
        "alerts": [[_epoch(start), _epoch(end)] for start, end in alert_periods(alerts, now)],
    }


def alert_periods(states: Sequence[AlertState], now: datetime) -> list[tuple[datetime, datetime]]:
    """The stretches a check's alert was failing, from its states oldest first; one still
    failing lasts until `now`. Re-notifications (failing saved again) extend one period."""
    periods: list[tuple[datetime, datetime]] = []
    started: datetime | None = None
    for state in states:
        if state.status == "failing" and started is None:
            started = state.since
        elif state.status == "ok" and started is not None:
            periods.append((started, state.since))
            started = None
    if started is not None:
        periods.append((started, max(now, started)))
    return periods


def _href(run: RunRecord, out_dir: Path) -> str:
    """The run's report.html relative to the page, URL-quoted; empty when it has no evidence.

    A relative evidence path is read from the current folder, as every shopper command reads
    paths; the link stays relative so the output folder can be moved."""
    if not run.evidence:
        return ""
    page_folder = os.path.abspath(out_dir)
    folder = os.path.abspath(run.evidence)
    if folder.startswith(page_folder + os.sep):
        relative = folder[len(page_folder) + 1 :]  # the usual case, without relpath's cost
    else:
        relative = os.path.relpath(folder, page_folder)
    return quote(Path(relative, REPORT_FILE).as_posix())


# --- figures and text ---------------------------------------------------------------------


def _uptime(runs: Sequence[RunRecord]) -> str:
    """Share of scheduled runs that passed: what a caller would have found, one run a sample."""
    if not runs:
        return "—"
    passed = sum(run.outcome == "passed" for run in runs)
    return f"{100 * passed / len(runs):.1f} %"


def _percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile: a value that was measured, never an interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _epoch(moment: datetime) -> int:
    return round(moment.timestamp())


def _local(moment: datetime, timezone: ZoneInfo) -> str:
    return moment.astimezone(timezone).strftime("%a %d %b %Y %H:%M %Z")


def _zone_name(timezone: ZoneInfo) -> str:
    """The IANA name the browser formats chart times with (UTC for a zone without one)."""
    return timezone.key if isinstance(timezone, ZoneInfo) else "UTC"


@cache
def _static(name: str, element: str) -> Markup:
    """A shipped file put inline as it is: it is shopper's own source, not a value, and it
    must not contain the tag that would end the element it sits in."""
    text = files("shopper.monitor").joinpath("static", name).read_text(encoding="utf-8")
    if f"</{element}" in text.lower():
        raise ValueError(f"shopper/monitor/static/{name} contains </{element}")
    return Markup(text)
