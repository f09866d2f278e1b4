"""The SIP carrier over TCP against SIPp (Debian sip-tester) in its single-connection TCP mode
(`-t t1`) on loopback: the scenarios of tests/test_sip_carrier.py, with SIPp only hearing
TCP. SIPp's exit status is its verdict on every message it expected (the ACK of a 401 or 486
included); the trace shows what went over the connection.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from sip_peers import (
    PROMPTS,
    REGISTERED_CALL_REQUESTS,
    Sipp,
    free_tcp_port,
    registered_call_for_3_s,
    write_ulaw_wav,
)
from sipserve_peers import Server

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.carriers.base import Call, Placed
from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions, SipOptions
from shopper.results.writer import result_schema
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

IVRS = Path(__file__).resolve().parent / "data" / "sipserve"
PROMPT = PROMPTS / "pls-hold-while-try.wav"
"""'Please hold while we try to connect you', 2.4 s."""

pytestmark = [
    pytest.mark.skipif(
        shutil.which("sipp") is None, reason="SIPp (Debian sip-tester) is not installed"
    ),
    pytest.mark.realtime,  # wall-clock bound: CI runs these beside the others
]


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPPER_SIP_USER", "tester")
    monkeypatch.setenv("SHOPPER_SIP_PASSWORD", "secret")


async def call_through(target: str, options: DialOptions) -> Call:
    """Dial and take every frame until the call ends."""
    placed = await dial(target, "sip", options)
    async for _ in placed.call.frames():
        pass
    return placed.call


def assert_tcp_only(trace: str) -> None:
    """Every message went over TCP, each request shopper sent says so in its Via, and each
    Contact it sent asks for TCP; no request was sent twice (no retransmission over TCP)."""
    headers = re.findall(r"^----- .*$", trace, re.M)
    assert headers and all(line.endswith("(TCP)") for line in headers), headers
    sent = re.split(r"^----- ", trace, flags=re.M)
    ours = [m for m in sent if ": sent to " in m.split("\n", 1)[0]]
    requests = [m for m in ours if not m.split("\n", 2)[1].startswith("SIP/2.0")]
    assert requests and all("Via: SIP/2.0/TCP " in m for m in requests), requests
    contacts = re.findall(r"^Contact: (.*)$", "".join(ours), re.M)
    assert all(c.endswith(";transport=tcp>") for c in contacts), contacts
    vias = re.findall(r"^Via: .*branch=([^;\s]+)", "".join(requests), re.M)
    starts = [m.split("\n", 2)[1].split()[0] for m in requests]
    assert len(set(zip(vias, starts, strict=True))) == len(vias), "a request was resent"


@pytest.mark.slow  # the speech engine transcribes the prompt
def test_an_authenticated_call_over_tcp_hears_the_prompt_and_the_far_end_hanging_up(
    tmp_path: Path, account: None
) -> None:
    prompt = write_ulaw_wav(PROMPT, tmp_path / "prompt.wav")
    sipp = Sipp("uas_auth_play.xml", tmp_path, tcp=True, prompt=str(prompt), hangup_ms="4000")
    script = tmp_path / "call.yaml"
    script.write_text(
        f'name: sip over tcp\ncarrier: sip\ntarget: "{sipp.uri};transport=tcp"\nsteps:\n'
        '  - expect: {fuzzy: "please hold while we try to connect you", min: 0.7}\n'
        "    within: 8s\n"
        "  - expect_hangup: {within: 10s}\n"
    )
    trace = tmp_path / "sip-trace.txt"
    options = DialOptions(sip=SipOptions(trace=trace))
    record = asyncio.run(run_script(load_script(script), MoonshineEngine(), options))
    assert sipp.finish() == 0, sipp.problems()  # the 401 was ACKed, the digest checked
    result = record.result
    jsonschema.validate(result, result_schema())
    assert result["outcome"] == "passed", result["failure"]
    assert (result["ended_by"], result["end_cause"]) == ("remote", "hangup")
    heard = " ".join(u["text"] for u in result["transcript"]).lower()
    assert "hold" in heard and "connect" in heard
    assert result["metrics"]["rtp"]["packets"] >= 100
    text = trace.read_text()
    assert "401 Unauthorized" in text and "response=********" in text
    assert "secret" not in text
    assert "\nBYE sip:" in text  # SIPp's BYE came in over the same connection, and was answered
    assert_tcp_only(text)


def test_a_busy_line_over_tcp_is_busy_and_its_486_acked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[sip] transport = "tcp"` in the config file, for a target that names no transport."""
    config = tmp_path / "config.toml"
    config.write_text('[sip]\ntransport = "tcp"\n')
    monkeypatch.setenv("SHOPPER_CONFIG", str(config))
    sipp = Sipp("uas_reject.xml", tmp_path, tcp=True)
    trace = tmp_path / "trace.txt"
    call = asyncio.run(call_through(sipp.uri, DialOptions(sip=SipOptions(trace=trace))))
    assert sipp.finish() == 0, sipp.problems()  # it got the ACK of its 486
    assert (call.ended_by, call.end_cause) == ("remote", "busy")
    assert call.end_status is not None and call.end_status.code == 486
    assert_tcp_only(trace.read_text())


