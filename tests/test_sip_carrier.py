"""The SIP carrier against independent SIP stacks on loopback: SIPp (Debian sip-tester) as a
PBX that challenges, answers, plays a recorded Asterisk prompt and hangs up, that is busy, or
that rings until cancelled; and baresip (Debian baresip-core) auto-answering in a private
network namespace, which reports the RFC 4733 keys shopper sent and sends one back.

SIPp's exit status is its own verdict: 0 only when every message its scenario expects
arrived, so the ACK of a 401 or 486 and the CANCEL of an unanswered call are checked by it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
from sip_peers import (
    PROMPTS,
    REGISTERED_CALL_REQUESTS,
    Sipp,
    registered_call_for_3_s,
    write_pcm_wav,
    write_ulaw_wav,
)

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine
from shopper.audio.frame import FRAME_SAMPLES
from shopper.carriers.base import Call, Sent
from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions, SipOptions
from shopper.results.writer import result_schema
from shopper.scripts.loader import load_script
from shopper.scripts.runner import CallInterrupted, run_script

PROMPT = PROMPTS / "pls-hold-while-try.wav"
"""'Please hold while we try to connect you', 2.4 s."""

pytestmark = [
    pytest.mark.skipif(
        shutil.which("sipp") is None, reason="SIPp (Debian sip-tester) is not installed"
    ),
    pytest.mark.realtime,  # wall-clock bound: CI runs these beside the others
]


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return MoonshineEngine()


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> None:
    """The credentials SIPp's challenge checks, from the environment as a user would."""
    monkeypatch.setenv("SHOPPER_SIP_USER", "tester")
    monkeypatch.setenv("SHOPPER_SIP_PASSWORD", "secret")


def script(folder: Path, uri: str, steps: str) -> Path:
    path = folder / "call.yaml"
    path.write_text(f'name: sip call\ncarrier: sip\ntarget: "{uri}"\nsteps:\n{steps}')
    return path


@pytest.mark.slow
def test_an_authenticated_call_hears_the_prompt_and_the_far_end_hanging_up(
    tmp_path: Path, engine: SpeechEngine, account: None
) -> None:
    prompt = write_ulaw_wav(PROMPT, tmp_path / "prompt.wav")
    sipp = Sipp("uas_auth_play.xml", tmp_path, prompt=str(prompt), hangup_ms="4000")
    steps = (
        '  - expect: {fuzzy: "please hold while we try to connect you", min: 0.7}\n'
        "    within: 8s\n"
        "  - expect_hangup: {within: 10s}\n"
    )
    trace = tmp_path / "sip-trace.txt"
    options = DialOptions(sip=SipOptions(trace=trace))
    record = asyncio.run(
        run_script(load_script(script(tmp_path, sipp.uri, steps)), engine, options)
    )
    assert sipp.finish() == 0, sipp.problems()
    result = record.result
    jsonschema.validate(result, result_schema())
    assert result["outcome"] == "passed", result["failure"]
    assert (result["ended_by"], result["end_cause"], result["signalling"]) == (
        "remote",
        "hangup",
        None,
    )
    heard = " ".join(u["text"] for u in result["transcript"]).lower()
    assert "hold" in heard and "connect" in heard
    types = [e["type"] for e in result["events"]]
    assert types.index("ringing") < types.index("answered") < types.index("ended")
    rtp = result["metrics"]["rtp"]
    assert rtp["packets"] >= 100 and rtp["lost"] == 0  # 2.4 s of 20 ms packets, on loopback
    text = trace.read_text()
    assert "401 Unauthorized" in text and "Authorization: Digest" in text
    assert "response=********" in text and "secret" not in text


@pytest.mark.slow
def test_a_stream_that_stops_while_the_call_is_up_is_dead_air_with_no_rtp(
    tmp_path: Path, engine: SpeechEngine, account: None
) -> None:
    """SIPp stops sending RTP when its prompt ends and keeps the call up: the silence is the
    network's, and the dead air says so."""
    prompt = write_ulaw_wav(PROMPT, tmp_path / "prompt.wav")
    sipp = Sipp("uas_auth_play.xml", tmp_path, prompt=str(prompt), hangup_ms="15000")
    steps = (
        '  - expect: {fuzzy: "please hold while we try to connect you", min: 0.7}\n'
        "    within: 8s\n"
        "  - wait: 10s\n"
    )
    path = script(tmp_path, sipp.uri, steps)
    # The prompt asks the caller to hold, after which the hold's allowance applies: both 3 s.
    path.write_text(path.read_text() + "settings: {dead_air: 3s, hold_dead_air: 3s}\n")
    record = asyncio.run(run_script(load_script(path), engine))
    sipp.finish()
    result = record.result
    jsonschema.validate(result, result_schema())
    assert result["failure"] is not None, result["events"]
    assert result["failure"]["kind"] == "dead-air"
    assert "no RTP" in result["failure"]["message"]
    dead_air = [e for e in result["events"] if e["type"] == "dead-air"]
    assert [e.get("cause") for e in dead_air] == ["no RTP"]
    assert result["metrics"]["rtp"]["longest_gap_s"] > 2.0  # packets came every 20 ms before
    assert (result["ended_by"], result["end_cause"]) == ("tester", "hangup")


