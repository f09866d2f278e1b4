"""A fleet worker's retention: the call folders it wrote go once the schedule's keep_days
have passed since their calls were placed (a hand-moved clock), only when their runs are
over, only inside the worker's output folder, never through a symbolic link."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shopper.monitor.fleet.evidence import EvidenceLedger, WorkerRetention, this_process
from shopper.monitor.history import opened_history
from shopper.monitor.records import RunRecord
from shopper.monitor.retention import RetentionObserver

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _call(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "recording.wav").write_bytes(b"RIFF")
    return folder


def _dead_owner() -> str:
    """The owner of rows written by a worker process of this host that has ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return this_process().rsplit(":", 1)[0] + f":{process.pid}"


async def test_expired_folders_of_runs_that_are_over_go_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "out"
    now = [T0]
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "keep.txt").write_text("not the worker's\n")
    ledger = EvidenceLedger(tmp_path / "state" / "worker-evidence.sqlite3")
    dead = EvidenceLedger(ledger.path, owner=_dead_owner())
    alive = EvidenceLedger(ledger.path, owner=this_process().rsplit(":", 1)[0] + f":{os.getppid()}")
    folders = {
        "ended": _call(out / "support" / "call-ended"),
        "in-progress": _call(out / "support" / "call-going"),
        "dead-worker": _call(out / "support" / "call-cut"),
        "live-worker": _call(out / "support" / "call-other"),
        "other-out": _call(tmp_path / "other-out" / "support" / "call-x"),
        "younger": _call(out / "support" / "call-young"),
        "keep-2-days": _call(out / "support" / "call-long"),
    }
    (out / "support" / "linked").symlink_to(victim, target_is_directory=True)
    folders["link"] = out / "support" / "linked"
    writers = {"dead-worker": dead, "live-worker": alive}
    for name, folder in folders.items():
        at = T0 + timedelta(hours=2) if name == "younger" else T0
        keep = 2.0 if name == "keep-2-days" else 1.0
        writers.get(name, ledger).placed(folder, f"run-{name}", at, keep)
    for name in ("ended", "other-out", "younger", "keep-2-days", "link"):
        ledger.ended(f"run-{name}")
    ledger.ended("run-dead-worker")  # another process's row: not this one's to end
    retention = WorkerRetention(ledger, out, now=lambda: now[0])

    now[0] = T0 + timedelta(hours=23)
    first = await retention.apply()
    assert (first.forgotten_runs, first.deleted) == (0, ())
    assert all(folder.exists() for folder in folders.values())

    now[0] = T0 + timedelta(days=1, minutes=1)
    second = await retention.apply()
    assert set(second.deleted) == {folders["ended"], folders["dead-worker"]}
    [refused] = second.refused
    assert refused.folder == folders["link"] and "symbolic link" in refused.reason
    assert (victim / "keep.txt").is_file() and folders["link"].is_symlink()
    left = {row.run_id for row in ledger.folders()}
    assert left == {
        "run-in-progress", "run-live-worker", "run-other-out", "run-younger", "run-keep-2-days"
    }  # fmt: skip
    for name in left:
        assert folders[name.removeprefix("run-")].is_dir()

    ledger.ended("run-in-progress")
    now[0] = T0 + timedelta(days=2, hours=3)
    third = await retention.apply()
    assert set(third.deleted) == {
        folders["in-progress"], folders["younger"], folders["keep-2-days"]
    }  # fmt: skip
    assert {row.run_id for row in ledger.folders()} == {"run-live-worker", "run-other-out"}
    assert folders["live-worker"].is_dir() and folders["other-out"].is_dir()
    assert (out / "support").is_dir(), "the check's folder stays for calls being written"
    for each in (ledger, dead, alive):
        each.close()


async def test_a_fleet_monitor_forgets_old_runs_and_deletes_no_folder(tmp_path: Path) -> None:
    """A fleet's call folders are its workers': the monitor's retention forgets the runs
    only, even when the folder the history names is below its own output folder."""
    out = tmp_path / "out"
    folder = _call(out / "support" / "call-0")
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        history.add_run(
            RunRecord(
                run_id="old",
                check="support",
                scheduled_at=T0,
                started_at=T0,
                ended_at=T0,
                outcome="passed",
                attempts=1,
                evidence=str(folder),
            )
        )
        observer = RetentionObserver(history, None, 1.0, now=lambda: T0 + timedelta(days=2))
        done = await observer.apply()
        assert history.runs("support") == []
    assert (done.forgotten_runs, done.deleted) == (1, ())
    assert folder.is_dir()
