"""`shopper monitor status`: one row per check from the monitor's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shopper.cli.errors import USAGE_ERROR
from shopper.monitor.history import HISTORY_FILE, opened_history
from shopper.monitor.status import status_table, statuses
from shopper.publish.outbox import ENV_STATE_DIR, state_dir

StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", help=f"Where the monitor keeps its history (or {ENV_STATE_DIR})."),
]
Hours = Annotated[
    float,
    typer.Option("--hours", min=0.001, help="Uptime and times to a person over the last hours."),
]


def status(state: StateDir = None, hours: Hours = 24.0) -> None:
    """Per check: last run, uptime, p50/p95 time to a person, and the alert as it stands."""
    path = (state or state_dir()) / HISTORY_FILE
    if not path.is_file():
        typer.echo(
            f"shopper: no monitor history at {path}; run `shopper monitor SCHEDULE.yaml` "
            f"first, or give its folder with --state-dir",
            err=True,
        )
        raise typer.Exit(USAGE_ERROR)
    window = timedelta(hours=hours)
    with opened_history(path) as history:
        rows = statuses(history, datetime.now(UTC), window)
    if not rows:
        typer.echo(f"no checks have run yet ({path})")
        return
    Console().print(status_table(rows, window))
