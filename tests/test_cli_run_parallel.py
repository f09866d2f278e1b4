"""`shopper run --parallel N` end to end: on the virtual clock the calls give exactly the
results they give one by one; in real time they overlap, dials to one target are spaced by
its calls-per-second cap and no more of its calls are in progress than its calls-at-once cap
(all read from the result files' dial times and media durations, never from how fast the
machine is); Ctrl-C hangs up every call in progress and keeps them. Real processes, real
calls to small sandbox IVRs, real signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from proc_table import session_processes

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).parent.parent / "scripts"
SHOPPER = [sys.executable, "-m", "shopper", "run", "--engine", "moonshine"]

PROMPT_LINE = """
name: Prompt Line
start: main
nodes:
  main:
    play: "asterisk:pls-hold-while-try"
    silence: 2s
"""
"""A recorded prompt, a moment of quiet, and the IVR hangs up: a call of about 4 s."""
KEY_LINE = """
name: Key Line
start: main
nodes:
  main:
    play: "asterisk:pls-hold-while-try"
    menu: {options: {"1": bye}, timeout: 5s, retries: 0, on_exhausted: bye}
  bye: {play: "asterisk:goodbye", hangup: true}
"""
QUEUE_LINE = """
name: Queue Line
voice: {tts: espeak-ng, voice: en-us, speed: 165}
start: main
nodes:
  main:
    play: "asterisk:pls-hold-while-try"
    queue: {hold: 15s, music: "asterisk-moh:manolo_camp-morning_coffee", then: agent}
  agent:
    agent: {greeting: "Hello, this is Sam. How can I help you?"}
"""
LONG_HOLD_LINE = """
name: Long Hold
start: main
nodes:
  main:
    play: "asterisk:pls-hold-while-try"
    queue: {hold: 20m, music: "asterisk-moh:manolo_camp-morning_coffee", then: main}
