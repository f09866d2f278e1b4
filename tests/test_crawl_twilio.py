"""`shopper crawl +NUMBER` through Twilio, as a user runs it against the emulator
(`shopper sandbox serve IVR --twilio`): two lines at once behind shopper's one server and
public URL. What the crawl draws is compared with the emulator's own account of each call
(its truth files, its REST answers), never with the IVR file; Ctrl-C hangs every call in
progress up through the REST API."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_crawl_interrupts import wait_for_no_process
from test_twilio_e2e import TOKEN, Emulator, point_shopper_at, rest_client, start_emulator

from shopper.carriers.twilio.ledger import LEDGER_FILE, CallLedger

pytestmark = pytest.mark.realtime  # wall-clock bound: CI runs these beside the others

REPO = Path(__file__).resolve().parent.parent
NUMBER = "+15550100100"
HUNG_UP = "hung up: the crawl was stopped"
QUEUE_SHOP = """\
name: Queue shop
voice: {tts: flite, voice: kal, speed: 160}
start: main
nodes:
  main:
    say: "For sales, press 1. For support, press 2."
    menu: {options: {"1": queue, "2": queue}, timeout: 10s, retries: 0, on_exhausted: bye}
  queue: {queue: {hold: 10m}}
  bye: {say: "Goodbye.", hangup: true}
"""
"""A first call that ends in seconds, then two keys that lead to a long hold: both calls
after the first are still up when Ctrl-C comes. The menu waits long enough for the
recogniser's text on a loaded machine (docs/crawl.md, "The recogniser's lag")."""


def crawl_command(target: str, out: Path) -> list[str]:
    """`shopper crawl` as a user runs it: two lines, only the keys the menus offer."""
    return [sys.executable, "-m", "shopper", "crawl", target, "--engine", "moonshine",
            "--lines", "2", "--try-keys", "", "--out", str(out)]  # fmt: skip


def serve(ivr: Path, tmp_path: Path) -> tuple[Emulator, dict[str, str]]:
    """The emulator answering any number with `ivr`, and the environment that points a
    shopper process at it."""
    emulator = start_emulator(["serve", str(ivr), "--twilio", "127.0.0.1:0"], tmp_path / "truth")
    environment = os.environ | point_shopper_at(emulator.base_url, tmp_path / "state")
    return emulator, environment | {"PYTHONPATH": str(REPO)}


