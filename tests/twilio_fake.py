"""A minimal stand-in for Twilio, for the Twilio carrier's tests only (not an emulator).

It answers the Calls resource as the official client calls it (create, update, fetch, with
Basic auth and Twilio's error JSON), POSTs status callbacks signed with Twilio's algorithm,
and opens the media stream the TwiML names with the documented messages (`connected`,
`start` with the custom parameters, `media` paced every 20 ms, `mark` echoes, `stop`),
streaming the audio each number's scenario gives. What shopper sends back is kept.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web

from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, Samples
from shopper.audio.g711 import ulaw_decode, ulaw_encode
from shopper.carriers.twilio.signature import sign

FRAME_S = FRAME_SAMPLES / TELEPHONY_RATE


@dataclass
class Scenario:
    """What a number does when called."""

    outcome: str = "answer"
    """answer, busy, no-answer or failed."""
    ring_s: float = 0.3
    sip_code: int | None = None
    audio: Samples = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    gap: tuple[int, int] | None = None
    """(first frame left out, frames left out): their timestamps are skipped."""
    hang_up_after_audio: bool = True
    mark_delay_s: float = 0.0
    """Extra delay before a mark is echoed, past the end of the audio queued before it."""
    stream_delay_s: float = 0.0
    """Wait this long after answering before opening the stream."""
    far_digits: dict[int, str] = field(default_factory=dict)
    """Keys the far end presses, by the frame index their `dtmf` message follows."""


@dataclass
class FakeCall:
    sid: str
    to: str
    twiml: str
    status_callback: str
    status: str = "queued"
    received: list[bytes] = field(default_factory=list)
    """μ-law payloads shopper sent on the stream, in order."""
    marks: list[str] = field(default_factory=list)
    updates: list[dict[str, str]] = field(default_factory=list)
    hung_up: bool = False
    task: asyncio.Task[None] | None = None


class FakeTwilio:
    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.scenarios: dict[str, Scenario] = {}
        self.errors: dict[str, tuple[int, int, str]] = {}
        self.calls: dict[str, FakeCall] = {}
        self.price = "-0.01300"
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._hangups: dict[str, asyncio.Event] = {}
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application()
        base = f"/2010-04-01/Accounts/{self.account_sid}/Calls"
        app.router.add_post(base + ".json", self._create)
        app.router.add_post(base + "/{sid}.json", self._update)
        app.router.add_get(base + "/{sid}.json", self._fetch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def close(self) -> None:
        for call in self.calls.values():
            if call.task is not None:
                call.task.cancel()
                with contextlib.suppress(BaseException):
                    await call.task
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def add_call(self, sid: str, status: str) -> FakeCall:
        """A call placed earlier (by a crashed run), in `status`."""
        call = FakeCall(sid, "+15550100999", "", "", status)
        self.calls[sid] = call
        self._hangups[sid] = asyncio.Event()
        return call

    # --- REST ------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == self.account_sid and password == self.auth_token

    def _error(self, status: int, code: int, message: str) -> web.Response:
        body = {"code": code, "message": message, "more_info": "", "status": status}
        return web.json_response(body, status=status)

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        form = await request.post()
        to = str(form["To"])
        if to in self.errors:
            return self._error(*self.errors[to])
        sid = "CA" + secrets.token_hex(16)
        call = FakeCall(sid, to, str(form["Twiml"]), str(form["StatusCallback"]))
        self.calls[sid] = call
        self._hangups[sid] = asyncio.Event()
        call.task = asyncio.get_running_loop().create_task(
            self._run(call, self.scenarios.get(to, Scenario()))
        )
        return web.json_response(self._resource(call), status=201)

    async def _update(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        call = self.calls.get(request.match_info["sid"])
        if call is None:
            return self._error(404, 20404, "not found")
        form = {key: str(value) for key, value in (await request.post()).items()}
        call.updates.append(form)
        if form.get("Status") == "completed":
            call.hung_up = True
            if call.status not in ("completed", "busy", "no-answer", "failed", "canceled"):
                call.status = "completed"
            self._hangups[call.sid].set()
        return web.json_response(self._resource(call))

    async def _fetch(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        call = self.calls.get(request.match_info["sid"])
        if call is None:
            return self._error(404, 20404, "not found")
        return web.json_response(self._resource(call))

    def _resource(self, call: FakeCall) -> dict[str, Any]:
        done = call.status == "completed"
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "status": call.status,
            "to": call.to,
            "price": self.price if done else None,
            "price_unit": "USD" if done else None,
            "duration": "3" if done else None,
        }

    # --- the call --------------------------------------------------------------------

    async def _callback(self, call: FakeCall, status: str, **extra: str) -> int:
        call.status = status
        params = {
            "CallSid": call.sid,
            "AccountSid": self.account_sid,
            "CallStatus": status,
            "To": call.to,
            "Direction": "outbound-api",
            **extra,
        }
        return await self.post_signed(call.status_callback, params)

    async def post_signed(
        self, url: str, params: dict[str, str], signature: str | None = None
    ) -> int:
        assert self._session is not None
        signature = signature or sign(self.auth_token, url, params)
        async with self._session.post(
            url, data=params, headers={"X-Twilio-Signature": signature}
        ) as response:
            return response.status

    async def _run(self, call: FakeCall, scenario: Scenario) -> None:
        hangup = self._hangups[call.sid]
        await self._callback(call, "initiated")
        await self._callback(call, "ringing")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hangup.wait(), scenario.ring_s)
        if hangup.is_set():
            await self._callback(call, "canceled")
            return
        if scenario.outcome != "answer":
            extra = {"SipResponseCode": str(scenario.sip_code)} if scenario.sip_code else {}
            await self._callback(call, scenario.outcome, **extra)
            return
        await self._callback(call, "in-progress")
        if scenario.stream_delay_s:
            await asyncio.sleep(scenario.stream_delay_s)
        url, token = stream_of(call.twiml)
        await self._stream(call, scenario, url, token, hangup)
        call.status = "completed"
        await self._callback(call, "completed", CallDuration="3")

    async def _stream(
        self, call: FakeCall, scenario: Scenario, url: str, token: str, hangup: asyncio.Event
    ) -> None:
        assert self._session is not None
        headers = {"X-Twilio-Signature": sign(self.auth_token, url, {})}
        stream_sid = "MZ" + secrets.token_hex(16)
        async with self._session.ws_connect(url, headers=headers) as socket:
            await socket.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            start = {
                "accountSid": self.account_sid,
                "streamSid": stream_sid,
                "callSid": call.sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": {"token": token},
            }
            await socket.send_json(
                {"event": "start", "sequenceNumber": "1", "start": start, "streamSid": stream_sid}
            )
            reader = asyncio.get_running_loop().create_task(
                self._read(socket, call, scenario, stream_sid)
            )
            try:
                await self._send_audio(socket, scenario, stream_sid, hangup)
                if not scenario.hang_up_after_audio:
                    await hangup.wait()
                await asyncio.sleep(0.3)  # marks still due go out before the stop
                await socket.send_json(
                    {
                        "event": "stop",
                        "sequenceNumber": "0",
                        "streamSid": stream_sid,
                        "stop": {"accountSid": self.account_sid, "callSid": call.sid},
                    }
                )
            except ConnectionError:
                pass
            finally:
                reader.cancel()
                with contextlib.suppress(BaseException):
                    await reader

    async def _send_audio(
        self,
        socket: aiohttp.ClientWebSocketResponse,
        scenario: Scenario,
        stream_sid: str,
        hangup: asyncio.Event,
    ) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        frames = len(scenario.audio) // FRAME_SAMPLES
        skipped = (
            range(0)
            if scenario.gap is None
            else range(scenario.gap[0], scenario.gap[0] + scenario.gap[1])
        )
        sequence = 2
        for index in range(frames):
            await asyncio.sleep(max(0.0, started + index * FRAME_S - loop.time()))
            if hangup.is_set():
                return
            if index in scenario.far_digits:
                dtmf = {"track": "inbound_track", "digit": scenario.far_digits[index]}
                await socket.send_json({"event": "dtmf", "streamSid": stream_sid, "dtmf": dtmf})
            if index in skipped:
                continue
            chunk = scenario.audio[index * FRAME_SAMPLES : (index + 1) * FRAME_SAMPLES]
            payload = base64.b64encode(bytes(ulaw_encode(chunk))).decode()
            await socket.send_json(
                {
                    "event": "media",
                    "sequenceNumber": str(sequence),
                    "media": {
                        "track": "inbound",
                        "chunk": str(sequence - 1),
                        "timestamp": str(index * 20),
                        "payload": payload,
                    },
                    "streamSid": stream_sid,
                }
            )
            sequence += 1

    async def _read(
        self,
        socket: aiohttp.ClientWebSocketResponse,
        call: FakeCall,
        scenario: Scenario,
        stream_sid: str,
    ) -> None:
        """Keep what shopper sends; echo each mark once the audio before it has 'played'."""
        loop = asyncio.get_running_loop()
        played_until = loop.time()
        async for message in socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if data.get("event") == "media":
                payload = base64.b64decode(data["media"]["payload"])
                call.received.append(payload)
                played_until = max(played_until, loop.time()) + len(payload) / TELEPHONY_RATE
            elif data.get("event") == "mark":
                name = data["mark"]["name"]
                call.marks.append(name)
                delay = played_until - loop.time() + scenario.mark_delay_s
                loop.call_later(
                    max(0.0, delay),
                    lambda n=name: loop.create_task(_echo(socket, stream_sid, n)),
                )


async def _echo(socket: aiohttp.ClientWebSocketResponse, stream_sid: str, name: str) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await socket.send_json({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def stream_of(twiml: str) -> tuple[str, str]:
    url = re.search(r'<Stream[^>]* url="([^"]+)"', twiml)
    token = re.search(r'<Parameter name="token" value="([^"]+)"', twiml)
    assert url is not None and token is not None, twiml
    return url.group(1).replace("&amp;", "&"), token.group(1)


def received_audio(call: FakeCall) -> Samples:
    """Everything shopper sent on the call's stream, decoded."""
    if not call.received:
        return np.zeros(0, dtype=np.int16)
    return ulaw_decode(b"".join(call.received))
