"""`shopper doctor`: what a run needs, checked, and what to fix."""

from __future__ import annotations

import typer

from shopper.doctor import Check, Status, ready, run_checks

NOT_READY = 1


def doctor() -> None:
    """Check packages, speech engines, voices, sounds, folders, the MQTT broker and carriers.

    Exit 0 when ready to call, 1 with the list of what to fix. Never prints a secret."""
    checks = run_checks()
    for check in checks:
        typer.echo(_line(check))
    if ready(checks):
        typer.echo("ready")
        return
    missing = [check.name for check in checks if check.status is Status.MISSING]
    typer.echo(f"not ready: fix {', '.join(missing)}")
    raise typer.Exit(NOT_READY)


def _line(check: Check) -> str:
    """One whole line per check, never wrapped, so logs can be grepped."""
    fix = f" (fix: {check.fix})" if check.fix else ""
    return f"{check.status.value:<8} {check.name}: {check.detail}{fix}"
