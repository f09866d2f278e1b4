"""The alert rules as pure functions over synthetic run histories (no calls, no clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shopper.monitor.alert_message import alert_topic, report_link
from shopper.monitor.alerts import (
    AlertChange,
    evaluate,
    failure_rule,
    nearest_rank,
    reminder,
    slo_rule,
)
from shopper.monitor.records import AlertState, RunOutcome, RunRecord
from shopper.monitor.spec import AlertRule, SloRule

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EVERY = timedelta(minutes=5)


def run(
    n: int,
    outcome: RunOutcome = "passed",
    *,
    tth: float | None = 60.0,
    hold: float | None = 30.0,
    attempts: int = 1,
    run_id: str | None = None,
) -> RunRecord:
    at = T0 + n * EVERY
    reached = outcome == "passed" and tth is not None
    return RunRecord(
        run_id=run_id or f"line@{n}",
        check="line",
        scheduled_at=at,
        started_at=at,
        ended_at=at + timedelta(seconds=90),
        outcome=outcome,
        attempts=attempts,
        failure_message=None if outcome == "passed" else f"no person in run {n}",
        reached_human=reached,
        time_to_human_s=tth if reached else None,
        hold_s=hold,
        evidence=f"out/call-{n}",
    )


def history(pattern: str) -> list[RunRecord]:
    """`P` passed, `F` failed, `E` error: one run per letter, 5 minutes apart."""
    outcomes: dict[str, RunOutcome] = {"P": "passed", "F": "failed", "E": "error"}
    return [run(n, outcomes[letter]) for n, letter in enumerate(pattern)]


def after(runs: Sequence[RunRecord]) -> datetime:
    return runs[-1].ended_at


def judge(
    rule: AlertRule,
    runs: Sequence[RunRecord],
    current: AlertState | None = None,
    slos: Sequence[SloRule] = (),
) -> AlertChange | None:
    return evaluate(rule, slos, runs, current, after(runs))


CONSECUTIVE = AlertRule(failures=3, of_last=3, recover_after=2)
THREE_OF_FIVE = AlertRule(failures=3, of_last=5, recover_after=2)


def test_n_consecutive_failures_raise_on_the_nth_and_not_before() -> None:
    assert judge(CONSECUTIVE, history("PFF")) is None
    assert judge(CONSECUTIVE, history("FFPFF")) is None
    change = judge(CONSECUTIVE, history("PFFF"))
    assert change is not None and change.kind == "raised" and change.previous is None
    assert change.state.status == "failing"
    assert change.state.evidence == ("line@1", "line@2", "line@3")
    assert change.state.reason.startswith("3 runs in a row failed (latest: no person in run 3)")
    assert change.state.since == T0 + 3 * EVERY


def test_n_of_the_last_m_counts_scattered_failures_and_errors() -> None:
    change = judge(THREE_OF_FIVE, history("FPEPF"))
    assert change is not None and change.state.evidence == ("line@0", "line@2", "line@4")
    assert "3 of the last 5 runs failed" in change.state.reason
    # the oldest failure has left the last five: two remain
    assert judge(THREE_OF_FIVE, history("FPEPPF")) is None
    assert failure_rule(THREE_OF_FIVE, history("FF")).holds is False
    early = judge(THREE_OF_FIVE, history("FFF"))  # before five runs exist
    assert early is not None and early.state.reason.startswith("3 runs in a row failed")


def test_recovery_needs_n_passes_in_a_row_since_it_started_failing() -> None:
    runs = history("FFF")
    raised = judge(CONSECUTIVE, runs)
    assert raised is not None
    failing = raised.state
    assert judge(CONSECUTIVE, history("FFFP"), failing) is None
    assert judge(CONSECUTIVE, history("FFFPFP"), failing) is None
    recovered = judge(CONSECUTIVE, history("FFFPFPP"), failing)
    assert recovered is not None and recovered.kind == "recovered"
    assert recovered.state.status == "ok" and recovered.previous == failing
    assert recovered.state.evidence == ("line@5", "line@6")
    assert recovered.state.reason == "2 runs in a row passed"


def test_failures_already_answered_by_a_recovery_do_not_raise_again() -> None:
    rule = THREE_OF_FIVE
    raised = judge(rule, history("FFF"))
    assert raised is not None
    recovered = judge(rule, history("FFFPP"), raised.state)
    assert recovered is not None
    ok = recovered.state
    # the last five still hold three failures, but all from before the recovery
    assert judge(rule, history("FFFPP"), ok) is None
    assert judge(rule, history("FFFPPF"), ok) is None
    again = judge(rule, history("FFFPPFFF"), ok)
    assert again is not None and again.kind == "raised" and again.previous == ok
    assert again.state.evidence == ("line@5", "line@6", "line@7")


def test_a_retried_run_counts_once_and_a_run_id_seen_twice_is_its_later_record() -> None:
    runs = [run(0, "failed", attempts=2), run(1, "failed", attempts=3), run(2, "passed")]
    assert judge(AlertRule(failures=2, of_last=2), runs) is None
    assert failure_rule(AlertRule(failures=2, of_last=3), runs).evidence == ("line@0", "line@1")
    fleet_retry = [run(0, "failed"), run(1, "error"), run(1, "passed", run_id="line@1")]
    assert judge(AlertRule(failures=2, of_last=2), fleet_retry) is None


def test_the_reason_is_one_line_whatever_the_failure_message() -> None:
    runs = [replace(run(0, "error"), failure_message="cannot write out/x:\n  disk full")]
    change = judge(AlertRule(failures=1, of_last=1), runs)
    assert change is not None
    assert change.state.reason == "1 run failed (latest: cannot write out/x: disk full)"


def test_nearest_rank_quantiles() -> None:
    values = [float(n) for n in range(1, 21)]
    assert nearest_rank(values, 0.95) == 19.0
    assert nearest_rank(values, 0.5) == 10.0
    assert nearest_rank(values[:19], 0.95) == 19.0  # below 20 values, p95 is the largest
    assert nearest_rank([7.0], 0.95) == 7.0


TTH_SLO = SloRule(metric="time_to_human", window_s=3600.0, p95_max=180.0)


def test_p95_time_to_human_over_the_window() -> None:
    fast = [run(n, tth=60.0) for n in range(19)]
    slow = run(19, tth=200.0)
    now = after([slow])
    twenty = slo_rule(TTH_SLO, [*fast, slow], now)
    # 12 runs of the 20 fall in the hour before the last one ended: p95 is their slowest
    assert twenty.holds and twenty.evidence == ("line@19",)
    assert "p95 time to human over the last 1 h is 200 s (limit 180 s, 12 runs)" in twenty.reason
    wide = replace(TTH_SLO, window_s=4 * 3600.0)
    assert not slo_rule(wide, [*fast, slow], now).holds  # 1 in 20: p95 is 60 s
    exactly = slo_rule(TTH_SLO, [*fast[:11], run(11, tth=180.0)], after([run(11)]))
    assert not exactly.holds  # at the limit is within it


def test_runs_that_reached_no_person_are_left_to_the_failure_rule_and_the_share() -> None:
    """One failed call must not breach a p95 (and so bypass `failures`/`of_last`)."""
    runs = [run(0, tth=60.0), run(1, "failed")]
    finding = slo_rule(TTH_SLO, runs, after(runs))
    assert not finding.holds and "is 60 s (limit 180 s, 1 runs)" in finding.reason
    assert judge(THREE_OF_FIVE, runs, slos=[TTH_SLO]) is None
    nobody = [run(0, "failed"), run(1, "error")]
    assert not slo_rule(TTH_SLO, nobody, after(nobody)).holds


def test_with_a_time_slo_beside_it_the_count_rule_still_decides_failures() -> None:
    """The shipped example's pairing: 3 of 5 failures raise, 2 passes clear, within the hour."""
    rule = THREE_OF_FIVE
    assert judge(rule, history("PF"), slos=[TTH_SLO]) is None
    raised = judge(rule, history("PFFF"), slos=[TTH_SLO])
    assert raised is not None and raised.state.reason.startswith("3 of the last 4 runs failed")
    cleared = judge(rule, history("PFFFPP"), raised.state, [TTH_SLO])
    assert cleared is not None and cleared.kind == "recovered"


