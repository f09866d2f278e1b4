"""Retention: old runs are forgotten and only their own call folders, inside the output folder
and reached without a symbolic link, are deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from monitor_history_fill import SyntheticCheck, fill_history

from shopper.monitor.history import History, opened_history
from shopper.monitor.records import RunRecord, SkippedRun
from shopper.monitor.retention import RetentionObserver, apply_retention

NOW = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=10)
CHECKS = [SyntheticCheck("support-line", 30, (0, 24), 60.0, 0.1, 0.05)]


def _old_run(name: str, evidence: Path | str | None) -> RunRecord:
    return RunRecord(
        run_id=name,
        check="support-line",
        scheduled_at=OLD,
        started_at=OLD,
        ended_at=OLD + timedelta(minutes=2),
        outcome="passed",
        attempts=1,
        evidence=None if evidence is None else str(evidence),
    )


def _outside_victim(tmp_path: Path) -> Path:
    """A folder outside the output folder whose file must survive every test."""
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "keep.txt").write_text("not shopper's to delete\n")
    return victim


def test_old_runs_and_their_folders_go_and_recent_ones_stay(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        runs = fill_history(
            history, out, CHECKS, start=NOW - timedelta(days=3), end=NOW, make_folders=True
        )
        (out / "dashboard.html").write_text("page\n")
        done = apply_retention(history, out, keep_days=1.5, now=NOW)
        kept = history.runs("support-line")
    cutoff = NOW - timedelta(days=1.5)
    old = [run for run in runs if run.scheduled_at < cutoff]
    young = [run for run in runs if run.scheduled_at >= cutoff]
    assert old and young
    assert done.cutoff == cutoff
    assert done.forgotten_runs == len(old)
    assert done.refused == ()
    assert sorted(map(str, done.deleted)) == sorted(str(run.evidence) for run in old)
    assert [run.run_id for run in kept] == [run.run_id for run in young]
    assert not any(Path(str(run.evidence)).exists() for run in old)
    assert all((Path(str(run.evidence)) / "report.html").is_file() for run in young)
    assert (out / "dashboard.html").is_file()


def test_symbolic_links_and_paths_outside_the_output_folder_are_never_followed(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    day = out / "2026-11-24"
    day.mkdir(parents=True)
    victim = _outside_victim(tmp_path)
    (day / "linked-call").symlink_to(victim, target_is_directory=True)
    (out / "linked-day").symlink_to(victim, target_is_directory=True)
    (victim / "call").mkdir()
    real_call = day / "real-call"
    real_call.mkdir()
    (real_call / "result.json").write_text("{}\n")
    (real_call / "escape").symlink_to(victim, target_is_directory=True)
    (real_call / "escape-file").symlink_to(victim / "keep.txt")
    elsewhere = tmp_path / "elsewhere-call"
    elsewhere.mkdir()
    named = {
        "link-as-call": day / "linked-call",
        "link-as-day": out / "linked-day" / "call",
        "outside": elsewhere,
        "dot-dot": out / ".." / "precious",
        "the-output-folder": out,
        "real": real_call,
        "no-evidence": None,
    }
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        for name, evidence in named.items():
            history.add_run(_old_run(name, evidence))
        done = apply_retention(history, out, keep_days=7, now=NOW)
        assert history.runs("support-line") == []
    assert done.forgotten_runs == len(named)
    assert done.deleted == (real_call,)
    refused = {str(item.folder): item.reason for item in done.refused}
    assert "is a symbolic link" in refused[str(day / "linked-call")]
    assert "is a symbolic link" in refused[str(out / "linked-day" / "call")]
    assert "not inside the output folder" in refused[str(elsewhere)]
    assert "not inside the output folder" in refused[str(out / ".." / "precious")]
    assert "not inside the output folder" in refused[str(out)]
    assert (victim / "keep.txt").read_text() == "not shopper's to delete\n"
    assert (victim / "call").is_dir()
    assert (day / "linked-call").is_symlink()
    assert (out / "linked-day").is_symlink()
    assert elsewhere.is_dir()
    assert not real_call.exists()
    assert out.is_dir()


def test_a_folder_already_gone_is_not_an_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        history.add_run(_old_run("gone", out / "2026-11-24" / "deleted-by-hand"))
        done = apply_retention(history, out, keep_days=7, now=NOW)
    assert (done.forgotten_runs, done.deleted, done.refused) == (1, (), ())


def test_keep_days_must_be_positive(tmp_path: Path) -> None:
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        for keep_days in (0, -1, float("nan")):
            with pytest.raises(ValueError, match="keep_days"):
                apply_retention(history, tmp_path, keep_days=keep_days, now=NOW)
            with pytest.raises(ValueError, match="keep_days"):
                RetentionObserver(history, tmp_path, keep_days)


async def test_the_observer_applies_retention_at_most_hourly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    clock = [NOW]
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        observer = RetentionObserver(history, out, keep_days=7, now=lambda: clock[0])
        folders = [_add_old_call(history, out, n) for n in range(3)]
        await observer.run_ended(_old_run("trigger", None))
        assert not folders[0].exists()
        folders.append(_add_old_call(history, out, 3))
        clock[0] = NOW + timedelta(minutes=59)
        await observer.run_ended(_old_run("trigger", None))
        assert folders[3].exists(), "retention ran again within the hour"
        clock[0] = NOW + timedelta(minutes=61)
        await observer.run_skipped(
            SkippedRun(check="support-line", scheduled_at=clock[0], reason="inactive")
        )
        assert not folders[3].exists()
        assert history.runs("support-line") == []


def _add_old_call(history: History, out: Path, n: int) -> Path:
    folder = out / "2026-11-24" / f"call-{n}"
    folder.mkdir(parents=True)
    (folder / "recording.wav").write_bytes(b"RIFF")
    history.add_run(_old_run(f"old-{n}", folder))
    return folder
