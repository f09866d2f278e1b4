"""Forged requests to shopper's Twilio server while a real call runs through the emulator:
status callbacks and stream handshakes with a wrong or missing `X-Twilio-Signature`, or a
token that names no call, are refused and logged without secrets, and the call the emulator
placed goes on as if nothing had happened: its key reaches the IVR, the IVR's hang-up ends it,
and its price is in the result."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType
from test_twilio_e2e import ACCOUNT, DATA, TOKEN, point_shopper_at

from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions
from shopper.carriers.signals import Answered
from shopper.carriers.twilio import runtime
from shopper.carriers.twilio.call import TwilioCall
from shopper.carriers.twilio.runtime import close_twilio
from shopper.carriers.twilio.signature import SIGNATURE_HEADER, sign
from shopper.sandbox.loader import load_ivr
from shopper.sandbox.render import SoundBank
from shopper.sandbox.twilio.server import EmulatorSettings, ServedIvr, TwilioEmulator
from shopper.sandbox.twilio.signature import Credentials

pytestmark = pytest.mark.realtime  # wall-clock bound: CI runs these beside the others

MENU = "+15550100301"
FORGED = "Zm9yZ2Vk"


async def forge(status_url: str, stream_url: str, call_sid: str) -> list[int | str]:
    """What shopper's server answered each forgery: HTTP statuses, or how a stream ended."""
    fields = {"AccountSid": ACCOUNT, "CallSid": call_sid, "CallStatus": "completed"}
    unknown = status_url.rsplit("/", 1)[0] + "/not-a-call"
    posts = [
        (status_url, {SIGNATURE_HEADER: FORGED}),  # a made-up signature
        (status_url, {}),  # none at all
        (status_url, {SIGNATURE_HEADER: sign("not-" + TOKEN, status_url, fields)}),  # wrong key
        (unknown, {SIGNATURE_HEADER: sign(TOKEN, unknown, fields)}),  # signed, but no such call
    ]
    answers: list[int | str] = []
    async with aiohttp.ClientSession() as session:
        for url, headers in posts:
            async with session.post(url, data=fields, headers=headers) as response:
                answers.append(response.status)
        try:
            await session.ws_connect(stream_url, headers={SIGNATURE_HEADER: FORGED})
        except aiohttp.WSServerHandshakeError as refused:
            answers.append(refused.status)
        headers = {SIGNATURE_HEADER: sign(TOKEN, stream_url, {})}
        async with session.ws_connect(stream_url, headers=headers) as stream:
            start = {"streamSid": "MZ1", "customParameters": {"token": "guessed"}}
            await stream.send_json({"event": "start", "streamSid": "MZ1", "start": start})
            ended = await stream.receive(timeout=5)
            answers.append(f"closed {ended.data}" if ended.type == WSMsgType.CLOSE else "open")
    return answers


async def test_forged_requests_are_refused_and_the_real_call_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    definition = load_ivr(DATA / "twilioemu" / "menu.yaml")
    (tmp_path / "truth").mkdir()
    emulator = TwilioEmulator(
        {MENU: ServedIvr(definition, SoundBank(definition))},
        Credentials(ACCOUNT, TOKEN, {}),
        EmulatorSettings(truth_dir=tmp_path / "truth"),
    )
    port = await emulator.start("127.0.0.1", 0)
    environment = point_shopper_at(f"http://127.0.0.1:{port}", tmp_path / "state")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(runtime, "_SWEPT", set())
    stream_url = environment["SHOPPER_TWILIO_PUBLIC_URL"].replace("http", "ws") + "/twilio/stream"
    answers: list[int | str] = []
    try:
        placed = await dial(MENU, "twilio", DialOptions(ring_timeout_s=4, max_duration_s=30))
        assert isinstance(placed.call, TwilioCall), placed.failed
        call = placed.call
        sid = call.carrier_report.call_sid or ""
        status_url = emulator.calls[sid].request.status_callback or ""  # as a sniffer saw it
        async for frame in call.frames():
            if any(isinstance(signal, Answered) for signal in frame.signals):
                answers = await forge(status_url, stream_url, sid)
                assert call.ended_by is None  # the forged "completed" changed nothing
                await call.send_dtmf("1")  # sales: "Sales. Goodbye." and the IVR hangs up
    finally:
        await close_twilio()
        await emulator.stop()
    assert answers == [403, 403, 403, 404, 403, "closed 1008"]
    # The real call: its key reached the IVR, which hung up; Twilio's status and price came.
    (truth_file,) = (tmp_path / "truth").glob("*.json")
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    assert [(key["digit"], key["action"]) for key in truth["keys"]] == [("1", "accepted")]
    assert [node["node"] for node in truth["nodes"]] == ["main", "sales"]
    assert truth["end"]["by"] == "ivr"
    assert (call.ended_by, call.end_cause) == ("remote", "hangup")
    report = call.carrier_report
    assert (report.status, report.price_unit) == ("completed", "USD")
    assert report.price is not None and report.price > 0
    # Each refusal is one log line naming the endpoint, without the token or the call's token.
    refusals = [
        record.getMessage()
        for record in caplog.records
        if record.name == "shopper.carriers.twilio.server"
    ]
    assert len(refusals) == 6, refusals
    assert sum("status callback" in line for line in refusals) == 4, refusals
    assert sum("media stream" in line for line in refusals) == 2, refusals
    call_token = status_url.rsplit("/", 1)[1]
    for record in caplog.records:
        for secret in (TOKEN, call_token, FORGED):
            assert secret not in record.getMessage(), record.getMessage()