def test_runs_outside_the_window_and_an_empty_window_breach_nothing() -> None:
    old = [run(0, "failed")]
    assert not slo_rule(TTH_SLO, old, old[0].ended_at + timedelta(hours=2)).holds
    assert not slo_rule(TTH_SLO, [], T0).holds


def test_p95_hold_leaves_out_runs_without_a_measured_hold() -> None:
    slo = SloRule(metric="hold", window_s=3600.0, p95_max=120.0)
    runs = [run(0, hold=30.0), run(1, "error", hold=None), run(2, hold=100.0)]
    assert not slo_rule(slo, runs, after(runs)).holds
    long = [*runs, run(3, hold=121.0)]
    finding = slo_rule(slo, long, after(long))
    assert finding.holds and finding.evidence == ("line@3",)
    assert "(limit 120 s, 3 runs)" in finding.reason


def test_share_reaching_a_person() -> None:
    slo = SloRule(metric="reached_human", window_s=3600.0, min_share=0.9)
    nine = [run(n, "failed" if n == 0 else "passed") for n in range(10)]
    assert not slo_rule(slo, nine, after(nine)).holds  # 90 % is enough
    eight = [run(n, "failed" if n in (0, 5) else "passed") for n in range(10)]
    finding = slo_rule(slo, eight, after(eight))
    assert finding.holds and finding.evidence == ("line@0", "line@5")
    assert "8 of 10 runs over the last 1 h reached a person (80%, at least 90% wanted)" in (
        finding.reason
    )


