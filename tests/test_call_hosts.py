"""`shopper run --processes K`: calls spread over call host processes (shopper.hosts.pool).
On the virtual clock they give exactly the results of one process; in real time the target's
caps hold across the hosts (the parent takes every turn), Ctrl-C hangs up the calls of every
host and keeps their evidence, and a host killed under its call is a one-line error that
leaves the other host's call hung up and kept. Real processes, small sandbox IVRs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from proc_table import live_processes, session_processes, spawned_children
from test_cli_run_parallel import (
    MS,
    SHOPPER,
    dialled_s,
    environment,
    results,
    shopper_run,
    start_shopper_run,
    verdict,
    write_scripts,
)

from shopper.audio.frame import TELEPHONY_RATE

pytestmark = pytest.mark.slow


def hosts_with_speech(shopper_pid: int) -> list[int]:
    """The call hosts of a shopper process that have started their speech workers (a host
    starts them when its first call has something to hear)."""
    parents = {process.parent for process in live_processes()}
    return [host.pid for host in spawned_children(shopper_pid) if host.pid in parents]


def start_hold_calls(tmp_path: Path, count: int) -> tuple[subprocess.Popen[str], Path]:
    """`count` long holds, two at once at most per target, over two hosts, in real time;
    returns once two calls are under way in two hosts."""
    paths = write_scripts(tmp_path)
    out = tmp_path / "out"
    config = tmp_path / "config.toml"
    config.write_text("[safety]\ncalls_at_once = 2\n")
    process = start_shopper_run(
        config,
        *[paths["hang on"]] * count,
        "--parallel",
        str(count),
        "--processes",
        "2",
        "--realtime",
        "--out",
        out,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(hosts_with_speech(process.pid)) < 2:
        time.sleep(0.5)
    assert len(hosts_with_speech(process.pid)) == 2, "each host has a call to hear"
    while time.monotonic() < deadline and calls_under_way(out) < 2:
        time.sleep(0.2)  # a loaded machine's calls lag the wall clock: wait on their own media
    assert calls_under_way(out) == 2, "two calls recorded their first seconds"
    return process, out


UNDER_WAY_S = 2.5
"""Seconds of its own audio a call has recorded before the test counts it under way."""


def calls_under_way(out: Path) -> int:
    """Calls whose recording (streamed into their folder every half second: stereo 16-bit
    at 8 kHz after a 44-byte header) holds UNDER_WAY_S of audio or more."""
    under_way = 0
    for recording in out.rglob("recording.wav"):
        with contextlib.suppress(OSError):
            seconds = (recording.stat().st_size - 44) / (TELEPHONY_RATE * 4)
            under_way += seconds >= UNDER_WAY_S
    return under_way


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Its output once it has ended; killed with its group if it does not end in time."""
    try:
        return process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise


def test_two_hosts_give_the_results_of_one_process_on_the_virtual_clock(tmp_path: Path) -> None:
    paths = write_scripts(tmp_path)
    chosen = [paths["wrong prompt"], paths["press one"], paths["reach sam"]]
    one, here = shopper_run(tmp_path, "", *chosen, "--parallel", "3")
    two, hosted = shopper_run(
        tmp_path, "", *chosen, "--parallel", "3", "--processes", "2", "--recall-across-calls"
    )
    assert one.returncode == two.returncode == 1, two.stderr  # "wrong prompt" fails
    assert "(2 call hosts)" in two.stdout
    assert hosted.keys() == here.keys() == {"wrong prompt", "press one", "reach sam"}
    assert hosted["reach sam"]["metrics"]["time_to_human_s"] is not None
    for name, result in hosted.items():
        assert verdict(result) == verdict(here[name]), name


def test_ctrl_c_hangs_up_the_calls_of_every_host_under_the_targets_caps(tmp_path: Path) -> None:
    process, out = start_hold_calls(tmp_path, 3)  # the third waits: the target's cap is 2
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: hosts and workers too
    stdout, stderr = finish(process)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    found = sorted(results(out), key=dialled_s)
    assert len(found) == 2, "the two calls in progress, not the one that was never dialled"
    for result in found:
        assert result["outcome"] == "error"
        assert result["failure"]["message"] == "interrupted by SIGINT"
        assert result["ended_by"] == "tester"
        assert result["metrics"]["duration_s"] > 2
    assert (out / found[0]["call_id"] / "recording.wav").stat().st_size > 8000 * 4 * 2
    # 1 dial a second per target (the default) although each host dialled one of them
    assert dialled_s(found[1]) - dialled_s(found[0]) >= 1 - MS
    assert stdout.count("ERROR hang on") == 2
    time.sleep(1)
    assert session_processes(process.pid) == []


def test_a_killed_host_is_a_one_line_error_and_the_other_call_is_kept(tmp_path: Path) -> None:
    process, out = start_hold_calls(tmp_path, 2)
    killed = hosts_with_speech(process.pid)[0]
    os.kill(killed, signal.SIGKILL)
    stdout, stderr = finish(process)
    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr and stdout.count("ERROR hang on") == 1
    (line,) = [line for line in stderr.splitlines() if "ended unexpectedly" in line]
    assert f"(pid {killed}) ended unexpectedly (killed by SIGKILL)" in line
    (kept,) = results(out)  # the call of the host that was killed left no result
    assert kept["outcome"] == "error"
    assert kept["failure"]["message"].startswith("hung up: another call failed")
    assert kept["ended_by"] == "tester"
    assert json.loads((out / kept["call_id"] / "transcript.json").read_text())
    time.sleep(1)
    assert session_processes(process.pid) == []


def test_twilio_scripts_are_refused_in_one_line_before_any_call(tmp_path: Path) -> None:
    script = tmp_path / "twilio.yaml"
    script.write_text(
        'name: x\ntarget: "+1 555 010 0000"\ncarrier: twilio\nsteps: [{hangup: true}]\n'
    )
    twilio = {
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "SHOPPER_TWILIO_FROM": "+15550109999",
        "SHOPPER_TWILIO_PUBLIC_URL": "https://tunnel.example.com",
    }
    run = subprocess.run(
        [*SHOPPER, str(script), "--processes", "2", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(tmp_path / "no-config.toml") | twilio,
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "--processes 2: Twilio calls" in run.stderr
    assert not (tmp_path / "out").exists()