"""


def write_scripts(folder: Path) -> dict[str, Path]:
    """Small IVRs and a script for each, by script name."""
    for name, ivr in [
        ("prompt", PROMPT_LINE),
        ("key", KEY_LINE),
        ("queue", QUEUE_LINE),
        ("long", LONG_HOLD_LINE),
    ]:
        (folder / f"{name}-ivr.yaml").write_text(ivr)
    scripts = {
        "wrong prompt": "target: prompt-ivr.yaml\nsteps:\n"
        "  - expect: billing department\n    within: 15s\n",
        "press one": "target: key-ivr.yaml\nsteps:\n  - expect: please hold\n    within: 15s\n"
        '  - press: "1"\n  - expect: goodbye\n  - expect_hangup: {within: 10s}\n',
        "reach sam": "target: queue-ivr.yaml\nsteps:\n  - expect: please hold\n"
        "    within: 15s\n  - hold: {max: 2m}\n  - human: {within: 2m}\n",
        "hang on": "target: long-ivr.yaml\nsteps:\n  - expect: please hold\n"
        "    within: 15s\n  - hold: {max: 30m}\n",
    }
    scripts.update(
        {
            f"prompt {n}": "target: prompt-ivr.yaml\nsteps:\n"
            "  - expect: please hold\n    within: 15s\n"
            "  - expect_hangup: {within: 15s}\n"
            for n in (1, 2, 3)
        }
    )
    paths = {}
    for name, body in scripts.items():
        path = folder / f"{name.replace(' ', '-')}.yaml"
        path.write_text(f"name: {name}\n{body}")
        paths[name] = path
    return paths


def shopper_run(
    tmp_path: Path, config: str, *args: str | Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]]:
    """`shopper run` with `config` as its config file; its results by script name."""
    config_file = tmp_path / "config.toml"
    config_file.write_text(config)
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}"
    run = subprocess.run(
        [*SHOPPER, *map(str, args), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=environment(config_file),
    )
    return run, {result["script"]["name"]: result for result in results(out)}


def start_shopper_run(config_file: Path, *args: str | Path) -> subprocess.Popen[str]:
    """`shopper run` started in its own session (so that a test can signal its whole group),
    with `config_file` as its config file; its output piped."""
    return subprocess.Popen(
        [*SHOPPER, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=environment(config_file),
    )


def environment(config_file: Path) -> dict[str, str]:
    import os

    return {**os.environ, "SHOPPER_CONFIG": str(config_file)}


def results(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in out.glob("*/result.json")]


def verdict(result: Any) -> Any:
    """Everything a call's result says, but when it was dialled and the ids of the call (its
    folder's and the carrier's, in the events): outcome, failure, metrics, steps, transcript,
    events and their media times."""
    if isinstance(result, dict):
        return {k: verdict(v) for k, v in result.items() if k not in ("call_id", "started_at")}
    if isinstance(result, list):
        return [verdict(item) for item in result]
    return result


def test_parallel_calls_on_the_virtual_clock_give_the_results_of_calls_one_by_one(
    tmp_path: Path,
) -> None:
    paths = write_scripts(tmp_path)
    chosen = [paths["wrong prompt"], paths["press one"], paths["reach sam"]]
    chosen.append(SCRIPTS / "failing/busy-call.yaml")
    junit = tmp_path / "junit.xml"
    one_by_one, serial = shopper_run(tmp_path, "", *chosen)
    at_once, parallel = shopper_run(tmp_path, "", *chosen, "--parallel", "3", "--junit", junit)

    assert one_by_one.returncode == at_once.returncode == 1, at_once.stderr
    assert (
        serial.keys() == parallel.keys() == {"wrong prompt", "press one", "reach sam", "Busy line"}
    )
    outcomes = {name: result["outcome"] for name, result in parallel.items()}
    assert outcomes == {
        "wrong prompt": "failed",
        "press one": "passed",
        "reach sam": "passed",
        "Busy line": "failed",
    }
    assert parallel["reach sam"]["metrics"]["time_to_human_s"] is not None
    for name in serial:
        assert verdict(parallel[name]) == verdict(serial[name]), name
    cases = [case.get("name") for case in ElementTree.parse(junit).getroot().iter("testcase")]
    assert cases == ["wrong prompt", "press one", "reach sam", "Busy line"]  # as given


def dialled_s(result: dict[str, Any]) -> float:
    """The dial time, in seconds of the epoch."""
    return datetime.fromisoformat(result["started_at"].replace("Z", "+00:00")).timestamp()


MS = 0.002
"""Slack for the millisecond rounding of dial times and durations in the result files."""


def test_real_time_calls_overlap_within_the_caps_of_their_target(tmp_path: Path) -> None:
    paths = write_scripts(tmp_path)
    chosen = [paths[f"prompt {n}"] for n in (1, 2, 3)]
    run, found = shopper_run(
        tmp_path, "[safety]\ncalls_at_once = 2\n", *chosen, "--parallel", "3", "--realtime"
    )
    assert run.returncode == 0, run.stderr
    calls = sorted(found.values(), key=dialled_s)
    assert [c["outcome"] for c in calls] == ["passed"] * 3
    starts = [dialled_s(c) for c in calls]
    ends = [start + c["metrics"]["duration_s"] for start, c in zip(starts, calls, strict=True)]
    # 1 dial per second per target (the default): dials at least a second apart
    assert starts[1] - starts[0] >= 1 - MS and starts[2] - starts[1] >= 1 - MS
    # the first two were in progress at the same time: the second dialled before the first ended
    assert starts[1] < ends[0]
    # two at once at most: the third waited until one of them had ended (a call's media
    # cannot run ahead of real time, so dial time + media duration is before its hang-up)
    assert starts[2] >= min(ends[0], ends[1]) - MS
    printed = [line.split()[1:] for line in run.stdout.splitlines() if line.startswith("PASSED")]
    assert sorted(map(tuple, printed)) == [("prompt", "1"), ("prompt", "2"), ("prompt", "3")]


def test_ctrl_c_hangs_up_every_call_in_progress_and_dials_no_more(tmp_path: Path) -> None:
    paths = write_scripts(tmp_path)
    out = tmp_path / "out"
    junit = tmp_path / "junit.xml"
    config = tmp_path / "config.toml"
    config.write_text("[safety]\ncalls_at_once = 2\n")
    process = start_shopper_run(
        config,
        *[paths["hang on"]] * 3,  # the third waits for its turn: the target's cap is 2
        "--parallel",
        "3",
        "--realtime",
        "--out",
        out,
        "--junit",
        junit,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.rglob("recording.wav"))) < 2:
        time.sleep(0.2)  # a call's recording starts as it is dialled (its model loaded)
    time.sleep(6)  # both answered (the second dialled a second after the first) and on hold
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    found = results(out)
    assert len(found) == 2, "the two calls in progress, not the one that was never dialled"
    for result in found:
        assert result["script"]["name"] == "hang on"
        assert result["outcome"] == "error"
        assert result["failure"]["message"] == "interrupted by SIGINT"
        assert result["ended_by"] == "tester"
        assert result["metrics"]["duration_s"] > 2
    assert stdout.count("ERROR hang on") == 2
    cases = list(ElementTree.parse(junit).getroot().iter("testcase"))
    assert [case.find("error") is not None for case in cases] == [True, True]
    time.sleep(1)
    assert session_processes(process.pid) == []
