"""`shopper crawl sip:...` mapping `shopper sandbox serve` over real SIP/RTP on loopback, in
real time: the map the crawl draws from what it heard is compared with the server's own
account of each call (its truth files: the keys it received and the nodes it visited).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sipserve_peers import REPO, SCENARIOS, Server
from test_call_hosts import hosts_with_speech
from test_cli_run_parallel import LONG_HOLD_LINE

pytestmark = pytest.mark.realtime  # wall-clock bound: CI runs these beside the others


def crawl(target: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`shopper crawl` as a user runs it: one line, only the keys the menus offer."""
    return subprocess.run(
        [sys.executable, "-m", "shopper", "crawl", target, "--engine", "moonshine",
         "--lines", "1", "--try-keys", "", "--out", str(out), *extra],
        capture_output=True, text=True, timeout=400, check=False, cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )  # fmt: skip


def read_json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def ends_by_key(server: Server) -> dict[str, set[str]]:
    """The keys the server received on its calls, each with the last nodes it visited on
    the calls where that was the only key."""
    ends: dict[str, set[str]] = {}
    for path in server.truths():
        truth = read_json(path)
        keys = "".join(k["digit"] for k in truth["keys"])
        ends.setdefault(keys, set()).add(truth["nodes"][-1]["node"])
    return ends


def heard_on_calls(out: Path) -> list[list[str]]:
    """What each of the crawl's calls heard, with the times and RTP figures: the evidence a
    failure message needs to tell a garbled menu from lost audio or a late recogniser."""
    heard = []
    for path in sorted(out.glob("calls/*/result.json")):
        result = read_json(path)
        rtp = result["metrics"].get("rtp")
        said = [f"{u['start_s']}-{u['end_s']} {u['text']}" for u in result["transcript"]]
        heard.append([f"rtp {rtp}", *said])
    return heard


@pytest.mark.slow  # a crawl process (the speech engine loads) and 4 real-time calls, ~1 min
def test_a_crawl_over_sip_maps_the_menu_and_both_places_the_server_went_to(
    tmp_path: Path,
) -> None:
    server = Server(SCENARIOS / "crawl.yaml", tmp_path / "truth")
    try:
        out, trace = tmp_path / "crawl", tmp_path / "sip-trace.txt"
        run = crawl(f"sip:ivr@127.0.0.1:{server.port}", out, "--sip-trace", str(trace))
        crawl_map = read_json(out / "map.json")
        server.wait_for_calls(crawl_map["calls"])
    finally:
        server.stop()
    said = run.stdout + run.stderr
    assert run.returncode in (0, 1), said  # passed or failed the policy; 2 is an error
    assert crawl_map["complete"], said
    assert len(server.truths()) == crawl_map["calls"], said
    # The server routed the crawl's keys to both of its places...
    ends = ends_by_key(server)
    heard = heard_on_calls(out)
    assert {"1", "2"} <= ends.keys(), (ends, crawl_map["nodes"], heard)
    assert (ends["1"], ends["2"]) == ({"sales"}, {"support"}), (ends, heard)
    # ...and the map has the menu, with the two keys leading to two places of their own.
    nodes = {node["id"]: node for node in crawl_map["nodes"]}
    (menu,) = [node for node in nodes.values() if node["kind"] == "menu"]
    leads = {option["key"]: option["to"] for option in menu["options"]}
    assert {"1", "2"} <= leads.keys(), menu
    assert leads["1"] != leads["2"], menu
    for key in ("1", "2"):
        place = nodes[leads[key]]
        assert place["path"] == [key], place
        assert place["kind"] != "menu", place
    # The progress of each path as it ended, and the calls' evidence without the sandbox's
    # answer key (a SIP call has none), and the SIP messages for a PBX administrator.
    assert f"{menu['id']} key 1:" in run.stdout, said
    assert list(out.glob("calls/*/result.json")), said
    assert not list(out.glob("calls/*/sandbox-truth.json"))
    assert trace.read_text(encoding="utf-8").count("INVITE sip:ivr@127.0.0.1") >= crawl_map["calls"]


@pytest.mark.slow  # a crawl process and one real-time call
def test_a_crawl_over_sip_stops_at_its_call_seconds_budget(tmp_path: Path) -> None:
    server = Server(SCENARIOS / "crawl.yaml", tmp_path / "truth")
    try:
        out = tmp_path / "crawl"
        run = crawl(f"sip:ivr@127.0.0.1:{server.port}", out, "--max-call-seconds", "1")
        crawl_map = read_json(out / "map.json")
        server.wait_for_calls(crawl_map["calls"])
    finally:
        server.stop()
    said = run.stdout + run.stderr
    # The first call is placed (the budget is not spent yet), then nothing more: the keys
    # of the menu it found are left unexplored for the budget.
    assert crawl_map["calls"] == len(server.truths()) == 1, said
    assert crawl_map["call_seconds"] > 1, said
    reasons = {item["reason"] for item in crawl_map["unexplored"]}
    assert reasons == {"max call seconds (1 s) reached"}, crawl_map["unexplored"]


@pytest.mark.slow  # a crawl process (the speech engine loads) and a real-time call, ~20 s
def test_a_dead_lines_sip_call_is_hung_up_by_shopper(tmp_path: Path) -> None:
    """A line killed under its SIP call cannot hang up: the crawl ends that call itself with
    a BYE, from the leg the line reported, so the far end does not keep a dead caller's
    dialog until its session timer; the server's truth says the caller ended it."""
    ivr = tmp_path / "long-ivr.yaml"
    ivr.write_text(LONG_HOLD_LINE)
    server = Server(ivr, tmp_path / "truth")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "shopper", "crawl", f"sip:ivr@127.0.0.1:{server.port}",
             "--engine", "moonshine", "--lines", "1", "--out", str(tmp_path / "crawl")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
            start_new_session=True, env=dict(os.environ, PYTHONPATH=str(REPO)),
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not hosts_with_speech(process.pid):
            time.sleep(0.5)
        (line,) = hosts_with_speech(process.pid)  # a line that hears its call
        while time.monotonic() < deadline and not list(tmp_path.glob("crawl/calls/*/*.wav")):
            time.sleep(0.2)  # a call's recording starts as it is dialled (its model loaded)
        time.sleep(4)  # answered: the hold announcement plays
        os.kill(line, signal.SIGKILL)
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        server.wait_for_calls(1)
    finally:
        server.stop()
    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr, stderr
    (said,) = [line for line in stderr.splitlines() if "ended unexpectedly" in line]
    assert "hung up with a BYE" in said and "(200 OK)" in said, said
    (truth,) = server.truths()
    assert read_json(truth)["end"]["by"] == "caller", server.stdout
