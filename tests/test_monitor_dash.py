"""The monitor's dashboard: every run on the page, links that still work when the output
folder moves, hostile text kept as text, an empty history, and charts a real browser draws."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

from monitor_history_fill import CHICAGO, SyntheticCheck, fill_history
from page_parts import HOSTILE, page_parts, shown_whole

from shopper.monitor.dashboard import (
    DASHBOARD_FILE,
    OUTCOME_CODES,
    DashboardObserver,
    alert_periods,
    render_dashboard,
    write_dashboard,
)
from shopper.monitor.history import History, opened_history
from shopper.monitor.records import AlertState, RunRecord, SkippedRun

NOW = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
OUTAGE = (datetime(2026, 12, 3, 16, 0, tzinfo=UTC), datetime(2026, 12, 3, 17, 0, tzinfo=UTC))
CHECKS = [
    SyntheticCheck("support-line", 5, (8, 20), 75.0, 0.05, 0.02, OUTAGE),
    SyntheticCheck("after-hours", 15, (0, 24), 25.0, 0.05, 0.02),
]
DATA_SCRIPT = re.compile(r'<script id="dashboard-data" type="application/json">(.*?)</script>')


def _chart_data(page: str) -> dict[str, object]:
    match = DATA_SCRIPT.search(page)
    assert match is not None
    data: dict[str, object] = json.loads(match.group(1))
    return data


def _tenths(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def _filled(history: History, out: Path) -> list[RunRecord]:
    start = NOW - timedelta(days=2)
    return fill_history(history, out, CHECKS, start=start, end=NOW, make_folders=True)


def test_the_page_holds_every_run_and_links_each_to_its_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        runs = _filled(history, out)
        alerts = {check.name: history.alerts(check.name) for check in CHECKS}
        path = write_dashboard(history, out, timezone=CHICAGO, now=NOW)
    assert path == out / DASHBOARD_FILE
    page = path.read_text()
    data = _chart_data(page)
    charts = {str(chart["name"]): chart for chart in data["checks"]}  # type: ignore[attr-defined]
    assert sorted(charts) == sorted(check.name for check in CHECKS)
    assert any(run.outcome == "failed" for run in runs)
    assert any(run.outcome == "error" for run in runs)
    assert alerts["support-line"], "the outage raised no alert: the fixture is wrong"

    # the output folder copied elsewhere: every link is relative and still leads to its report
    moved = shutil.copytree(out, tmp_path / "copied" / "monitor-out")
    for check in CHECKS:
        chart = charts[check.name]
        own = [run for run in runs if run.check == check.name]
        assert chart["t"] == [round(run.scheduled_at.timestamp()) for run in own]
        assert chart["outcome"] == [OUTCOME_CODES[run.outcome] for run in own]
        assert chart["tth"] == [_tenths(run.time_to_human_s) for run in own]
        assert chart["hold"] == [_tenths(run.hold_s) for run in own]
        for run, href in zip(own, chart["href"], strict=True):
            assert not href.startswith(("/", "file:"))
            report = moved / unquote(href)
            assert report.read_text() == f"<title>{run.run_id}</title>\n"
        periods = [
            [round(start.timestamp()), round(end.timestamp())]
            for start, end in alert_periods(alerts[check.name], NOW)
        ]
        assert chart["alerts"] == periods
    # the links written as HTML (last run, latest failures) resolve as well
    hrefs = re.findall(r'<a href="([^"#][^"]*)"', page)
    assert len(hrefs) >= len(CHECKS)
    for href in hrefs:
        assert (moved / unquote(href)).is_file()
    assert '<span class="state ok">OK</span>' in page
    assert f"{len([r for r in runs if r.check == 'after-hours'])} runs" in page


def test_alert_periods_join_renotifications_and_run_to_now_while_failing() -> None:
    def state(status: str, minute: int) -> AlertState:
        at = NOW + timedelta(minutes=minute)
        return AlertState(check="c", status=status, since=at, reason="r")  # type: ignore[arg-type]

    states = [state("ok", 0), state("failing", 10), state("failing", 10), state("ok", 40)]
    states.append(state("failing", 70))
    periods = alert_periods(states, NOW + timedelta(minutes=90))
    minutes = [((a - NOW).seconds // 60, (b - NOW).seconds // 60) for a, b in periods]
    assert minutes == [(10, 40), (70, 90)]


def test_hostile_check_names_messages_and_reasons_stay_text(tmp_path: Path) -> None:
    at = NOW - timedelta(minutes=10)
    run = RunRecord(
        run_id="x",
        check=HOSTILE,
        scheduled_at=at,
        started_at=at,
        ended_at=at + timedelta(minutes=1),
        outcome="failed",
        attempts=1,
        failure_kind="assertion",
        failure_message=HOSTILE,
        evidence=str(tmp_path / "out" / "2026-12-04" / "call<1>"),
    )
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        history.add_run(run)
        history.save_alert(AlertState(check=HOSTILE, status="failing", since=at, reason=HOSTILE))
        page = render_dashboard(history, tmp_path / "out", now=NOW)
    parts = page_parts(page)
    assert "img" not in parts.tags
    assert "onerror" not in parts.attribute_names
    assert parts.tags.count("script") == 3, "a value opened or closed a script element"
    assert shown_whole(HOSTILE, parts)
    chart = _chart_data(page)["checks"][0]  # type: ignore[index]
    assert chart["name"] == HOSTILE
    assert chart["message"] == [HOSTILE]
    assert chart["href"] == ["2026-12-04/call%3C1%3E/report.html"]


def test_an_empty_history_says_so(tmp_path: Path) -> None:
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        page = render_dashboard(history, tmp_path / "out", now=NOW)
    assert "No runs yet" in page
    assert 'class="chart"' not in page
    assert _chart_data(page)["checks"] == []


def test_a_check_without_evidence_or_runs_still_shows(tmp_path: Path) -> None:
    at = NOW - timedelta(minutes=5)
    bare = RunRecord(
        run_id="bare",
        check="bare",
        scheduled_at=at,
        started_at=at,
        ended_at=at,
        outcome="error",
        attempts=1,
        failure_kind="carrier",
        failure_message="no route",
    )
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        history.add_run(bare)
        history.save_alert(AlertState(check="quiet", status="ok", since=at, reason="started"))
        page = render_dashboard(history, tmp_path / "out", now=NOW, scheduled=["night-line"])
    charts = {chart["name"]: chart for chart in _chart_data(page)["checks"]}  # type: ignore[attr-defined]
    assert charts["bare"]["href"] == [None]
    assert charts["quiet"]["t"] == []
    assert charts["night-line"]["t"] == []  # scheduled, not run yet: shown, not missing
    assert "No runs of this check are kept yet." in page
    assert "no route" in page


async def test_the_observer_rewrites_the_page_after_each_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        observer = DashboardObserver(history, out, timezone=CHICAGO, now=lambda: NOW)
        first = RunRecord(
            run_id="a@1",
            check="support-line",
            scheduled_at=NOW - timedelta(minutes=10),
            started_at=NOW - timedelta(minutes=10),
            ended_at=NOW - timedelta(minutes=9),
            outcome="passed",
            attempts=1,
            reached_human=True,
            time_to_human_s=61.25,
            hold_s=40.0,
            evidence=str(out / "2026-12-04" / "call-a"),
        )
        history.add_run(first)
        await observer.run_ended(first)
        page = (out / DASHBOARD_FILE).read_text()
        assert _chart_data(page)["checks"][0]["tth"] == [61.2]  # type: ignore[index]
        second = RunRecord(
            run_id="a@2",
            check="support-line",
            scheduled_at=NOW - timedelta(minutes=5),
            started_at=NOW - timedelta(minutes=5),
            ended_at=NOW - timedelta(minutes=4),
            outcome="failed",
            attempts=2,
            failure_kind="no-human",
            failure_message="nobody answered",
        )
        history.add_run(second)
        await observer.run_ended(second)
        page = (out / DASHBOARD_FILE).read_text()
        assert _chart_data(page)["checks"][0]["outcome"] == [0, 1]  # type: ignore[index]
        await observer.run_skipped(
            SkippedRun(check="support-line", scheduled_at=NOW, reason="overlap")
        )
        assert (out / DASHBOARD_FILE).read_text() == page
        assert not list(out.glob("*.tmp*")), "a temporary file was left beside the page"


def test_chromium_draws_a_chart_per_check_without_errors(tmp_path: Path) -> None:
    """The page in a real browser: uPlot ran, one chart (canvas) per check with runs, and the
    script's own error box stayed empty; the empty page runs its script cleanly too."""
    out = tmp_path / "out"
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        _filled(history, out)
        page = write_dashboard(history, out, timezone=CHICAGO, now=NOW)
    empty_out = tmp_path / "empty"
    with opened_history(tmp_path / "empty.sqlite3") as history:
        empty = write_dashboard(history, empty_out, now=NOW)

    dom = _rendered_dom(page, tmp_path)
    assert dom.count("<canvas") == len(CHECKS)
    assert f'data-charts="{len(CHECKS)}"' in dom
    assert _error_box(dom) == ""
    assert dom.count('class="u-over"') == len(CHECKS)

    empty_dom = _rendered_dom(empty, tmp_path)
    assert 'data-charts="0"' in empty_dom
    assert _error_box(empty_dom) == ""


