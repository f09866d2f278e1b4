"""`shopper worker` and `shopper monitor --queue` as commands: bad settings and an
unreachable database are one line; a monitor process enqueues for the fleet until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_monitor_mqueue import _rows, write_schedule
from typer.testing import CliRunner

from shopper.cli.main import app
from shopper.monitor.history import HISTORY_FILE, opened_history


def test_worker_with_an_unreachable_queue_says_so_in_one_line() -> None:
    result = CliRunner().invoke(
        app, ["worker", "--queue", "postgresql://fleet:s3cret@127.0.0.1:1/shopper"]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "postgresql://127.0.0.1:1/shopper" in lines[0], result.output
    assert "s3cret" not in result.output


def test_worker_refuses_a_stall_timeout_a_live_worker_could_reach() -> None:
    queue = "postgresql://x@127.0.0.1:1/y"
    result = CliRunner().invoke(
        app, ["worker", "--queue", queue, "--heartbeat", "5", "--stalled-after", "6"]
    )
    assert result.exit_code == 2
    assert "--stalled-after 6s must be at least twice --heartbeat 5s" in result.output


def test_monitor_with_a_queue_enqueues_until_sigterm(postgres_dsn: str, tmp_path: Path) -> None:
    """No worker runs: each check's first run waits in the queue, and the fires after it are
    recorded as skipped (`queued`) in the monitor's own history."""
    schedule = write_schedule(tmp_path, {"alpha": "line-a", "beta": "line-b"}, "1s")
    state = tmp_path / "state"
    command = [
        sys.executable, "-m", "shopper", "monitor", str(schedule), "--queue", postgres_dsn,
        "--state-dir", str(state), "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    monitor = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _skipped(state):
        time.sleep(0.2)
    monitor.send_signal(signal.SIGTERM)
    output = monitor.communicate(timeout=30)[0]
    assert monitor.returncode == 143, output
    jobs = asyncio.run(_rows(postgres_dsn, "SELECT args->>'check' FROM procrastinate_jobs"))
    assert sorted(str(check) for (check,) in jobs) == ["alpha", "beta"], output
    assert _skipped(state), output


def _skipped(state: Path) -> bool:
    if not (state / HISTORY_FILE).exists():
        return False
    with opened_history(state / HISTORY_FILE) as history:
        return all(
            any(skip.reason == "queued" for skip in history.skips(check))
            for check in ("alpha", "beta")
        )


def test_the_shopper_command_loads_no_postgresql_client_until_a_fleet_needs_it() -> None:
    """psycopg needs the system's libpq: `shopper run` and a one-machine monitor must work
    on a machine without it."""
    check = "import sys, shopper.cli.main; assert 'psycopg' not in sys.modules, 'loaded'"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
