"""The Twilio emulator (`shopper sandbox twilio`) driven by the official `twilio` client, as
shopper's Twilio carrier and users' own tests drive it: calls created through the REST API
reach sandbox IVRs in real time, status callbacks arrive in order signed as Twilio signs them
(checked with the official validator), and a WebSocket server standing in for the caller's
media server hears the IVR over Media Streams and presses keys in-band. The sandbox's truth
says what the IVR heard and did.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from typer.testing import CliRunner

from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.g711 import ulaw_decode, ulaw_encode
from shopper.cli.main import app
from shopper.sandbox.loader import load_ivr
from shopper.sandbox.render import SoundBank, render_sound
from shopper.sandbox.twilio.pricing import DEFAULT_RATE
from shopper.sandbox.twilio.server import EmulatorSettings, ServedIvr, TwilioEmulator
from shopper.sandbox.twilio.signature import Credentials

DATA = Path(__file__).resolve().parent / "data"
ACCOUNT = "AC" + "0" * 31 + "1"
TOKEN = "test-auth-token-not-a-secret"
MENU = "+15550100001"
BUSY = "+15550100002"
NO_ANSWER = "+15550100003"
CALLER = "+15550109999"

pytestmark = [
    pytest.mark.realtime,  # wall-clock bound: CI runs these beside the others
    # twilio 9.13's AsyncTwilioHttpClient passes aiohttp.BasicAuth as `auth`, both deprecated
    # in aiohttp 3.14.
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]


@dataclass
class MediaServer:
    """The caller's side: status callbacks and the Media Streams WebSocket."""

    base: str = ""
    callbacks: list[dict[str, str]] = field(default_factory=list)
    bad_signatures: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    socket: asyncio.Future[web.WebSocketResponse] | None = None
    twiml: str = "<Response/>"
    completed: asyncio.Event = field(default_factory=asyncio.Event)

    async def status(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        url = f"{self.base}/status"
        if not RequestValidator(TOKEN).validate(url, form, request.headers["X-Twilio-Signature"]):
            self.bad_signatures.append(f"callback {form.get('CallStatus')}")
        self.callbacks.append(form)
        if form["CallStatus"] in ("completed", "busy", "no-answer", "failed", "canceled"):
            self.completed.set()
        return web.Response()

    async def serve_twiml(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        if not RequestValidator(TOKEN).validate(
            f"{self.base}/twiml", form, request.headers["X-Twilio-Signature"]
        ):
            self.bad_signatures.append("TwiML request")
        return web.Response(text=self.twiml, content_type="application/xml")

    async def media(self, request: web.Request) -> web.WebSocketResponse:
        url = self.base.replace("http://", "ws://") + "/media"
        if not RequestValidator(TOKEN).validate(url, {}, request.headers["X-Twilio-Signature"]):
            self.bad_signatures.append("websocket handshake")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        assert self.socket is not None
        self.socket.set_result(socket)
        async for message in socket:
            self.messages.append(json.loads(message.data))
        return socket

    def heard(self) -> Samples:
        """The IVR's audio so far, from the `media` messages."""
        payloads = [m["media"]["payload"] for m in self.messages if m["event"] == "media"]
        return ulaw_decode(b"".join(base64.b64decode(payload) for payload in payloads))


async def _refuse(request: web.Request) -> web.Response:
    return web.Response(status=403)


@pytest.fixture
async def media_server() -> AsyncIterator[MediaServer]:
    server = MediaServer(socket=asyncio.get_running_loop().create_future())
    app = web.Application()
    app.router.add_post("/status", server.status)
    app.router.add_get("/media", server.media)
    app.router.add_post("/twiml", server.serve_twiml)
    app.router.add_get("/refuse", _refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield server
    await runner.cleanup()


@pytest.fixture(scope="module")
def ivrs() -> dict[str, ServedIvr]:
    """The numbers' IVRs, their sounds rendered once for the module."""
    served = {}
    for number, name in (
        (MENU, "twilioemu/menu.yaml"),
        (BUSY, "sipserve/busy.yaml"),
        (NO_ANSWER, "sipserve/ringing.yaml"),
    ):
        definition = load_ivr(DATA / name)
        served[number] = ServedIvr(definition, SoundBank(definition))
    return served


@pytest.fixture
async def emulator(
    ivrs: dict[str, ServedIvr], tmp_path: Path
) -> AsyncIterator[tuple[TwilioEmulator, str]]:
    settings = EmulatorSettings(truth_dir=tmp_path, caller_ids=frozenset({CALLER}))
    emulator = TwilioEmulator(
        ivrs, Credentials(ACCOUNT, TOKEN, {"SK" + "1" * 32: "key-secret"}), settings
    )
    port = await emulator.start("127.0.0.1", 0)
    yield emulator, f"http://127.0.0.1:{port}"
    await emulator.stop()


def _client(base_url: str, user: str = ACCOUNT, password: str = TOKEN) -> Client:
    client = Client(user, password, account_sid=ACCOUNT, http_client=AsyncTwilioHttpClient())
    client.api.base_url = base_url
    return client


def _truth(folder: Path) -> dict[str, Any]:
    files = sorted(folder.glob("*.json"))
    assert len(files) == 1, files
    truth: dict[str, Any] = json.loads(files[0].read_text())
    return truth


def _similarity(received: Samples, prompt: Samples) -> float:
    """Peak normalised cross-correlation of the prompt's first second of sound with what was
    received: near 1 only when the received audio is that prompt."""
    start = int(np.argmax(np.abs(prompt) > 500))
    probe = prompt[start : start + TELEPHONY_RATE].astype(np.float64)
    signal = received.astype(np.float64)
    dots = np.correlate(signal, probe, mode="valid")
    energy = np.convolve(signal**2, np.ones(len(probe)), mode="valid")
    norms = np.sqrt(np.maximum(energy, 1e-9)) * float(np.linalg.norm(probe))
    return float(np.max(dots / norms))


async def _send_audio(socket: web.WebSocketResponse, sid: str, samples: Samples, mark: str) -> None:
    """Audio as shopper's media server sends it (20 ms μ-law `media` messages), then a mark."""
    for offset in range(0, len(samples), 160):
        payload = base64.b64encode(ulaw_encode(samples[offset : offset + 160]).tobytes()).decode()
        media = {"event": "media", "streamSid": sid, "media": {"payload": payload}}
        await socket.send_str(json.dumps(media))
    await socket.send_str(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": mark}}))


def _mark_index(server: MediaServer, name: str) -> int | None:
    for index, message in enumerate(server.messages):
        if message["event"] == "mark" and message["mark"]["name"] == name:
            return index
    return None


def _media_between(server: MediaServer, first: int, last: int | None) -> int:
    """How many 20 ms frames of the IVR the emulator sent between two messages."""
    return sum(message["event"] == "media" for message in server.messages[first:last])


async def _wait_for(condition: Any, seconds: float) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_streamed_call_hears_the_ivr_routes_an_in_band_key_and_hangs_up(
    emulator: tuple[TwilioEmulator, str], media_server: MediaServer, tmp_path: Path
) -> None:
    _, base_url = emulator
    client = _client(base_url, "SK" + "1" * 32, "key-secret")
    stream_url = media_server.base.replace("http://", "ws://") + "/media"
    twiml = (
        f'<Response><Connect><Stream url="{stream_url}">'
        '<Parameter name="token" value="call-42"/></Stream></Connect></Response>'
    )
    call = await client.calls.create_async(
        to=MENU,
        from_=CALLER,
        twiml=twiml,
        status_callback=f"{media_server.base}/status",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        timeout=20,
    )
    assert call.status == "queued" and call.sid.startswith("CA")
    assert media_server.socket is not None
    socket = await asyncio.wait_for(media_server.socket, 10)

    # 1.5 s of the prompt, then the key 2 in-band (μ-law, as shopper sends it) and a mark.
    await _wait_for(lambda: len(media_server.heard()) >= 1.5 * TELEPHONY_RATE, 10)
    prompt_heard = media_server.heard()
    sid = media_server.messages[1]["streamSid"]
    keys = np.concatenate([dtmf_sequence("2", 0.1), np.zeros(800, dtype=np.int16)])
    sent_at = len(media_server.messages)
    await _send_audio(socket, sid, keys, "key-2")
    await _wait_for(lambda: _mark_index(media_server, "key-2") is not None, 5)
    # The mark comes back once the 0.2 s queued before it has been played: 10 frames later.
    assert _media_between(media_server, sent_at, _mark_index(media_server, "key-2")) >= 9

    # `clear` drops 3 s of queued audio and gives back its mark at once.
    sent_at = len(media_server.messages)
    await _send_audio(socket, sid, np.zeros(3 * TELEPHONY_RATE, dtype=np.int16), "dropped")
    await socket.send_str(json.dumps({"event": "clear", "streamSid": sid}))
    await _wait_for(lambda: _mark_index(media_server, "dropped") is not None, 5)
    assert _media_between(media_server, sent_at, _mark_index(media_server, "dropped")) < 50
    await asyncio.sleep(1.0)
    fetched = await client.calls(call.sid).fetch_async()
    assert fetched.status == "in-progress"
    await client.calls(call.sid).update_async(status="completed")
    await asyncio.wait_for(media_server.completed.wait(), 10)
    await client.http_client.close()

    # Media Streams: connected, start with the custom parameters, 20 ms μ-law media, stop.
    events = [message["event"] for message in media_server.messages]
    assert events[:2] == ["connected", "start"] and events[-1] == "stop"
    start = media_server.messages[1]["start"]
    assert start["callSid"] == call.sid and start["customParameters"] == {"token": "call-42"}
    assert start["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    media = [message for message in media_server.messages if message["event"] == "media"]
    assert [m["media"]["chunk"] for m in media[:3]] == ["1", "2", "3"]
    assert [m["media"]["timestamp"] for m in media[:3]] == ["0", "20", "40"]
    assert all(len(base64.b64decode(m["media"]["payload"])) == 160 for m in media)
    sequence = [int(message["sequenceNumber"]) for message in media_server.messages[1:]]
    assert sequence == list(range(1, len(sequence) + 1))
    marks = [m["mark"]["name"] for m in media_server.messages if m["event"] == "mark"]
    assert marks == ["key-2", "dropped"]
    definition = load_ivr(DATA / "twilioemu" / "menu.yaml")
    main_prompt = definition.nodes["main"].sound
    other_prompt = definition.nodes["support"].sound
    assert main_prompt is not None and other_prompt is not None
    assert _similarity(prompt_heard, render_sound(main_prompt, definition.voice)) > 0.8
    assert _similarity(prompt_heard, render_sound(other_prompt, definition.voice)) < 0.5

    # The truth: the key reached the IVR and routed it; the REST hang-up ended the call.
    truth = _truth(tmp_path)
    assert [node["node"] for node in truth["nodes"]] == ["main", "support"]
    assert [(key["digit"], key["action"]) for key in truth["keys"]] == [("2", "accepted")]
    assert truth["end"]["by"] == "caller"

    # Status callbacks: all four, in order, signed, the last with the call's duration.
    assert media_server.bad_signatures == []
    statuses = [callback["CallStatus"] for callback in media_server.callbacks]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    assert [c["SequenceNumber"] for c in media_server.callbacks] == ["0", "1", "2", "3"]
    assert all(c["CallSid"] == call.sid and c["To"] == MENU for c in media_server.callbacks)
    talked_s = truth["end"]["at_s"] - truth["answer"]["answered_s"]
    assert int(media_server.callbacks[-1]["CallDuration"]) == round(talked_s)
    assert len(media) == pytest.approx(talked_s * 50, abs=3)


async def test_keys_sent_by_a_call_update_with_play_digits_route_the_ivr(
    emulator: tuple[TwilioEmulator, str], media_server: MediaServer, tmp_path: Path
) -> None:
    """The `dtmf: twiml` path: a one-way `<Start><Stream>` from TwiML fetched from a Url,
    then `<Play digits>` in a call update; the stream goes on through the update until the
    IVR hangs up."""
    _, base_url = emulator
    client = _client(base_url)
    stream_url = media_server.base.replace("http://", "ws://") + "/media"
    media_server.twiml = (
        f'<Response><Start><Stream url="{stream_url}"/></Start><Pause length="30"/></Response>'
    )
    call = await client.calls.create_async(
        to=MENU, from_=CALLER, url=f"{media_server.base}/twiml",
        status_callback=f"{media_server.base}/status",
    )  # fmt: skip
    assert media_server.socket is not None
    await asyncio.wait_for(media_server.socket, 10)
    await _wait_for(lambda: len(media_server.heard()) >= 1.0 * TELEPHONY_RATE, 10)
    await client.calls(call.sid).update_async(
        twiml='<Response><Play digits="w1"/><Pause length="30"/></Response>'
    )
    await asyncio.wait_for(media_server.completed.wait(), 10)  # "Sales. Goodbye." and hang up
    fetched = await client.calls(call.sid).fetch_async()
    await client.http_client.close()
    assert fetched.status == "completed"
    # Billed per started minute from answer, at the emulator's made-up rate, as Twilio reports
    # a charge: negative, five decimals, with its currency.
    minutes = max(1, math.ceil(int(fetched.duration) / 60))
    assert (fetched.price, fetched.price_unit) == (f"{-DEFAULT_RATE * minutes:.5f}", "USD")

    truth = _truth(tmp_path)
    assert truth["end"]["by"] == "ivr"
    assert [node["node"] for node in truth["nodes"]] == ["main", "sales"]
    assert [(key["digit"], key["action"]) for key in truth["keys"]] == [("1", "accepted")]
    assert media_server.bad_signatures == []
    events = [message["event"] for message in media_server.messages]
    assert events.count("start") == 1 and events[-1] == "stop"
    talked_s = truth["end"]["at_s"] - truth["answer"]["answered_s"]
    assert events.count("media") == pytest.approx(talked_s * 50, abs=3)


@pytest.mark.parametrize(
    ("to", "status", "sip_response_code"),
    [(BUSY, "busy", "486"), (NO_ANSWER, "no-answer", "487"), ("+15550100404", "failed", "404")],
)
async def test_lines_that_do_not_answer_end_as_twilio_reports_them(
    emulator: tuple[TwilioEmulator, str],
    media_server: MediaServer,
    to: str,
    status: str,
    sip_response_code: str,
) -> None:
    _, base_url = emulator
    client = _client(base_url)
    call = await client.calls.create_async(
        to=to, from_=CALLER, twiml="<Response><Pause length='5'/></Response>",
        status_callback=f"{media_server.base}/status", timeout=1,
    )  # fmt: skip
    await asyncio.wait_for(media_server.completed.wait(), 10)
    fetched = await client.calls(call.sid).fetch_async()
    await client.http_client.close()
    assert (fetched.status, fetched.price) == (status, None)  # never answered: not billed
    assert [(c["CallStatus"], c.get("SipResponseCode")) for c in media_server.callbacks] == [
        (status, sip_response_code)
    ]
    assert media_server.bad_signatures == []


async def test_a_ringing_call_hung_up_through_the_api_is_canceled(
    emulator: tuple[TwilioEmulator, str], media_server: MediaServer, tmp_path: Path
) -> None:
    _, base_url = emulator
    client = _client(base_url)
    call = await client.calls.create_async(
        to=NO_ANSWER, from_=CALLER, twiml="<Response><Pause length='5'/></Response>",
        status_callback=f"{media_server.base}/status",
        status_callback_event=["ringing", "completed"],
    )  # fmt: skip
    await _wait_for(lambda: len(media_server.callbacks) == 1, 5)
    await client.calls(call.sid).update_async(status="completed")
    await asyncio.wait_for(media_server.completed.wait(), 10)
    await client.http_client.close()
    assert [c["CallStatus"] for c in media_server.callbacks] == ["ringing", "canceled"]
    truth = _truth(tmp_path)
    assert truth["answer"]["answered_s"] is None and truth["end"]["by"] == "caller"


async def test_the_time_limit_ends_an_answered_call(
    emulator: tuple[TwilioEmulator, str], media_server: MediaServer, tmp_path: Path
) -> None:
    _, base_url = emulator
    client = _client(base_url)
    await client.calls.create_async(
        to=MENU, from_=CALLER, twiml="<Response><Pause length='30'/></Response>",
        status_callback=f"{media_server.base}/status", time_limit=1,
    )  # fmt: skip
    await asyncio.wait_for(media_server.completed.wait(), 10)
    await client.http_client.close()
    truth = _truth(tmp_path)
    assert (truth["end"]["by"], truth["end"]["reason"]) == ("caller", "time limit")
    assert truth["end"]["at_s"] - truth["answer"]["answered_s"] == pytest.approx(1.0, abs=0.03)
    assert [(c["CallStatus"], c["CallDuration"]) for c in media_server.callbacks] == [
        ("completed", "1")
    ]


async def test_a_stream_whose_server_refuses_the_handshake_is_skipped_as_on_twilio(
    emulator: tuple[TwilioEmulator, str], media_server: MediaServer, tmp_path: Path
) -> None:
    _, base_url = emulator
    client = _client(base_url)
    refused = media_server.base.replace("http://", "ws://") + "/refuse"
    await client.calls.create_async(
        to=MENU, from_=CALLER, status_callback=f"{media_server.base}/status",
        twiml=f'<Response><Connect><Stream url="{refused}"/></Connect></Response>',
    )  # fmt: skip
    await asyncio.wait_for(media_server.completed.wait(), 10)
    await client.http_client.close()
    truth = _truth(tmp_path)
    assert (truth["end"]["by"], truth["end"]["reason"]) == ("caller", "end of TwiML")
    assert media_server.callbacks[-1]["CallStatus"] == "completed"


@pytest.mark.parametrize(
    ("user", "password", "to", "caller", "code", "status"),
    [
        (ACCOUNT, "wrong-token", MENU, CALLER, 20003, 401),
        ("SK" + "1" * 32, "wrong-secret", MENU, CALLER, 20003, 401),
        (ACCOUNT, TOKEN, "555-0100", CALLER, 21211, 400),
        (ACCOUNT, TOKEN, MENU, "+15550100009", 21210, 400),
    ],
)
async def test_requests_twilio_refuses_get_its_error_codes(
    emulator: tuple[TwilioEmulator, str],
    user: str, password: str, to: str, caller: str, code: int, status: int,
) -> None:  # fmt: skip
    running, base_url = emulator
    client = _client(base_url, user, password)
    with pytest.raises(TwilioRestException) as raised:
        await client.calls.create_async(to=to, from_=caller, twiml="<Response/>")
    await client.http_client.close()
    assert (raised.value.code, raised.value.status) == (code, status)
    assert running.calls == {}


def test_the_command_serves_calls_until_sigterm_and_never_prints_the_token(
    tmp_path: Path,
) -> None:
    command = [
        sys.executable, "-m", "shopper", "sandbox", "twilio",
        "--number", f"{BUSY}={DATA / 'sipserve' / 'busy.yaml'}",
        "--listen", "127.0.0.1:0", "--truth", str(tmp_path / "truth"),
    ]  # fmt: skip
    environment = os.environ | {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN}
    server = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stderr is not None
        lines: list[str] = []
        while not (lines and "Twilio emulator at" in lines[-1]):
            line = server.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
        base_url = re.search(r"http://\S+", lines[-1]).group(0)  # type: ignore[union-attr]
        client = Client(ACCOUNT, TOKEN)
        client.api.base_url = base_url
        call = client.calls.create(to=BUSY, from_=CALLER, twiml="<Response/>")
        for _ in range(100):
            if client.calls(call.sid).fetch().status == "busy":
                break
            time.sleep(0.05)
        assert client.calls(call.sid).fetch().status == "busy"
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert f"{call.sid} to {BUSY}: busy" in out
    assert len(list((tmp_path / "truth").glob("*.json"))) == 1
    assert TOKEN not in out + err + "".join(lines)


def test_a_bad_number_mapping_is_one_line() -> None:
    result = CliRunner().invoke(
        app,
        ["sandbox", "twilio", "--number", "5550100=ivr.yaml", "--listen", "127.0.0.1:0",
         "--account-sid", ACCOUNT, "--auth-token", TOKEN],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "shopper: --number '5550100=ivr.yaml': '5550100' is not an E.164 number "
        "(+, country code, digits)"
    ]


def test_a_price_per_minute_that_is_not_a_price_is_one_line() -> None:
    result = CliRunner().invoke(
        app,
        ["sandbox", "twilio", "--number", f"{MENU}=ivr.yaml", "--listen", "127.0.0.1:0",
         "--price-per-minute", "-1", "--account-sid", ACCOUNT, "--auth-token", TOKEN],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "shopper: --price-per-minute '-1': give a number from 0 to 100"
    ]