def ends_by_key(truths: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The keys the emulator's IVR received on its calls, each with the last nodes it
    visited on the calls where that was the only key."""
    ends: dict[str, set[str]] = {}
    for truth in truths:
        keys = "".join(key["digit"] for key in truth["keys"])
        ends.setdefault(keys, set()).add(truth["nodes"][-1]["node"])
    return ends


def dial_gaps(truths: list[dict[str, Any]]) -> list[float]:
    """Seconds between one call's dial and the next, by the emulator's clock."""
    starts = sorted(datetime.fromisoformat(truth["now"]) for truth in truths)
    return [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]


def overlapped(truths: list[dict[str, Any]]) -> bool:
    """Whether two of the calls were up at the same time (wall clock, by the emulator)."""
    spans = sorted(
        (start, start + timedelta(seconds=truth["end"]["at_s"]))
        for truth in truths
        for start in [datetime.fromisoformat(truth["now"])]
    )
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


@pytest.mark.slow  # a crawl process (the speech engine loads) and 4 real-time calls, ~45 s
def test_a_crawl_through_twilio_maps_the_menu_with_two_lines_behind_one_public_url(
    tmp_path: Path,
) -> None:
    emulator, environment = serve(REPO / "tests" / "data" / "sipserve" / "crawl.yaml", tmp_path)
    out = tmp_path / "crawl"
    try:
        run = subprocess.run(
            crawl_command(NUMBER, out), env=environment, capture_output=True, text=True,
            timeout=400, check=False, cwd=REPO,
        )  # fmt: skip
        statuses = twilio_statuses(emulator, out)
    finally:
        printed = emulator.stop()
    said = run.stdout + run.stderr
    assert run.returncode in (0, 1), said  # passed or failed the policy; 2 is an error
    crawl_map = json.loads((out / "map.json").read_text(encoding="utf-8"))
    assert crawl_map["complete"], said
    truths = [json.loads(path.read_text()) for path in emulator.truth_dir.glob("*.json")]
    assert len(truths) == crawl_map["calls"] >= 3, said
    assert overlapped(truths), "the two lines never had a call up at once"
    # One process, so one pacing for the number: dials at most once a second (the default),
    # lines or not (a REST round trip moves the emulator's stamp by a few tens of ms).
    assert min(dial_gaps(truths)) > 0.9, dial_gaps(truths)
    # The emulator routed the crawl's keys to both of its places...
    ends = ends_by_key(truths)
    assert (ends["1"], ends["2"]) == ({"sales"}, {"support"}), ends
    # ...and the map has the menu, with the two keys leading to two places of their own.
    nodes = {node["id"]: node for node in crawl_map["nodes"]}
    (menu,) = [node for node in nodes.values() if node["kind"] == "menu"]
    leads = {option["key"]: option["to"] for option in menu["options"]}
    assert {"1", "2"} <= leads.keys() and leads["1"] != leads["2"], menu
    for key in ("1", "2"):
        assert nodes[leads[key]]["path"] == [key] and nodes[leads[key]]["kind"] != "menu"
    # Each call's evidence has what Twilio said about it, price included; no secret anywhere.
    assert len(statuses) == crawl_map["calls"], said
    for report, status in statuses:
        assert report["status"] == status == "completed", report
        assert report["price"] > 0 and report["price_unit"] == "USD", report
    assert TOKEN not in said + printed
    for path in out.rglob("*"):
        assert not path.is_file() or TOKEN.encode() not in path.read_bytes(), path


@pytest.mark.slow  # a crawl process, a short call, then two calls cut short
def test_ctrl_c_hangs_up_every_call_of_a_twilio_crawl_through_the_rest_api(
    tmp_path: Path,
) -> None:
    ivr = tmp_path / "shop.yaml"
    ivr.write_text(QUEUE_SHOP)
    emulator, environment = serve(ivr, tmp_path)
    client = rest_client(emulator)
    ledger = CallLedger(Path(environment["SHOPPER_STATE_DIR"]) / LEDGER_FILE)
    out = tmp_path / "crawl"
    try:
        process = subprocess.Popen(
            crawl_command(NUMBER, out), env=environment, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=REPO,
        )  # fmt: skip
        up = calls_up(ledger, client, process)
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        stdout, stderr = process.communicate(timeout=120)
        statuses = {sid: client.calls(sid).fetch().status for sid in up}
    finally:
        emulator.stop()
    assert process.returncode == 130, stdout + stderr
    assert "INCOMPLETE: interrupted by SIGINT" in stdout
    assert statuses == dict.fromkeys(up, "completed")
    for sid in up:
        assert emulator.truth(sid)["end"]["reason"] == "REST update Status=completed"
    hung_up = [
        result
        for path in out.glob("calls/*/result.json")
        for result in [json.loads(path.read_text())]
        if result["carrier_call"]["call_sid"] in up
    ]
    assert [result["failure"]["message"] for result in hung_up] == [HUNG_UP, HUNG_UP]
    assert ledger.entries() == []
    assert wait_for_no_process(process.pid) == []  # no speech worker outlives shopper


def twilio_statuses(emulator: Emulator, out: Path) -> list[tuple[dict[str, Any], str]]:
    """Each call's `carrier_call` in the crawl's evidence, with its status as the emulator's
    REST API gives it."""
    client = rest_client(emulator)
    reports = [json.loads(p.read_text())["carrier_call"] for p in out.glob("calls/*/result.json")]
    return [(report, client.calls(report["call_sid"]).fetch().status) for report in reports]


def calls_up(ledger: CallLedger, client: Any, crawl: subprocess.Popen[str]) -> set[str]:
    """The SIDs of the two calls of the ledger once the emulator says both are answered."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and crawl.poll() is None:
        sids = {entry.call_sid for entry in ledger.entries()}
        if len(sids) == 2 and all(
            client.calls(sid).fetch().status == "in-progress" for sid in sids
        ):
            return sids
        time.sleep(0.2)
    crawl.kill()
    raise AssertionError(f"two calls were never up at once: {crawl.communicate()}")