def test_an_slo_raises_the_alert_and_holds_off_recovery_until_it_is_met() -> None:
    rule = AlertRule(failures=3, of_last=3, recover_after=1)
    runs = [run(0, tth=60.0), run(1, tth=400.0)]
    raised = judge(rule, runs, slos=[TTH_SLO])
    assert raised is not None and raised.state.evidence == ("line@1",)
    assert raised.state.reason.startswith("p95 time to human over the last 1 h is 400 s")
    # passed runs, but the slow one is still within the hour: still failing
    more = [*runs, run(2), run(3)]
    assert judge(rule, more, raised.state, [TTH_SLO]) is None
    # once it has left the window, the next pass recovers
    later = [*more, run(14)]
    recovered = judge(rule, later, raised.state, [TTH_SLO])
    assert recovered is not None and recovered.kind == "recovered"


def test_reminders_come_every_renotify_interval_after_the_last_notification() -> None:
    rule = replace(CONSECUTIVE, renotify_s=3600.0)
    runs = history("FFF")
    raised = judge(rule, runs)
    assert raised is not None
    notified = raised.state.notified_at
    assert notified == after(runs)
    assert reminder(rule, raised.state, notified + timedelta(minutes=59, seconds=59)) is None
    first = reminder(rule, raised.state, notified + timedelta(hours=1))
    assert first is not None and first.kind == "reminder"
    assert first.state.notified_at == notified + timedelta(hours=1)
    assert first.state.since == raised.state.since and first.state.reason == raised.state.reason
    assert reminder(rule, first.state, notified + timedelta(hours=1, minutes=30)) is None
    assert reminder(rule, first.state, notified + timedelta(hours=2)) is not None
    # and through evaluate, when a run ends and nothing else changed
    more = [*runs, run(3, "failed")]
    via_run = evaluate(rule, (), more, raised.state, notified + timedelta(hours=1))
    assert via_run is not None and via_run.kind == "reminder"
    assert reminder(CONSECUTIVE, raised.state, notified + timedelta(days=9)) is None
    ok = AlertState(check="line", status="ok", since=T0, reason="", notified_at=T0)
    assert reminder(rule, ok, T0 + timedelta(days=1)) is None


def test_evaluating_the_same_history_again_changes_nothing() -> None:
    """What a restarted monitor does: the saved state and the same runs, no new announcement."""
    for pattern in ("FFF", "FFFPP", "PFFFPPFFF"):
        runs = history(pattern)
        state: AlertState | None = None
        for end in range(1, len(runs) + 1):
            change = judge(THREE_OF_FIVE, runs[:end], state)
            state = change.state if change is not None else state
        assert state is not None
        assert judge(THREE_OF_FIVE, runs, state) is None


def test_a_check_name_is_one_topic_level() -> None:
    assert alert_topic("support-line") == "alerts/support-line"
    assert alert_topic("EU/billing #2") == "alerts/EU-billing-2"
    assert alert_topic("+") == "alerts/check"


def test_evidence_links_are_absolute_report_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = replace(run(0), evidence="monitor-out/call-0")
    assert report_link(relative) == str(tmp_path / "monitor-out" / "call-0" / "report.html")
    assert report_link(replace(run(0), evidence=None)) is None
