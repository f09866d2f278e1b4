"""The monitor's memory in SQLite: run history, skipped runs and alert states.

It survives restarts (consecutive-failure counters and alert states are derived from or kept
in it), so a monitor that is stopped and started again neither forgets a failing line nor
re-announces an alert it already sent. WAL with synchronous=NORMAL, like the outbox: a
killed process keeps every committed row. Queries are small and indexed (a few
milliseconds), so callers on the event loop may call them directly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from shopper.monitor.records import (
    AlertState,
    AlertStatus,
    RunOutcome,
    RunRecord,
    SkippedRun,
    SkipReason,
)
from shopper.publish.outbox import state_dir

HISTORY_FILE = "monitor.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    check_name TEXT NOT NULL,
    scheduled_at TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    failure_kind TEXT,
    failure_message TEXT,
    reached_human INTEGER NOT NULL,
    time_to_human_s REAL,
    hold_s REAL,
    call_id TEXT,
    evidence TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_check ON runs (check_name, scheduled_at);
CREATE TABLE IF NOT EXISTS skips (
    check_name TEXT NOT NULL,
    scheduled_at TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS skips_by_check ON skips (check_name, scheduled_at);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    check_name TEXT NOT NULL,
    status TEXT NOT NULL,
    since TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    notified_at TEXT
);
CREATE INDEX IF NOT EXISTS alerts_by_check ON alerts (check_name, seq);
"""

_RUN_COLUMNS = (
    "run_id, check_name, scheduled_at, started_at, ended_at, outcome, attempts, failure_kind, "
    "failure_message, reached_human, time_to_human_s, hold_s, call_id, evidence"
)


def default_history_path() -> Path:
    return state_dir() / HISTORY_FILE


