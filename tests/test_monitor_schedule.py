"""The schedule file: a full example read into typed values, the shipped example, and every
kind of mistake refused in one `FILE:LINE: problem (fix)` line before the monitor starts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shopper.monitor.schedule import ScheduleError, load_schedule
from shopper.monitor.spec import Cron, Every, SloRule

IVR = 'name: t\nstart: main\nnodes:\n  main: {play: "asterisk:goodbye", hangup: true}\n'
SCRIPT = "name: bye\ntarget: ivr.yaml\nsteps:\n  - expect: goodbye\n"
SHIPPED = Path(__file__).parent.parent / "scripts" / "acme" / "monitor.yaml"

FULL = """\
timezone: America/Chicago
checks:
  support-line:
    script: bye.yaml
    every: 5m
    jitter: 30s
    active: {days: Mon-Fri, hours: "08:00-20:00", except: [2026-12-25]}
    maintenance: [{from: "2026-12-31T22:00", to: "2027-01-01T02:00"}]
    retries: {count: 1, after: 30s}
    alert: {failures: 3, of_last: 5, recover_after: 2, renotify: 1h}
    slo: {time_to_human: {p95_max: 3m, window: 1h}, reached_human: {min_share: 0.9, window: 2h}}
    webhooks: [https://hooks.example.com/x]
  nightly:
    script: bye.yaml
    cron: "30 2 * * *"
    active: {days: [Sat, sunday], hours: ["00:00-06:00", "22:00-24:00"]}
lines: {max_parallel: 4, per_target: 1, cps: 0.5}
keep_days: 7
"""


def write(folder: Path, text: str) -> Path:
    (folder / "ivr.yaml").write_text(IVR)
    (folder / "bye.yaml").write_text(SCRIPT)
    path = folder / "schedule.yaml"
    path.write_text(text)
    return path


def test_a_full_schedule_reads_into_typed_values(tmp_path: Path) -> None:
    schedule = load_schedule(write(tmp_path, FULL))
    chicago = ZoneInfo("America/Chicago")
    assert schedule.timezone == chicago
    support, nightly = schedule.checks
    assert support.name == "support-line" and support.script == (tmp_path / "bye.yaml").resolve()
    assert support.cadence == Every(300.0) and support.jitter_s == 30.0
    assert support.active.days == frozenset({1, 2, 3, 4, 5})
    assert support.active.hours == ((time(8), time(20)),)
    assert support.active.except_dates == frozenset({date(2026, 12, 25)})
    (window,) = support.maintenance
    assert window.start == datetime(2026, 12, 31, 22, tzinfo=chicago)
    assert window.end.astimezone(UTC) == datetime(2027, 1, 1, 8, tzinfo=UTC)
    assert (support.retries.count, support.retries.after_s) == (1, 30.0)
    alert = support.alert
    assert (alert.failures, alert.of_last, alert.recover_after) == (3, 5, 2)
    assert alert.renotify_s == 3600.0
    assert support.slos == (
        SloRule(metric="time_to_human", window_s=3600.0, p95_max=180.0),
        SloRule(metric="reached_human", window_s=7200.0, min_share=0.9),
    )
    assert support.webhooks == ("https://hooks.example.com/x",)
    assert nightly.cadence == Cron("30 2 * * *") and nightly.active.days == frozenset({6, 7})
    assert nightly.active.hours == ((time(0), time(6)), (time(22), time.max))
    assert nightly.alert.of_last == nightly.alert.failures  # consecutive by default
    assert (schedule.lines.max_parallel, schedule.lines.per_target) == (4, 1)
    assert schedule.lines.cps == 0.5 and schedule.keep_days == 7.0


def test_days_wrap_around_the_week(tmp_path: Path) -> None:
    text = "timezone: UTC\nchecks:\n  c: {script: bye.yaml, every: 1m, active: {days: Fri-Mon}}\n"
    (check,) = load_schedule(write(tmp_path, text)).checks
    assert check.active.days == frozenset({5, 6, 7, 1})


def test_the_shipped_example_loads() -> None:
    schedule = load_schedule(SHIPPED)
    assert schedule.checks and all(check.script.is_file() for check in schedule.checks)


CHECK = "timezone: UTC\nchecks:\n  c:\n    script: bye.yaml\n"
"""A schedule up to its one check's script line (line 4); the cases add the rest."""


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "the file is empty"),
        ("checks: {}\n", 1, "missing timezone:"),
        ("timezone: America/Chigaco\nchecks: {}\n", 1, "did you mean America/Chicago?"),
        ("timezone: UTC\nchecks: []\n", 2, "checks must be a mapping"),
        ("timezone: UTC\nchecks:\n  a b: {script: bye.yaml, every: 1m}\n", 3, "check name 'a b'"),
        ("timezone: UTC\nchecks:\n  c: {every: 1m}\n", 3, "missing script:"),
        (CHECK, 3, "exactly one of every:"),
        (CHECK + "    every: 1m\n    cron: '* * * * *'\n", 6, "exactly one of every:"),
        (CHECK + "    every: soon\n", 5, "every: invalid duration"),
        (CHECK + "    every: 0s\n", 5, "longer than 0s"),
        (CHECK + "    cron: '*/5 8-19 * *'\n", 5, "five fields"),
        (CHECK + "    cron: '61 * * * *'\n", 5, "cron '61 * * * *'"),
        (CHECK + "    cron: '0 9 1 * 1'\n", 5, "write two checks"),
        (CHECK + "    cron: '0 9 * * 8'\n", 5, "weekday '8' is not 0-7"),
        (CHECK + "    every: 1m\n    jitter: 2m\n", 6, "shorter than every:"),
        (CHECK + "    every: 1m\n    evry: 2m\n", 6, "did you mean every:?"),
        (CHECK + "    every: 1m\n    active: {days: Mon-Fry}\n", 6, "'Fry' is not a day"),
        (CHECK + "    every: 1m\n    active: {hours: 8-20}\n", 6, "not a range of local times"),
        (CHECK + "    every: 1m\n    active: {hours: '20:00-08:00'}\n", 6, "ends before it starts"),
        (CHECK + "    every: 1m\n    active: {hours: '08:00-25:00'}\n", 6, "no such time of day"),
        (
            CHECK + "    every: 1m\n    active:\n      except: [2026-12-25, Xmas]\n",
            7,
            "'Xmas' is not a date",
        ),
        (
            CHECK + "    every: 1m\n    maintenance:\n      - {from: '2026-12-31T22:00', to: x}\n",
            7,
            "'x' is not a date and time",
        ),
        (
            CHECK + "    every: 1m\n    maintenance:\n"
            "      - {from: '2026-12-31T22:00', to: '2026-12-31T21:00'}\n",
            7,
            "ends (2026-12-31T21:00) before it starts",
        ),
        (CHECK + "    every: 1m\n    maintenance: {from: a}\n", 6, "must be a list of windows"),
        (CHECK + "    every: 1m\n    retries: {count: -1}\n", 6, "count must be a whole number"),
        (CHECK + "    every: 1m\n    alert: {failures: 3, of_last: 2}\n", 6, "of_last: 2 is fewer"),
        (CHECK + "    every: 1m\n    alert: {failures: 0}\n", 6, "failures must be a whole"),
        (CHECK + "    every: 1m\n    slo: {latency: {p95_max: 1m}}\n", 6, "unknown key 'latency'"),
        (
            CHECK + "    every: 1m\n    slo: {reached_human: {min_share: 90, window: 1h}}\n",
            6,
            "a share from 0 to 1",
        ),
        (CHECK + "    every: 1m\n    webhooks: [ftp://x]\n", 6, "not an http:// or https://"),
        (CHECK + "    every: 1m\nlines: {cps: 0}\n", 6, "cps must be a number above 0"),
        (CHECK + "    every: 1m\nkeep_days: -3\n", 6, "keep_days must be a number above 0"),
        ("timezone: UTC\nchecks:\n  c: {script: gone.yaml, every: 1m}\n", 3, "'gone.yaml' not"),
        ("timezone: UTC\nchecks:\n  c: {script: bye.yaml, every: 1m\n", 4, "YAML syntax error"),
    ],
)
def test_mistakes_are_one_line_naming_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScheduleError) as caught:
        load_schedule(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert words in message and "\n" not in message


def test_a_broken_script_is_reported_with_its_own_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, CHECK + "    every: 1m\n")
    (tmp_path / "bye.yaml").write_text("name: bye\ntarget: ivr.yaml\nsteps:\n  - press: 1\n")
    with pytest.raises(Exception) as caught:
        load_schedule(path)
    assert str(caught.value).startswith(f"{tmp_path / 'bye.yaml'}:4: ")
