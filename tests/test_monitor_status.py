"""`shopper monitor status`: the table per check, from a history written like the monitor does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from monitor_runs import T0, Clock, check_spec, run_record
from typer.testing import CliRunner

from shopper.cli.monitor_status import status
from shopper.monitor.alert_observer import AlertObserver
from shopper.monitor.history import HISTORY_FILE, opened_history
from shopper.monitor.status import statuses


def app() -> typer.Typer:
    """A throw-away group standing in for `shopper monitor` (the lead registers `status`)."""
    group = typer.Typer()
    group.command("status")(status)

    @group.callback()
    def monitor() -> None:
        """shopper monitor"""

    return group


async def write_history(path: Path) -> None:
    clock = Clock(T0)
    with opened_history(path) as history:
        alerts = AlertObserver([check_spec(), check_spec("front-desk")], history, clock=clock)
        outcomes = ["passed", "passed", "failed", "passed", "failed", "failed"]
        for n, outcome in enumerate(outcomes):
            run = run_record(n, outcome, tth=10.0 * (n + 1))  # type: ignore[arg-type]
            history.add_run(run)
            await alerts.run_ended(run)
        for n in range(3):
            run = run_record(n, "passed", check="front-desk", tth=5.0)
            history.add_run(run)
            await alerts.run_ended(run)


async def test_uptime_quantiles_and_alert_per_check(tmp_path: Path) -> None:
    path = tmp_path / HISTORY_FILE
    await write_history(path)
    with opened_history(path) as history:
        now = T0 + timedelta(hours=1)
        [front, support] = statuses(history, now, timedelta(hours=24))
        narrow = statuses(history, now, timedelta(minutes=46))
    assert support.check == "support-line" and support.runs == 6
    assert support.uptime == 0.5 and support.reached == 3
    # times to a person of the passed runs: 10, 20, 40 s
    assert (support.p50_time_to_human_s, support.p95_time_to_human_s) == (20.0, 40.0)
    assert support.alert is not None and support.alert.status == "failing"
    assert support.last is not None and support.last.call_id == "call-5"
    assert (front.uptime, front.p95_time_to_human_s, front.alert) == (1.0, 5.0, None)
    # the last 46 minutes hold runs 3, 4 and 5 of support-line (scheduled 09:15 to 09:25)
    assert [(s.check, s.runs, s.uptime) for s in narrow][1] == ("support-line", 3, 1 / 3)


async def test_the_command_prints_one_row_per_check(tmp_path: Path) -> None:
    await write_history(tmp_path / HISTORY_FILE)
    hours = (datetime.now(UTC) - T0).total_seconds() / 3600 + 1
    result = CliRunner().invoke(
        app(),
        ["status", "--state-dir", str(tmp_path), "--hours", str(hours)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    [support] = [line for line in lines if "support-line" in line]
    assert "2026-12-01 09:25 failed" in support and "50.0% of 6" in support
    assert "20.0 s" in support and "40.0 s" in support
    assert "FAILING since 2026-12-01 09:25: 2 runs in a row failed" in support
    [front] = [line for line in lines if "front-desk" in line]
    assert "100.0% of 3" in front and front.rstrip(" │").endswith("ok")


def test_no_history_is_one_line_naming_the_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app(), ["status", "--state-dir", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"shopper: no monitor history at {tmp_path / 'none' / HISTORY_FILE}; run `shopper "
        "monitor SCHEDULE.yaml` first, or give its folder with --state-dir"
    )
    assert not (tmp_path / "none").exists()
