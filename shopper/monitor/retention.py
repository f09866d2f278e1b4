"""Forgetting old runs: history rows and call folders older than the schedule's keep_days.

A monitor calling every 5 minutes writes a call folder (a recording of up to many minutes)
each time, so evidence has to be deleted or the disk fills. Deleting is the one thing here
that can destroy what it should not, so it is narrow on purpose: only folders the history
names for the runs it has just forgotten, only inside the output folder (after the folder
path is made absolute, never through `..`), never through a symbolic link anywhere between
the output folder and the call folder, never the output folder itself. Inside a call folder
`shutil.rmtree` removes symbolic links without following them. Rows go first and folders
after (`History.forget_before`), so a crash in between leaves orphan folders, never rows
pointing at deleted evidence. A folder refused or that fails to delete is reported and left.
The folders above a call folder (a check's, a day's) stay even when emptied: a call being
written there at that moment must not lose the folder it is creating.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shopper.monitor.history import History
from shopper.monitor.records import RunRecord, SkippedRun

log = logging.getLogger(__name__)

CHECK_EVERY_S = 3600.0
"""How often the observer applies retention: hourly is fine-grained enough for days."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A call folder retention left in place, and why."""

    folder: Path
    reason: str


@dataclass(frozen=True, slots=True)
class Retained:
    """What one pass of retention did."""

    cutoff: datetime
    forgotten_runs: int
    deleted: tuple[Path, ...]
    refused: tuple[Refused, ...]


def apply_retention(
    history: History, out_dir: Path, keep_days: float, *, now: datetime | None = None
) -> Retained:
    """Forget runs scheduled more than `keep_days` before `now` and delete their call folders.

    Blocking (it deletes files); `RetentionObserver` runs the deleting part in a thread."""
    cutoff = cutoff_for(keep_days, now or datetime.now(UTC))
    runs = history.forget_before(cutoff)
    return delete_evidence(runs, out_dir, cutoff)


def cutoff_for(keep_days: float, now: datetime) -> datetime:
    if not keep_days > 0:
        raise ValueError(f"keep_days must be more than 0 days, not {keep_days!r}")
    return now - timedelta(days=keep_days)


def delete_evidence(runs: Sequence[RunRecord], out_dir: Path, cutoff: datetime) -> Retained:
    """Delete the call folders of `runs` (already forgotten by the history), safely."""
    deleted: list[Path] = []
    refused: list[Refused] = []
    for run in runs:
        if not run.evidence:
            continue
        folder = Path(run.evidence)
        reason = delete_call_folder(folder, out_dir)
        if reason is None:
            deleted.append(folder)
        elif reason != ALREADY_GONE:
            log.warning("retention: left %s in place: %s", folder, reason)
            refused.append(Refused(folder, reason))
    return Retained(cutoff, len(runs), tuple(deleted), tuple(refused))


ALREADY_GONE = "already gone"


def delete_call_folder(folder: Path, out_dir: Path) -> str | None:
    """Delete one call folder below `out_dir`, safely (the module's rules): None when
    deleted; otherwise why not (`ALREADY_GONE` when there was nothing to delete)."""
    inside = _inside(folder, out_dir)
    if inside is None:
        return f"not inside the output folder {out_dir}"
    root, parts = inside
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            return f"{path} is a symbolic link"
        if not path.exists():
            return ALREADY_GONE
    if not path.is_dir():
        return "not a folder"
    try:
        shutil.rmtree(path)
    except OSError as error:
        return f"could not delete it: {error.strerror or error}"
    return None


def _inside(folder: Path, out_dir: Path) -> tuple[Path, tuple[str, ...]] | None:
    """The output folder and the names leading from it down to `folder`, read lexically
    (symbolic links are checked one by one afterwards); None if `folder` is not below it."""
    target = Path(os.path.abspath(folder))
    for root in (Path(os.path.abspath(out_dir)), out_dir.resolve()):
        if target.is_relative_to(root):
            parts = target.relative_to(root).parts
            return (root, parts) if parts else None
    return None


class RetentionObserver:
    """Applies retention after runs, at most once every `every_s` (a RunObserver).

    `out_dir` None: runs are forgotten and no folder is deleted (a fleet's monitor: the call
    folders are its workers', each deletes those it wrote; shopper.monitor.fleet.evidence).

    Put it before the DashboardObserver, so the page is drawn without forgotten runs. The
    history is changed on the event loop (its connection belongs to the loop's thread); the
    folders are deleted in a worker thread."""

    def __init__(
        self,
        history: History,
        out_dir: Path | None,
        keep_days: float,
        *,
        every_s: float = CHECK_EVERY_S,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        cutoff_for(keep_days, datetime.now(UTC))  # a bad keep_days fails at start, not later
        self._history = history
        self._out_dir = out_dir
        self._keep_days = keep_days
        self._every = timedelta(seconds=every_s)
        self._now = now
        self._last: datetime | None = None

    async def run_ended(self, run: RunRecord) -> None:
        await self._when_due()

    async def run_skipped(self, skip: SkippedRun) -> None:
        await self._when_due()

    async def apply(self) -> Retained:
        """One pass now, whenever the last was."""
        now = self._now()
        self._last = now
        cutoff = cutoff_for(self._keep_days, now)
        runs = self._history.forget_before(cutoff)
        if self._out_dir is None:
            return Retained(cutoff, len(runs), (), ())
        return await asyncio.to_thread(delete_evidence, runs, self._out_dir, cutoff)

    async def _when_due(self) -> None:
        if self._last is None or self._now() - self._last >= self._every:
            await self.apply()