class History:
    """Runs, skips and alert states of every check, oldest first in every answer.

    Alert states are appended, never overwritten: the latest row of a check is its current
    state, and the rows before it are the periods the dashboard shades."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add_run(self, run: RunRecord) -> None:
        """Record a run; the same run id twice (a retried fleet job) keeps the later one."""
        self._db.execute(
            f"INSERT OR REPLACE INTO runs ({_RUN_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.run_id,
                run.check,
                _text(run.scheduled_at),
                _text(run.started_at),
                _text(run.ended_at),
                run.outcome,
                run.attempts,
                run.failure_kind,
                run.failure_message,
                int(run.reached_human),
                run.time_to_human_s,
                run.hold_s,
                run.call_id,
                run.evidence,
            ),
        )

    def runs(
        self, check: str, *, since: datetime | None = None, last: int | None = None
    ) -> list[RunRecord]:
        """The check's runs scheduled at or after `since`, or only its `last` ones."""
        query = f"SELECT {_RUN_COLUMNS} FROM runs WHERE check_name = ?"
        params: list[object] = [check]
        if since is not None:
            query += " AND scheduled_at >= ?"
            params.append(_text(since))
        query += " ORDER BY scheduled_at DESC, started_at DESC"
        if last is not None:
            query += " LIMIT ?"
            params.append(last)
        rows = self._db.execute(query, params).fetchall()
        return [_run(row) for row in reversed(rows)]

    def checks(self) -> list[str]:
        """Every check with a run, a skip or an alert on record, by name."""
        rows = self._db.execute(
            "SELECT check_name FROM runs UNION SELECT check_name FROM skips "
            "UNION SELECT check_name FROM alerts ORDER BY 1"
        ).fetchall()
        return [str(row[0]) for row in rows]

    def add_skip(self, skip: SkippedRun) -> None:
        self._db.execute(
            "INSERT INTO skips (check_name, scheduled_at, reason) VALUES (?, ?, ?)",
            (skip.check, _text(skip.scheduled_at), skip.reason),
        )

    def skips(self, check: str, *, since: datetime | None = None) -> list[SkippedRun]:
        query = "SELECT check_name, scheduled_at, reason FROM skips WHERE check_name = ?"
        params: list[object] = [check]
        if since is not None:
            query += " AND scheduled_at >= ?"
            params.append(_text(since))
        rows = self._db.execute(query + " ORDER BY scheduled_at", params).fetchall()
        return [
            SkippedRun(check=row[0], scheduled_at=_time(row[1]), reason=cast(SkipReason, row[2]))
            for row in rows
        ]

    def save_alert(self, state: AlertState) -> None:
        """Append the check's alert state (a change, or the same state re-notified)."""
        self._db.execute(
            "INSERT INTO alerts (check_name, status, since, reason, evidence, notified_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                state.check,
                state.status,
                _text(state.since),
                state.reason,
                json.dumps(list(state.evidence)),
                None if state.notified_at is None else _text(state.notified_at),
            ),
        )

    def save_alert_once(self, state: AlertState) -> bool:
        """`save_alert` unless the same state (check, status, since, notification) is on
        record already: every monitor of a fleet copies the shared states in, and again after
        a restart. False when it was there."""
        notified = None if state.notified_at is None else _text(state.notified_at)
        found = self._db.execute(
            "SELECT 1 FROM alerts WHERE check_name = ? AND status = ? AND since = ? "
            "AND notified_at IS ?",
            (state.check, state.status, _text(state.since), notified),
        ).fetchone()
        if found is not None:
            return False
        self.save_alert(state)
        return True

    def alert(self, check: str) -> AlertState | None:
        """The check's current alert state; None before its first."""
        row = self._db.execute(
            "SELECT check_name, status, since, reason, evidence, notified_at FROM alerts "
            "WHERE check_name = ? ORDER BY seq DESC LIMIT 1",
            (check,),
        ).fetchone()
        return None if row is None else _alert(row)

    def alerts(self, check: str) -> list[AlertState]:
        """Every alert state the check has been in, oldest first (one row per save)."""
        rows = self._db.execute(
            "SELECT check_name, status, since, reason, evidence, notified_at FROM alerts "
            "WHERE check_name = ? ORDER BY seq",
            (check,),
        ).fetchall()
        return [_alert(row) for row in rows]

    def forget_before(self, cutoff: datetime) -> list[RunRecord]:
        """Delete runs and skips scheduled before `cutoff`; return the runs deleted, so the
        caller can delete their evidence after the rows are gone (a crash between the two
        leaves orphan folders, never rows pointing at deleted evidence)."""
        when = _text(cutoff)
        rows = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE scheduled_at < ?", (when,)
        ).fetchall()
        with self._transaction():
            self._db.execute("DELETE FROM runs WHERE scheduled_at < ?", (when,))
            self._db.execute("DELETE FROM skips WHERE scheduled_at < ?", (when,))
        return [_run(row) for row in rows]

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


@contextmanager
def opened_history(path: Path | None = None) -> Iterator[History]:
    """The history at `path` (default: the state folder's), closed on the way out."""
    history = History(path or default_history_path())
    try:
        yield history
    finally:
        history.close()


def _text(moment: datetime) -> str:
    """Aware times as fixed-width UTC ISO text, so SQLite orders them as text correctly."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: monitor times are aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(text: str) -> datetime:
    """The text `_text` wrote; fromisoformat reads it ~50x faster than strptime, which counts
    when the dashboard reads weeks of runs."""
    return datetime.fromisoformat(text)


def _run(row: tuple[object, ...]) -> RunRecord:
    return RunRecord(
        run_id=str(row[0]),
        check=str(row[1]),
        scheduled_at=_time(str(row[2])),
        started_at=_time(str(row[3])),
        ended_at=_time(str(row[4])),
        outcome=cast(RunOutcome, row[5]),
        attempts=int(cast(int, row[6])),
        failure_kind=cast(str | None, row[7]),
        failure_message=cast(str | None, row[8]),
        reached_human=bool(row[9]),
        time_to_human_s=cast(float | None, row[10]),
        hold_s=cast(float | None, row[11]),
        call_id=cast(str | None, row[12]),
        evidence=cast(str | None, row[13]),
    )


def _alert(row: tuple[object, ...]) -> AlertState:
    return AlertState(
        check=str(row[0]),
        status=cast(AlertStatus, row[1]),
        since=_time(str(row[2])),
        reason=str(row[3]),
        evidence=tuple(json.loads(str(row[4]))),
        notified_at=None if row[5] is None else _time(str(row[5])),
    )