def test_a_busy_line_is_busy_with_its_sip_status(tmp_path: Path, engine: SpeechEngine) -> None:
    sipp = Sipp("uas_reject.xml", tmp_path)
    steps = '  - expect: "welcome"\n    within: 10s\n'
    record = asyncio.run(run_script(load_script(script(tmp_path, sipp.uri, steps)), engine))
    assert sipp.finish() == 0, sipp.problems()  # it got the ACK of its 486
    result = record.result
    jsonschema.validate(result, result_schema())
    assert result["failure"]["kind"] == "busy"
    assert "SIP 486 Busy Here" in result["failure"]["message"]
    assert (result["ended_by"], result["end_cause"]) == ("remote", "busy")
    assert (result["signalling"]["code"], result["signalling"]["reason"]) == (486, "Busy Here")


def test_an_unanswered_call_is_cancelled_and_is_no_answer(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    sipp = Sipp("uas_ring_forever.xml", tmp_path)
    steps = '  - expect: "welcome"\n    within: 30s\n'
    options = DialOptions(ring_timeout_s=2.0)
    record = asyncio.run(
        run_script(load_script(script(tmp_path, sipp.uri, steps)), engine, options)
    )
    assert sipp.finish() == 0, sipp.problems()  # CANCEL, then the ACK of its 487
    result = record.result
    assert result["failure"]["kind"] == "no-answer"
    assert result["end_cause"] == "no-answer"
    assert 2.0 <= result["metrics"]["duration_s"] < 3.0
    assert "ringing" in [e["type"] for e in result["events"]]


def test_an_interrupted_call_is_cancelled(tmp_path: Path, engine: SpeechEngine) -> None:
    """Ctrl-C while it rings: the runner's hang-up path sends CANCEL, and the record is kept."""
    sipp = Sipp("uas_ring_forever.xml", tmp_path)
    steps = '  - expect: "welcome"\n    within: 30s\n'
    loaded = load_script(script(tmp_path, sipp.uri, steps))

    async def interrupt() -> None:
        call = asyncio.create_task(run_script(loaded, engine))
        await asyncio.sleep(1.0)
        call.cancel("interrupted by SIGINT")
        with pytest.raises(CallInterrupted) as stopped:
            await call
        assert stopped.value.record.result["outcome"] == "error"

    asyncio.run(interrupt())
    assert sipp.finish() == 0, sipp.problems()


@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip-core is not installed")
@pytest.mark.skipif(
    shutil.which("unshare") is None or os.geteuid() != 0,
    reason="a private network namespace for baresip needs unshare and root",
)
@pytest.mark.slow  # a real-time call of about 8 s, in a namespace of its own
def test_baresip_decodes_the_keys_shopper_sends_and_shopper_hears_its_key(
    tmp_path: Path,
) -> None:
    prompt = write_pcm_wav(PROMPT, tmp_path / "prompt.wav", pad_s=8.0)
    helper = Path(__file__).parent / "sip_netns_call.py"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        ["unshare", "-n", sys.executable, str(helper), str(tmp_path / "baresip"), str(prompt),
         "12#"],
        capture_output=True, text=True, timeout=60, env=environment, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.splitlines()[-1])
    received = [e["param"] for e in summary["events"] if e.get("type") == "CALL_DTMF_START"]
    assert received == ["1", "2", "#"], summary["baresip_log"][-2000:]
    assert summary["far_keys"] == ["7"]
    assert summary["signals"][:2] == ["Ringing", "Answered"]
    assert summary["loud_frames"] > 50  # the prompt was heard (2.4 s of speech)


def test_a_re_invite_to_sendonly_and_back_is_hold_then_resume(tmp_path: Path) -> None:
    """The far end puts the call on hold and takes it off (re-INVITEs): shopper answers both
    (SIPp checks the 200 OKs) and the engine hears each at its media time."""
    sipp = Sipp("uas_hold.xml", tmp_path)

    async def listen() -> list[tuple[str, float]]:
        placed = await dial(sipp.uri, "sip", DialOptions())
        heard: list[tuple[str, float]] = []
        async for frame in placed.call.frames():
            heard += [(type(s).__name__, s.t / 8000) for s in frame.signals]
        assert placed.call.ended_by == "remote"
        media = ("MediaStopped", "MediaResumed")  # this SIPp sends no RTP at all
        heard = [(name, t) for name, t in heard if name not in media]
        return heard

    heard = asyncio.run(listen())
    assert sipp.finish() == 0, sipp.problems()
    assert [name for name, _ in heard] == ["Answered", "FarEndHold", "FarEndResume"]
    held, resumed = heard[1][1], heard[2][1]
    assert 0.9 <= resumed - held <= 1.5  # SIPp waits 1 s between its two re-INVITEs


