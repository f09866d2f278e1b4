"""`shopper monitor` as a user runs it: --dry-run's next runs, a bad schedule in one line,
sub-command routing, and SIGTERM while a call is in progress (real process, real signal)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from proc_table import session_processes
from typer.testing import CliRunner

from shopper.carriers.pacing import TargetCaps
from shopper.cli.monitor import RUN_COMMAND, ScheduleOrCommand, schedule_caps
from shopper.monitor.history import opened_history
from shopper.monitor.spec import Lines

ROOT = Path(__file__).parent.parent
SHIPPED = ROOT / "scripts" / "acme" / "monitor.yaml"
SHOPPER = [sys.executable, "-m", "shopper", "monitor"]
LONG_HOLD = """
name: Long Hold
start: main
nodes:
  main:
    play: "asterisk:pls-hold-while-try"
    queue: {hold: 20m, music: "asterisk-moh:manolo_camp-morning_coffee", then: main}
"""
HANG_ON = """
name: hang on
target: ivr.yaml
steps:
  - expect: please hold
    within: 15s
  - hold: {max: 30m}
"""


def monitor(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SHOPPER, *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def test_dry_run_prints_each_checks_next_runs_and_calls_nobody(tmp_path: Path) -> None:
    shown = monitor(SHIPPED, "--dry-run", "--count", "3", "--out", tmp_path / "out")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("time zone America/Chicago; now ")
    billing = [line for line in lines if "billing-human@" in line]
    lost_card = [line for line in lines if "lost-card@" in line]
    assert len(billing) == 3 and len(lost_card) == 3
    # weekday business hours on the local clock: 08:00 to 19:45, Monday to Friday
    for line in lost_card:
        day, _, clock = line.split()[:3]
        assert day in {"Mon", "Tue", "Wed", "Thu", "Fri"} and "08:00:00" <= clock <= "19:45:00"
    assert not (tmp_path / "out").exists()
    explicit = monitor("run", SHIPPED, "--dry-run", "--count", "3")
    assert explicit.returncode == 0 and explicit.stdout.count("@") == 6


def test_a_bad_schedule_is_one_line_with_its_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "schedule.yaml"
    bad.write_text("timezone: UTC\nchecks:\n  c: {script: nowhere.yaml, every: 5m}\n")
    shown = monitor(bad)
    assert shown.returncode == 2 and "Traceback" not in shown.stderr
    assert shown.stderr.startswith(f"shopper: {bad}:3: script 'nowhere.yaml' not found")
    assert shown.stderr.count("\n") == 1
    missing = monitor(tmp_path / "absent.yaml", "--dry-run")
    assert missing.returncode == 2 and "file not found" in missing.stderr


def test_help_lists_the_sub_commands() -> None:
    shown = monitor("--help")
    assert shown.returncode == 0 and "run" in shown.stdout


@pytest.mark.slow
@pytest.mark.realtime  # a real-time call held until the signal: beside the others in CI
def test_sigterm_hangs_up_the_call_in_progress_and_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "ivr.yaml").write_text(LONG_HOLD)
    (tmp_path / "hang-on.yaml").write_text(HANG_ON)
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text("timezone: UTC\nchecks:\n  hang: {script: hang-on.yaml, every: 2s}\n")
    out, state = tmp_path / "out", tmp_path / "state"
    options = ["--engine", "moonshine", "--realtime", "--out", str(out), "--state-dir", str(state)]
    process = subprocess.Popen(
        [*SHOPPER, str(schedule), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "SHOPPER_CONFIG": str(tmp_path / "none.toml")},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("hang/*/recording.wav")):
        time.sleep(0.2)
    time.sleep(5)  # on hold, while two or more fires of the check find it still running
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and "hung up and kept" in stderr
    (result_file,) = out.glob("hang/*/result.json")
    result = json.loads(result_file.read_text())
    assert result["outcome"] == "error" and result["ended_by"] == "tester"
    assert result["failure"]["message"] == "interrupted by SIGTERM"
    assert result["run_id"].startswith("hang@") and result["metrics"]["duration_s"] > 3
    with opened_history(state / "monitor.sqlite3") as history:
        assert history.runs("hang") == []  # stopped by the operator: no failure of the line
        overlaps = [skip for skip in history.skips("hang") if skip.reason == "overlap"]
    assert len(overlaps) >= 2 and stdout.count("(overlap)") == 1  # one line per streak
    time.sleep(1)
    assert session_processes(process.pid) == []


def test_the_schedule_may_dial_more_gently_than_the_safety_caps_never_harder() -> None:
    configured = TargetCaps(at_once=2, per_second=0.5)
    gentle = schedule_caps(Lines(max_parallel=4, per_target=1, cps=0.2), configured)
    assert (gentle.at_once, gentle.per_second) == (1, 0.2)
    greedy = schedule_caps(Lines(max_parallel=4, per_target=9, cps=10.0), configured)
    assert (greedy.at_once, greedy.per_second) == (2, 0.5)


def test_the_group_routes_sub_commands_by_name_and_anything_else_to_run() -> None:
    """How `shopper monitor status` (and any later sub-command) coexists with
    `shopper monitor SCHEDULE.yaml`: a throwaway group of the same class."""
    group = typer.Typer(cls=ScheduleOrCommand)
    called: list[str] = []

    @group.command(RUN_COMMAND)
    def run(schedule: str, dry_run: bool = typer.Option(False, "--dry-run")) -> None:
        called.append(f"run {schedule} {dry_run}")

    @group.command("status")
    def status() -> None:
        called.append("status")

    runner = CliRunner()
    for args in (["a.yaml"], ["--dry-run", "a.yaml"], ["run", "a.yaml"], ["status"]):
        assert runner.invoke(group, args).exit_code == 0
    assert called == ["run a.yaml False", "run a.yaml True", "run a.yaml False", "status"]


async def test_the_monitor_hears_alerts_first_and_only_they_notify_in_a_fleet(
    tmp_path: Path,
) -> None:
    """The order the observers hear a run in (alerts before the views, retention before the
    page), and which of them a fleet lets only its reporting monitor run: the alerts."""
    from rich.console import Console

    from shopper.cli.monitor import MonitorSetup, observing
    from shopper.monitor.fleet.monitor import notifies
    from shopper.monitor.schedule import load_schedule

    with opened_history(tmp_path / "monitor.sqlite3") as history:
        setup = MonitorSetup(
            schedule=load_schedule(SHIPPED),
            history=history,
            out=tmp_path / "out",
            state=tmp_path / "state",
            publisher=None,
            console=Console(quiet=True),
            metrics_port=0,
        )
        async with observing(setup) as heard_by:
            names = [type(observer).__name__ for observer in heard_by]
            assert names == [
                "AlertObserver",
                "MetricsObserver",
                "RetentionObserver",
                "DashboardObserver",
                "ConsoleObserver",
            ]
            assert [notifies(observer) for observer in heard_by] == [True] + [False] * 4
        assert (tmp_path / "out" / "dashboard.html").is_file()  # drawn before any run
