"""Ctrl-C, SIGTERM and SIGKILL during `shopper crawl`: the calls in progress are hung up
through the carrier, what the finished calls learned is written (map, findings, page) marked
incomplete, the exit code names the signal, and no child process outlives shopper: not the
lines, not their speech workers, not multiprocessing's resource tracker. Real processes, real
signals."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from proc_table import session_processes, spawned_children

pytestmark = pytest.mark.slow

MAP_SCHEMA = Path(__file__).parent.parent / "shopper" / "crawl" / "schema" / "map.schema.json"
SLOW_SHOP = """\
name: Slow Shop
voice: {tts: espeak-ng, voice: en-us, speed: 165}
start: main
answer: {after: 1s}
nodes:
  main:
    say: "Slow shop. For sales, press 1. For support, press 2."
    menu: {options: {"1": queue, "2": queue}, timeout: 3s, retries: 0, on_exhausted: bye}
  queue:
    queue: {hold: 20m, music: "asterisk-moh:manolo_camp-morning_coffee", then: agent}
  agent:
    agent: {greeting: "Hello, this is Sam."}
  bye: {say: "Goodbye.", hangup: true}
"""
"""A first call that ends in seconds, then keys that lead to a long hold: the calls after the
first are still in progress when the signal comes."""
HUNG_UP = "hung up: the crawl was stopped"
SHOPPER = [sys.executable, "-m", "shopper", "crawl", "--engine", "moonshine"]


def start_crawl(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, list[str]]:
    """`shopper crawl` in a session of its own, once its first call is learned and the next
    ones are placed (it prints the first call's progress line right before placing them); the
    lines printed so far."""
    ivr = tmp_path / "shop.yaml"
    ivr.write_text(SLOW_SHOP)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [*SHOPPER, str(ivr), "--out", str(out), "--lines", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    printed: list[str] = []
    while not any(line.startswith("  dial:") for line in printed):
        line = process.stdout.readline()
        assert line, f"shopper ended before its first call: {printed}"
        printed.append(line)
    time.sleep(1)  # the next calls are dialled
    return process, out, printed


def calls(out: Path) -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
    """Every call folder's result and sandbox ground truth, by call id; no truth for a call
    stopped while it was being dialled (dialling is async: the sandbox had not answered)."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    for folder in (out / "calls").iterdir():
        truth = folder / "sandbox-truth.json"
        found[folder.name] = (
            json.loads((folder / "result.json").read_text()),
            json.loads(truth.read_text()) if truth.is_file() else None,
        )
    return found


def wait_for_no_process(session: int) -> list[str]:
    deadline = time.monotonic() + 20
    while session_processes(session) and time.monotonic() < deadline:
        time.sleep(0.2)
    return session_processes(session)


@pytest.mark.parametrize(
    ("sent", "code", "to_group"),
    [
        pytest.param(signal.SIGINT, 130, True, id="ctrl-c"),  # a terminal signals the group
        pytest.param(signal.SIGTERM, 143, False, id="kill"),  # `kill PID`: shopper alone
    ],
)
def test_a_signal_writes_the_map_so_far_and_leaves_no_process(
    tmp_path: Path, sent: signal.Signals, code: int, to_group: bool
) -> None:
    process, out, printed = start_crawl(tmp_path)
    if to_group:
        os.killpg(process.pid, sent)
        time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sent)  # impatient: a second Ctrl-C changes nothing
    else:
        process.send_signal(sent)
    stdout, stderr = process.communicate(timeout=120)
    stdout = "".join(printed) + stdout
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    assert "interrupted" in stderr
    reason = f"interrupted by {sent.name}"
    assert f"INCOMPLETE: {reason}" in stdout

    crawl_map = json.loads((out / "map.json").read_text())
    jsonschema.validate(crawl_map, json.loads(MAP_SCHEMA.read_text()))
    assert crawl_map["complete"] is False and crawl_map["stopped"] == reason
    found = calls(out)
    cited = {item["call_id"] for node in crawl_map["nodes"] for item in node["evidence"]}
    assert cited and cited <= found.keys()
    assert all(found[call_id][0]["failure"] is None for call_id in cited)
    menu = crawl_map["nodes"][0]
    _, truth = found[menu["evidence"][0]["call_id"]]
    assert truth is not None, "a call the map cites was placed"
    assert menu["kind"] == "menu" and [n["node"] for n in truth["nodes"]] == ["main"]
    assert {o["key"] for o in menu["options"] if o["offered"]} == {"1", "2"}
    unreached = {item["key"] for item in crawl_map["unexplored"] if item["reason"] == reason}
    assert {"1", "2"} <= unreached

    hung_up = [call for call in found.values() if call[0]["failure"] is not None]
    assert hung_up and len(hung_up) + len(cited) == len(found)
    for result, truth in hung_up:
        assert result["failure"] == {"kind": "error", "step": None, "message": HUNG_UP}
        if truth is None:  # stopped while dialling: never placed, nothing to hang up
            assert result["ended_by"] is None
        else:
            assert truth["end"]["by"] == "caller" and truth["end"]["cause"] == "hangup"

    page = (out / "index.html").read_text()
    assert "verdict incomplete" in page and f"Incomplete: {reason}" in page
    assert wait_for_no_process(process.pid) == []


def test_killed_outright_leaves_no_process(tmp_path: Path) -> None:
    process, _, _ = start_crawl(tmp_path)
    assert len(session_processes(process.pid)) >= 4  # shopper, its lines, their workers
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    assert wait_for_no_process(process.pid) == []


def lines_of(shopper_pid: int) -> list[int]:
    """The crawl's line processes (multiprocessing spawns them; its resource tracker too)."""
    return [line.pid for line in spawned_children(shopper_pid)]


def test_a_line_that_dies_stops_the_crawl_with_its_map_so_far(tmp_path: Path) -> None:
    """A line killed under its call (the OOM killer, say): the crawl stops as for a signal,
    with a one-line error and exit code 2, never a hang (a line that died waiting for the
    word to hang up once made that word wait for it forever, Ctrl-C included)."""
    process, out, _ = start_crawl(tmp_path)
    os.kill(lines_of(process.pid)[0], signal.SIGKILL)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr, stderr
    (line,) = [line for line in stderr.splitlines() if "ended unexpectedly" in line]
    assert line.startswith("shopper: a crawl line's process ended unexpectedly")
    crawl_map = json.loads((out / "map.json").read_text())
    jsonschema.validate(crawl_map, json.loads(MAP_SCHEMA.read_text()))
    assert crawl_map["complete"] is False and "ended unexpectedly" in crawl_map["stopped"]
    assert crawl_map["nodes"][0]["kind"] == "menu", "the first call's menu is kept"
    assert wait_for_no_process(process.pid) == []
