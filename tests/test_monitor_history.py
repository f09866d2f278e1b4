"""The monitor's SQLite history: what a restarted monitor finds again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shopper.monitor.history import opened_history
from shopper.monitor.records import AlertState, RunRecord, SkippedRun

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _run(n: int, outcome: str = "passed", check: str = "support") -> RunRecord:
    at = T0 + timedelta(minutes=5 * n)
    return RunRecord(
        run_id=f"{check}-{n}",
        check=check,
        scheduled_at=at,
        started_at=at + timedelta(seconds=1),
        ended_at=at + timedelta(seconds=70),
        outcome=outcome,  # type: ignore[arg-type]
        attempts=1,
        reached_human=outcome == "passed",
        time_to_human_s=59.5 if outcome == "passed" else None,
        hold_s=45.1,
        call_id=f"call-{n}",
        evidence=f"out/call-{n}",
    )


def test_runs_alerts_and_skips_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state" / "monitor.sqlite3"
    with opened_history(path) as history:
        for n in range(4):
            history.add_run(_run(n, "failed" if n >= 2 else "passed"))
        history.add_run(_run(0, check="other"))
        history.add_skip(SkippedRun(check="support", scheduled_at=T0, reason="overlap"))
        history.save_alert(AlertState(check="support", status="ok", since=T0, reason="start"))
        history.save_alert(
            AlertState(
                check="support",
                status="failing",
                since=T0 + timedelta(minutes=15),
                reason="2 failures in a row",
                evidence=("support-2", "support-3"),
                notified_at=T0 + timedelta(minutes=15),
            )
        )
    with opened_history(path) as history:
        assert [r.run_id for r in history.runs("support")] == [f"support-{n}" for n in range(4)]
        assert [r.run_id for r in history.runs("support", last=2)] == ["support-2", "support-3"]
        since = T0 + timedelta(minutes=5)
        assert history.runs("support", since=since)[0].run_id == "support-1"
        assert history.runs("support")[3] == _run(3, "failed")
        assert history.checks() == ["other", "support"]
        assert [s.reason for s in history.skips("support")] == ["overlap"]
        current = history.alert("support")
        assert current is not None and current.status == "failing"
        assert current.evidence == ("support-2", "support-3")
        assert [a.status for a in history.alerts("support")] == ["ok", "failing"]
        assert history.alert("other") is None


def test_the_same_run_id_twice_is_one_run(tmp_path: Path) -> None:
    with opened_history(tmp_path / "h.sqlite3") as history:
        history.add_run(_run(1, "error"))
        history.add_run(_run(1, "passed"))
        assert [r.outcome for r in history.runs("support")] == ["passed"]


def test_forgetting_old_runs_returns_them_for_their_evidence(tmp_path: Path) -> None:
    with opened_history(tmp_path / "h.sqlite3") as history:
        for n in range(5):
            history.add_run(_run(n))
        history.add_skip(SkippedRun(check="support", scheduled_at=T0, reason="inactive"))
        gone = history.forget_before(T0 + timedelta(minutes=10))
        assert sorted(r.evidence or "" for r in gone) == ["out/call-0", "out/call-1"]
        assert [r.run_id for r in history.runs("support")] == [
            "support-2",
            "support-3",
            "support-4",
        ]
        assert history.skips("support") == []


def test_naive_times_are_refused(tmp_path: Path) -> None:
    with opened_history(tmp_path / "h.sqlite3") as history:
        naive = SkippedRun(check="x", scheduled_at=datetime(2026, 1, 1), reason="overlap")
        with pytest.raises(ValueError, match="naive"):
            history.add_skip(naive)
