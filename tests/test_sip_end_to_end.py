"""shopper's SIP carrier calling `shopper sandbox serve` over real SIP/RTP on loopback, in real
time: both of shopper's halves, each checked against the other's independent account. The
server runs as a child process and writes each call's truth; shopper's verdicts are compared
with it, never computed from it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from lossy_relay import RelayProcess
from sipserve_peers import REPO, Server

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine
from shopper.audio.frame import TELEPHONY_RATE
from shopper.carriers.base import Sent
from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions
from shopper.results.writer import result_schema
from shopper.scripts.loader import load_script
from shopper.scripts.model import CallScript
from shopper.scripts.runner import run_script

pytestmark = pytest.mark.realtime  # wall-clock bound: CI runs these beside the others

IVRS = Path(__file__).resolve().parent / "data" / "sipserve"
ACME = REPO / "scripts" / "acme"
ACME_MONDAY_MORNING = "2024-05-06T10:00"
"""The Acme script's own `at:` (the bank is open), given to the server as `--at`."""


@pytest.fixture(scope="module")
def engine() -> Iterator[SpeechEngine]:
    yield MoonshineEngine()


def over_sip(script: CallScript, server: Server) -> CallScript:
    """The script as written, dialling the served phone system instead of its sandbox file."""
    return replace(script, carrier="sip", target=f"sip:ivr@127.0.0.1:{server.port}")


def call(
    script: CallScript, engine: SpeechEngine, options: DialOptions | None = None
) -> dict[str, Any]:
    record = asyncio.run(run_script(script, engine, options))
    result: dict[str, Any] = record.result
    jsonschema.validate(result, result_schema())
    return result


def sip_script(folder: Path, name: str, port: int, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f'name: {name}\ncarrier: sip\ntarget: "sip:ivr@127.0.0.1:{port}"\n{body}', encoding="utf-8"
    )
    return path


def only_truth(server: Server) -> dict[str, Any]:
    (path,) = server.truths()
    truth: dict[str, Any] = json.loads(path.read_text())
    return truth


@pytest.mark.slow  # a shopper run process (the speech engine loads) and a 10 s real-time call
def test_keys_shopper_sends_over_sip_reach_the_served_ivr_and_route_the_call(
    tmp_path: Path,
) -> None:
    server = Server(IVRS / "menu.yaml", tmp_path / "truth")
    try:
        script = sip_script(
            tmp_path,
            "press-one",
            server.port,
            # The key goes in while the menu speaks (it accepts keys then): the press does not
            # wait for the speech engine, so a loaded machine cannot make the menu time out.
            'steps:\n  - wait: 1.5s\n  - press: "1"\n  - expect_hangup: {within: 15s}\n',
        )
        run = subprocess.run(
            [sys.executable, "-m", "shopper", "run", "--engine", "moonshine", str(script),
             "--out", str(tmp_path / "calls")],
            capture_output=True, text=True, timeout=300, check=False, cwd=REPO,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )  # fmt: skip
        server.wait_for_calls(1)
    finally:
        server.stop()
    truth = only_truth(server)
    assert [k["digit"] for k in truth["keys"]] == ["1"], run.stdout + run.stderr
    assert [n["node"] for n in truth["nodes"]] == ["main", "sales"]
    assert truth["end"]["by"] == "ivr"
    assert run.returncode == 0, run.stdout + run.stderr
    (path,) = (tmp_path / "calls").glob("*/result.json")
    result = json.loads(path.read_text())
    assert (result["ended_by"], result["end_cause"]) == ("remote", "hangup")
    keys = [e for e in result["events"] if e["type"] == "key"]
    assert [e["digits"] for e in keys] == ["1"]
    # The IVR heard the key (its truth) where shopper says it sent it, give or take the
    # press's own length (the server regenerates the tone when the event ends), the jitter
    # buffer's 80 ms and a loaded machine's scheduling.
    assert abs(truth["keys"][0]["start_s"] - keys[0]["t_s"]) < 1.0


