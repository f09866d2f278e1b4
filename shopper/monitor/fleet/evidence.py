"""A fleet worker's call folders, and deleting them once the schedule no longer keeps them.

A worker writes each run's call folder under its own `--out`, on its own disk, where no
monitor's retention reaches. So each worker deletes the folders it wrote, with the same rules
as a monitor (shopper.monitor.retention: only inside the output folder, never through a
symbolic link) and the same horizon (the schedule's `keep_days`, read with the run's check).

It knows which folders it wrote from a ledger in its state dir (`worker-evidence.sqlite3`),
never by listing the output folder: a row is written when a call is placed, before its folder
exists (so a worker killed mid-call leaves a row for its partial folder), and marked ended
when the run ends. A folder is deleted once `keep_days` have passed since its call was placed
(at or after the run's scheduled time, so a monitor has forgotten the run before its folder
goes: no dashboard links to deleted evidence), and only when its run is over: ended, or its
worker's process is gone (a worker on this host whose process id no longer exists). A run in
progress on a live worker is never touched, whatever its age. The folder goes first and its
row after, so a crash between the two leaves a row whose folder is already gone, which the
next pass forgets.

Workers sharing a state dir share the ledger; each deletes only folders inside its own
`--out`. Rows of workers on another host are never taken for dead (a state dir is not meant
to be shared between machines).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shopper.monitor.retention import (
    ALREADY_GONE,
    CHECK_EVERY_S,
    Refused,
    Retained,
    delete_call_folder,
)

log = logging.getLogger(__name__)

EVIDENCE_FILE = "worker-evidence.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS folders (
    folder TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    placed_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    owner TEXT NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS folders_by_expiry ON folders (expires_at);
"""


@dataclass(frozen=True, slots=True)
class Written:
    """A call folder a worker wrote (or was writing), as its ledger has it."""

    folder: Path
    run_id: str
    owner: str
    ended: bool


def this_process() -> str:
    """The owner of the rows this process writes: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_alive(owner: str) -> bool:
    """Whether the worker process that wrote a row may still be running: on this host, its
    process id exists; on another host, assumed so (it cannot be checked from here)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EvidenceLedger:
    """The folders the workers of one state dir wrote (SQLite, WAL like the history)."""

    def __init__(self, path: Path, owner: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.owner = owner or this_process()
        self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def placed(self, folder: Path, run_id: str, placed_at: datetime, keep_days: float) -> None:
        """A call of `run_id` was placed and will be written into `folder` (absolute)."""
        expires = placed_at + timedelta(days=keep_days)
        self._db.execute(
            "INSERT OR REPLACE INTO folders (folder, run_id, placed_at, expires_at, owner) "
            "VALUES (?, ?, ?, ?, ?)",
            (str(folder), run_id, _text(placed_at), _text(expires), self.owner),
        )

    def ended(self, run_id: str) -> None:
        """The run is over in this process: its folders may go once they expire."""
        self._db.execute(
            "UPDATE folders SET ended = 1 WHERE run_id = ? AND owner = ?", (run_id, self.owner)
        )

    def expired(self, now: datetime) -> list[Written]:
        rows = self._db.execute(
            "SELECT folder, run_id, owner, ended FROM folders WHERE expires_at < ? "
            "ORDER BY expires_at",
            (_text(now),),
        ).fetchall()
        return [Written(Path(row[0]), row[1], row[2], bool(row[3])) for row in rows]

    def forget(self, folders: Sequence[Path]) -> None:
        self._db.executemany("DELETE FROM folders WHERE folder = ?", [(str(f),) for f in folders])

    def folders(self) -> list[Written]:
        """Every row, oldest first (what is left to delete, for inspection)."""
        rows = self._db.execute(
            "SELECT folder, run_id, owner, ended FROM folders ORDER BY placed_at"
        ).fetchall()
        return [Written(Path(row[0]), row[1], row[2], bool(row[3])) for row in rows]


class WorkerRetention:
    """Deletes a worker's expired call folders: `apply()` once, `keep_applying()` hourly."""

    def __init__(
        self,
        ledger: EvidenceLedger,
        out_dir: Path,
        *,
        every_s: float = CHECK_EVERY_S,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._out_dir = out_dir
        self._every_s = every_s
        self._now = now

    async def keep_applying(self) -> None:
        """A pass now and then every `every_s`, until cancelled; a pass that fails is
        reported and the next one tried."""
        while True:
            try:
                await self.apply()
            except (OSError, sqlite3.Error) as error:
                log.warning("retention of the call folders failed: %s", error)
            await asyncio.sleep(self._every_s)

    async def apply(self) -> Retained:
        """Delete the folders whose keep_days have passed and whose runs are over."""
        now = self._now()
        due = [
            row
            for row in self._ledger.expired(now)
            if _below(row.folder, self._out_dir) and _over(row, self._ledger.owner)
        ]
        deleted, refused = await asyncio.to_thread(_delete, due, self._out_dir)
        self._ledger.forget([row.folder for row in due])
        if deleted:
            log.info("retention: deleted %d call folder(s) past keep_days", len(deleted))
        return Retained(now, len(due), tuple(deleted), tuple(refused))


def _over(row: Written, owner: str) -> bool:
    """The row's run is not going on: ended, or its worker's process is gone."""
    if row.ended:
        return True
    return row.owner != owner and not is_alive(row.owner)


def _below(folder: Path, out_dir: Path) -> bool:
    """Lexically below this worker's output folder (another worker's `--out` is its own);
    delete_call_folder checks it again, links included."""
    return Path(os.path.abspath(folder)).is_relative_to(os.path.abspath(out_dir))


def _delete(rows: Sequence[Written], out_dir: Path) -> tuple[list[Path], list[Refused]]:
    deleted: list[Path] = []
    refused: list[Refused] = []
    for row in rows:
        reason = delete_call_folder(row.folder, out_dir)
        if reason is None:
            deleted.append(row.folder)
        elif reason != ALREADY_GONE:
            log.warning("retention: left %s in place: %s", row.folder, reason)
            refused.append(Refused(row.folder, reason))
    return deleted, refused


def _text(moment: datetime) -> str:
    """Fixed-width UTC text, ordered correctly as text (like the history's)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: worker times are aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