def test_early_media_is_heard_before_a_404(tmp_path: Path) -> None:
    """An announcement as early media (183 with SDP), then 404: the audio is heard before
    any answer, on the call's media time, and the call ends unreachable with its SIP code."""
    prompt = write_ulaw_wav(PROMPT, tmp_path / "prompt.wav")
    sipp = Sipp("uas_early_media_404.xml", tmp_path, prompt=str(prompt))

    async def listen() -> tuple[list[str], int, Call]:
        placed = await dial(sipp.uri, "sip", DialOptions())
        signals: list[str] = []
        loud = 0
        async for frame in placed.call.frames():
            signals += [type(s).__name__ for s in frame.signals]
            loud += int(abs(frame.far.samples).max() > 500)
        return signals, loud, placed.call

    signals, loud, call = asyncio.run(listen())
    assert sipp.finish() == 0, sipp.problems()  # it got the ACK of its 404
    assert signals[0] == "EarlyMedia" and "Answered" not in signals
    assert loud > 50  # most of the 2.4 s prompt, at 20 ms a frame
    assert (call.ended_by, call.end_cause) == ("remote", "no-route")
    assert call.end_status is not None and call.end_status.code == 404


@pytest.mark.slow  # a shopper run process: the speech engine loads
def test_shopper_run_writes_the_sip_trace_and_the_status(tmp_path: Path) -> None:
    sipp = Sipp("uas_reject.xml", tmp_path)
    trace = tmp_path / "trace.txt"
    run = subprocess.run(
        [sys.executable, "-m", "shopper", "run", "--engine", "moonshine",
         str(script(tmp_path, sipp.uri, '  - expect: "welcome"\n')),
         "--out", str(tmp_path / "calls"), "--sip-trace", str(trace)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert sipp.finish() == 0, sipp.problems()
    assert run.returncode == 1, run.stderr
    assert "busy" in run.stdout
    (result,) = (tmp_path / "calls").glob("*/result.json")
    assert json.loads(result.read_text())["signalling"]["code"] == 486
    text = trace.read_text()
    assert text.count("----- ") == 4  # INVITE, 180, 486, ACK
    assert "SIP/2.0 486 Busy Here" in text and "\nACK sip:ivr@127.0.0.1" in text


@pytest.mark.parametrize(
    ("password", "code", "named"),
    [
        ("wrong", 403, "rejected the credentials of user 'tester'"),
        (None, 401, "asks for credentials and none are configured"),
    ],
)
def test_rejected_or_missing_credentials_are_auth_failed_naming_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str | None, code: int, named: str
) -> None:
    monkeypatch.setenv("SHOPPER_SIP_USER", "tester")
    if password is not None:
        monkeypatch.setenv("SHOPPER_SIP_PASSWORD", password)
    prompt = write_ulaw_wav(PROMPT, tmp_path / "prompt.wav")
    sipp = Sipp("uas_auth_play.xml", tmp_path, prompt=str(prompt), hangup_ms="4000")

    async def place() -> Call:
        placed = await dial(sipp.uri, "sip", DialOptions())
        async for _ in placed.call.frames():
            pass
        return placed.call

    call = asyncio.run(place())
    if password is None:
        sipp.stop()  # it waits for an authenticated INVITE that cannot come
    else:
        assert sipp.finish() == 0, sipp.problems()  # the 403 was ACKed
    assert call.end_cause == "auth-failed"
    assert call.end_status is not None and call.end_status.code == code
    assert named in call.end_status.detail


def test_calls_go_through_the_outbound_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `[sip] proxy`, the INVITE for a host shopper cannot even resolve goes to the proxy
    (SIPp here), with a loose Route to it; what the proxy answers ends the call."""
    sipp = Sipp("uas_reject.xml", tmp_path)
    monkeypatch.setenv("SHOPPER_SIP_PROXY", f"127.0.0.1:{sipp.port}")
    trace = tmp_path / "trace.txt"

    async def place() -> Call:
        options = DialOptions(sip=SipOptions(trace=trace))
        placed = await dial("sip:ivr@pbx.invalid", "sip", options)
        async for _ in placed.call.frames():
            pass
        return placed.call

    call = asyncio.run(place())
    assert sipp.finish() == 0, sipp.problems()
    assert call.end_cause == "busy"
    text = trace.read_text()
    assert "INVITE sip:ivr@pbx.invalid SIP/2.0" in text
    assert f"Route: <sip:127.0.0.1:{sipp.port};lr>" in text


def test_keys_go_as_sip_info_when_the_pbx_wants_them_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`SHOPPER_SIP_DTMF=info` against a PBX that offers no telephone-event: each key is one
    INFO with an application/dtmf-relay body, sent when its frame goes out (SIPp receives
    them a tone and a gap apart), and the recording's tester channel still holds its tone."""
    monkeypatch.setenv("SHOPPER_SIP_DTMF", "info")
    sipp = Sipp("uas_info_keys.xml", tmp_path)

    async def press() -> tuple[Sent, float]:
        placed = await dial(sipp.uri, "sip", DialOptions())
        call = placed.call
        sent: Sent | None = None
        loud_near = 0
        async for frame in call.frames():
            if sent is None and any(type(s).__name__ == "Answered" for s in frame.signals):
                sent = await call.send_dtmf("12#", 0.1, 0.1)
            elif sent is not None and frame.far.start >= sent.end + 4000:
                await call.hangup()
            if sent is not None and sent.start <= frame.far.start < sent.end:
                loud_near += int(abs(frame.near).max() > 1000)
        assert sent is not None, "the call was never answered"
        return sent, loud_near * FRAME_SAMPLES / sent.samples

    sent, tone_fraction = asyncio.run(press())
    assert sipp.finish() == 0, sipp.problems()  # three INFOs with the content type, then BYE
    log = sipp.messages.read_text()
    bodies = re.findall(r"^INFO .*?\r?\n\r?\n(Signal=.*?Duration=\d+)", log, re.M | re.S)
    assert [b.split() for b in bodies] == [
        ["Signal=1", "Duration=100"],
        ["Signal=2", "Duration=100"],
        ["Signal=#", "Duration=100"],
    ]
    assert (sent.end - sent.start) == 3 * 1600  # three keys of 100 ms tone and 100 ms gap
    arrived = [
        datetime.fromisoformat(stamp).timestamp()
        for stamp in re.findall(r"^-+ (\S+ \S+)\n.*received.*\n\nINFO ", log, re.M)
    ]
    apart = [b - a for a, b in itertools.pairwise(arrived)]
    assert len(apart) == 2 and all(0.1 < gap < 0.3 for gap in apart), apart  # 0.2 s each
    assert 0.4 <= tone_fraction <= 0.6  # the tones on the tester channel, half of the time


def test_a_registered_call_registers_refreshes_and_unregisters(
    tmp_path: Path, account: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`SHOPPER_SIP_REGISTER=true` against SIPp as PBX and registrar: the REGISTER answers
    its 401 with a digest SIPp checks, comes before the INVITE, is refreshed before the 2 s
    the registrar granted run out, and is removed (Expires: 0) after the BYE; the trace
    masks the credentials."""
    monkeypatch.setenv("SHOPPER_SIP_REGISTER", "true")
    sipp = Sipp("uas_registrar.xml", tmp_path, calls=2)
    trace = tmp_path / "trace.txt"

    call = asyncio.run(registered_call_for_3_s(sipp.uri, trace))
    assert sipp.finish() == 0, sipp.problems()  # every REGISTER authenticated, in order
    assert (call.ended_by, call.end_cause) == ("tester", "hangup")
    received = sipp.requests_received()
    assert received == REGISTERED_CALL_REQUESTS, received
    log = sipp.messages.read_text()
    expires = re.findall(r"^Expires: (\d+)", log, re.M)
    assert expires[-2:] == ["0", "0"]  # the last REGISTER and its 200 OK: the binding is gone
    text = trace.read_text()
    assert text.count("REGISTER sip:127.0.0.1") == 6 and "response=********" in text
    assert "secret" not in text


def test_a_registration_refused_is_auth_failed_before_any_invite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPPER_SIP_REGISTER", "true")
    monkeypatch.setenv("SHOPPER_SIP_USER", "tester")
    monkeypatch.setenv("SHOPPER_SIP_PASSWORD", "wrong-one")
    sipp = Sipp("uas_registrar.xml", tmp_path, calls=2)
    placed = asyncio.run(dial(sipp.uri, "sip", DialOptions()))
    sipp.stop()  # its call half waits for an INVITE that must not come
    refused = placed.failed
    assert refused is not None and refused.cause == "auth-failed"
    assert placed.call.end_cause == "auth-failed"
    assert refused.status is not None and refused.status.code == 403
    assert "rejected the credentials of user 'tester'" in refused.detail
    assert "wrong-one" not in refused.detail
    assert "INVITE sip:" not in sipp.messages.read_text()