@pytest.mark.slow  # the Acme call is about 75 s of real time
def test_the_acme_billing_script_passes_over_sip_with_the_servers_times(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    """scripts/acme/billing-human.yaml, unchanged but for its target: menus, a key, a hold
    with music and announcements, a person; time to human and hold within 1 s of what the
    served phone system says happened."""
    server = Server(ACME / "ivr.yaml", tmp_path / "truth", "--at", ACME_MONDAY_MORNING)
    try:
        script = over_sip(load_script(ACME / "billing-human.yaml"), server)
        result = call(script, engine)
        server.wait_for_calls(1)
    finally:
        server.stop()
    truth = only_truth(server)
    assert result["outcome"] == "passed", (result["failure"], result["transcript"])
    metrics = result["metrics"]
    true_hold = sum((h["end_s"] or truth["end"]["at_s"]) - h["start_s"] for h in truth["holds"])
    true_time_to_human = truth["agent_first_spoke_s"] - truth["answer"]["answered_s"]
    assert abs(metrics["time_to_human_s"] - true_time_to_human) <= 1.0, (metrics, truth)
    assert abs(metrics["hold_s"] - true_hold) <= 1.0, (metrics, truth)
    assert [k["digit"] for k in truth["keys"]] == ["1", "0"]


FAILING: dict[str, tuple[str, str]] = {
    # the IVR in tests/data/sipserve and the failure kind the result must give
    "busy": ("busy.yaml", "busy"),
    "no-answer": ("ringing.yaml", "no-answer"),
    "not in service": ("intercept.yaml", "sit-tone"),
    "dropped": ("dropped.yaml", "dropped"),
    "dead air": ("dead-air.yaml", "dead-air"),
}
HUMAN_STEPS = (
    "settings: {dead_air: 4s, hold_dead_air: 4s}\n"
    "steps:\n"
    "  - hold: {max: 1m, start_within: 8s}\n"
    "  - human: {within: 1m}\n"
)


@pytest.mark.slow  # real-time calls of up to 20 s each, the speech engine listening
@pytest.mark.parametrize("scenario", FAILING)
def test_a_failing_phone_system_over_sip_fails_with_its_kind(
    scenario: str, tmp_path: Path, engine: SpeechEngine
) -> None:
    ivr, kind = FAILING[scenario]
    server = Server(IVRS / ivr, tmp_path / "truth")
    try:
        path = sip_script(tmp_path, scenario.replace(" ", "-"), server.port, HUMAN_STEPS)
        if kind == "dead-air":  # no hold here: the line goes quiet after the prompt
            path.write_text(path.read_text().replace("  - hold: {max: 1m, start_within: 8s}\n", ""))
        result = call(load_script(path), engine, DialOptions(ring_timeout_s=4.0))
        server.wait_for_calls(1)
    finally:
        server.stop()
    assert result["outcome"] == "failed"
    assert result["failure"]["kind"] == kind, (result["failure"], result["events"])


@pytest.mark.slow  # a real-time call of about 10 s
def test_the_verdict_holds_at_2_percent_loss_and_40_ms_jitter(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    """The menu call through a relay that loses 2 % of the RTP packets each way and delays
    each by 0-80 ms (40 ms ± 40 ms, reordering them): the key still routes the call, the
    prompt is still understood, and the loss shows in the result's RTP figures."""
    server = Server(IVRS / "menu.yaml", tmp_path / "truth")
    relay = RelayProcess(server.port, loss=0.02, jitter_s=0.04)
    try:
        script = sip_script(
            tmp_path,
            "lossy",
            relay.sip_port,
            'steps:\n  - wait: 1.5s\n  - press: "1"\n  - expect_hangup: {within: 15s}\n',
        )
        result = call(load_script(script), engine)
        server.wait_for_calls(1)
    finally:
        relay.stop()
        server.stop()
    truth = only_truth(server)
    assert result["outcome"] == "passed", (result["failure"], relay.counts, truth["nodes"])
    assert [k["digit"] for k in truth["keys"]] == ["1"]
    assert [n["node"] for n in truth["nodes"]] == ["main", "sales"]
    # the whole call went through the relay (~6 s of 50 packets a second each way)
    assert relay.counts.dropped_toward_caller > 0, relay.counts
    assert relay.counts.forwarded > 300, (relay.counts, result)
    heard = " ".join(u["text"] for u in result["transcript"]).lower()
    assert "sales" in heard or "sails" in heard, heard
    rtp = result["metrics"]["rtp"]
    # About 2 %; packets a busy tester takes from its socket too late to play count as lost
    # too, hence the margin.
    assert rtp["lost"] > 0 and rtp["loss_pct"] < 10, rtp
    assert rtp["jitter_ms"] > 5, rtp


def test_in_band_keys_are_decoded_by_the_served_ivr_and_route_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`SHOPPER_SIP_DTMF=inband`: the key is only tones in the audio (no telephone-event goes
    out), and the served phone system's own tone detector hears it where shopper says it
    sent it, and routes by it."""
    monkeypatch.setenv("SHOPPER_SIP_DTMF", "inband")
    server = Server(IVRS / "menu.yaml", tmp_path / "truth")

    async def press() -> tuple[Sent, str | None]:
        placed = await dial(f"sip:ivr@127.0.0.1:{server.port}", "sip", DialOptions())
        call = placed.call
        sent: Sent | None = None
        async for frame in call.frames():
            if sent is None and frame.far.start >= 1.5 * TELEPHONY_RATE:  # the menu speaks
                sent = await call.send_dtmf("1", 0.1, 0.1)
        assert sent is not None
        return sent, call.ended_by

    try:
        sent, ended_by = asyncio.run(press())
        server.wait_for_calls(1)
    finally:
        server.stop()
    truth = only_truth(server)
    assert ended_by == "remote"
    assert [k["digit"] for k in truth["keys"]] == ["1"]
    assert [n["node"] for n in truth["nodes"]] == ["main", "sales"]
    # Heard where it was sent, give or take the detector's and the jitter buffer's delays.
    assert abs(truth["keys"][0]["start_s"] - sent.start / TELEPHONY_RATE) < 0.3