def _error_box(dom: str) -> str:
    """The text the page's script writes when drawing fails (a JS error included)."""
    match = re.search(r'<p id="dashboard-error"[^>]*>(.*?)</p>', dom, re.S)
    assert match is not None
    return match.group(1)


def _browser() -> str:
    """Debian's chromium, or the Chromium/Chrome a machine has instead (.ci/setup)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    raise AssertionError("no Chromium or Chrome on PATH: run bash .ci/setup")


def _rendered_dom(page: Path, tmp_path: Path) -> str:
    profile = tmp_path / f"chromium-profile-{page.parent.name}"
    command = [
        _browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


CLICK_LAST_MARK = """<script>
setTimeout(function () {
  var over = document.querySelector('.chart .u-over');
  var box = over.getBoundingClientRect();
  var at = {clientX: box.right - 4, clientY: box.bottom - 8, bubbles: true};
  over.dispatchEvent(new MouseEvent('mouseenter', at));
  over.dispatchEvent(new MouseEvent('mousemove', at));
  over.dispatchEvent(new MouseEvent('mousedown', at));
  over.dispatchEvent(new MouseEvent('mouseup', at));
  over.dispatchEvent(new MouseEvent('click', at));
}, 200);
</script>
</body>"""


def test_clicking_a_mark_in_chromium_opens_that_runs_report(tmp_path: Path) -> None:
    """A person's click on the newest mark of the first chart, as the browser delivers it:
    the page navigates to that run's report.html (the dumped DOM is the report's)."""
    out = tmp_path / "out"
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        runs = _filled(history, out)
        page = write_dashboard(history, out, timezone=CHICAGO, now=NOW)
    clicked = out / "clicked.html"
    clicked.write_text(page.read_text().replace("</body>", CLICK_LAST_MARK))
    first_check = sorted(check.name for check in CHECKS)[0]
    newest = [run for run in runs if run.check == first_check][-1]
    dom = _rendered_dom(clicked, tmp_path)
    assert f"<title>{newest.run_id}</title>" in dom