def test_the_outbound_proxy_over_tcp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The target's `;transport=tcp` chooses TCP to the outbound proxy its INVITE goes to."""
    sipp = Sipp("uas_reject.xml", tmp_path, tcp=True)
    monkeypatch.setenv("SHOPPER_SIP_PROXY", f"127.0.0.1:{sipp.port}")
    trace = tmp_path / "trace.txt"
    options = DialOptions(sip=SipOptions(trace=trace))
    call = asyncio.run(call_through("sip:ivr@pbx.invalid;transport=tcp", options))
    assert sipp.finish() == 0, sipp.problems()
    assert call.end_cause == "busy"
    text = trace.read_text()
    assert "INVITE sip:ivr@pbx.invalid;transport=tcp SIP/2.0" in text
    assert f"Route: <sip:127.0.0.1:{sipp.port};lr>" in text
    assert_tcp_only(text)


def test_a_registered_call_over_tcp(
    tmp_path: Path, account: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REGISTER (challenged, refreshed when the 2 s granted run out, removed after the BYE)
    and the call on the one connection."""
    monkeypatch.setenv("SHOPPER_SIP_REGISTER", "true")
    monkeypatch.setenv("SHOPPER_SIP_TRANSPORT", "tcp")
    sipp = Sipp("uas_registrar.xml", tmp_path, calls=2, tcp=True)
    trace = tmp_path / "trace.txt"

    call = asyncio.run(registered_call_for_3_s(sipp.uri, trace))
    assert sipp.finish() == 0, sipp.problems()
    assert (call.ended_by, call.end_cause) == ("tester", "hangup")
    received = sipp.requests_received()
    assert received == REGISTERED_CALL_REQUESTS, received
    assert_tcp_only(trace.read_text())


def test_a_refused_connection_is_a_dial_failure_at_once() -> None:
    """Nothing listens on the port: over TCP that is known at once (over UDP only the 32 s
    of Timer B would tell)."""
    port = free_tcp_port()

    async def place() -> Placed:
        return await dial(f"sip:ivr@127.0.0.1:{port};transport=tcp", "sip", DialOptions())

    placed = asyncio.run(place())
    assert placed.failed is not None and placed.failed.cause == "refused"
    assert f"cannot connect to 127.0.0.1:{port} over TCP" in placed.failed.detail


@pytest.mark.slow  # a served IVR (a child process) and a real-time call of about 8 s
def test_shopper_calls_the_served_sandbox_over_tcp_hears_it_presses_and_is_routed(
    tmp_path: Path,
) -> None:
    """`shopper sandbox serve --sip` answers TCP as well as UDP: the menu is heard, the key
    (RFC 4733) routes the call (the server's truth), and the IVR's BYE after "Sales. Goodbye."
    ends it, all of the signalling over TCP."""
    server = Server(IVRS / "menu.yaml", tmp_path / "truth")
    script = tmp_path / "call.yaml"
    script.write_text(
        "name: menu over tcp\ncarrier: sip\n"
        f'target: "sip:ivr@127.0.0.1:{server.port};transport=tcp"\nsteps:\n'
        '  - expect: {fuzzy: "for sales press one", min: 0.6}\n'
        "    within: 6s\n"
        '  - press: "1"\n'
        "  - expect_hangup: {within: 8s}\n"
    )
    trace = tmp_path / "trace.txt"
    options = DialOptions(sip=SipOptions(trace=trace))
    try:
        record = asyncio.run(run_script(load_script(script), MoonshineEngine(), options))
        server.wait_for_calls(1)
    finally:
        server.stop()
    (path,) = server.truths()
    truth = json.loads(path.read_text())
    assert [k["digit"] for k in truth["keys"]] == ["1"]
    assert [n["node"] for n in truth["nodes"]] == ["main", "sales"]
    assert truth["end"]["by"] == "ivr"
    result = record.result
    assert result["outcome"] == "passed", (result["failure"], result["transcript"])
    assert (result["ended_by"], result["end_cause"]) == ("remote", "hangup")
    text = trace.read_text()
    assert "\nBYE sip:" in text  # the served IVR hung up over the call's connection
    assert_tcp_only(text)
