"""An alert change as it leaves the machine: the `shopper.alert/1` document and its one line.

The same document goes to MQTT (retained on `<prefix>/<site>/alerts/<check>`) and to
webhooks; its `text` is the line a person reads (Slack's incoming webhooks show `text`), and
`runs` link each run that caused the change to its call's report.html.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopper.monitor.alerts import AlertChange
from shopper.monitor.records import RunRecord
from shopper.publish.envelope import stamped

ALERT_SCHEMA = "shopper.alert/1"
REPORT_FILE = "report.html"


def alert_topic(check: str) -> str:
    """The topic suffix under `<prefix>/<site>/`: one MQTT level per check, so characters
    MQTT or a file system would misread (`/`, `+`, `#`, spaces) become `-`."""
    level = re.sub(r"[^A-Za-z0-9._-]+", "-", check).strip("-") or "check"
    return f"alerts/{level}"


def report_link(run: RunRecord) -> str | None:
    """The run's evidence a person opens: its call folder's report.html, as an absolute path
    (a folder under a relative `--out` means nothing to whoever reads the alert elsewhere)."""
    return None if run.evidence is None else str(Path(run.evidence).absolute() / REPORT_FILE)


def alert_payload(change: AlertChange, runs: Mapping[str, RunRecord]) -> dict[str, Any]:
    """The document for one change; `runs` by run id (evidence not found is listed by id)."""
    state = change.state
    evidence = [_run_entry(run_id, runs.get(run_id)) for run_id in state.evidence]
    return stamped(
        {
            "schema": ALERT_SCHEMA,
            "check": state.check,
            "status": state.status,
            "change": change.kind,
            "previous": None if change.previous is None else change.previous.status,
            "since": iso(state.since),
            "reason": state.reason,
            "runs": evidence,
            "text": alert_text(change, evidence),
        }
    )


def alert_text(change: AlertChange, evidence: list[dict[str, Any]]) -> str:
    """One line for chat: what happened to which check, why, and where the evidence is."""
    state = change.state
    match change.kind:
        case "raised":
            head = f"{state.check} is FAILING"
        case "recovered":
            head = f"{state.check} is ok again"
        case "reminder":
            head = f"{state.check} is still FAILING (since {_short(state.since)})"
    links = [entry["report"] or entry["run_id"] for entry in evidence]
    tail = f" Evidence: {', '.join(links)}" if links else ""
    return f"{head}: {state.reason}.{tail}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _short(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _run_entry(run_id: str, run: RunRecord | None) -> dict[str, Any]:
    if run is None:
        return {
            "run_id": run_id,
            "scheduled_at": None,
            "outcome": None,
            "call_id": None,
            "report": None,
        }
    return {
        "run_id": run_id,
        "scheduled_at": iso(run.scheduled_at),
        "outcome": run.outcome,
        "call_id": run.call_id,
        "report": report_link(run),
    }
