"""The built-in server Twilio talks to: status callbacks and Media Streams, for every call.

One per shopper process (per event loop), listening on `--listen`, reached by Twilio through
`--public-url` (a tunnel or load balancer in front). Two endpoints under the public URL's path:

- `POST /twilio/status/<token>`: a call's status callbacks (initiated, ringing, answered,
  completed, or busy, no-answer, failed, canceled);
- `GET /twilio/stream` (WebSocket): a call's media stream.

Every request must carry a valid `X-Twilio-Signature` for the public URL it was addressed
to; anything else gets 403 and a log line naming the endpoint and the peer, never a secret
or a token. A stream is routed to its call by the `token` custom parameter of its `start`
message (the per-call token shopper put in the TwiML), never by the order streams arrive
in; a stream with an unknown token is closed.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from shopper.carriers.base import CarrierError
from shopper.carriers.twilio.signature import SIGNATURE_HEADER, SignatureChecker
from shopper.carriers.twilio.stream import SendJson

log = logging.getLogger(__name__)
TOKEN_PARAMETER = "token"
STATUS_PATH = "/twilio/status/"
STREAM_PATH = "/twilio/stream"
POLICY_VIOLATION = 1008
FORBIDDEN = 403
NOT_FOUND = 404


class CallEndpoint(Protocol):
    """What the server hands a call: its callbacks and its stream's messages."""

    def status(self, params: Mapping[str, str]) -> None: ...

    def stream_started(self, stream_sid: str, send: SendJson) -> None: ...

    def stream_message(self, message: Mapping[str, Any]) -> None: ...

    def stream_closed(self) -> None: ...


class TwilioServer:
    def __init__(self, listen: tuple[str, int], public_url: str, auth_token: str) -> None:
        self.listen = listen
        self.public_url = public_url.rstrip("/")
        self._prefix = urlsplit(self.public_url).path.rstrip("/")
        self._public_ws = _ws_base(self.public_url)
        self._checker = SignatureChecker(auth_token, "")
        self._calls: dict[str, CallEndpoint] = {}
        self._runner: web.AppRunner | None = None
        self.port = listen[1]

    def status_url(self, token: str) -> str:
        return f"{self.public_url}{STATUS_PATH}{token}"

    @property
    def stream_url(self) -> str:
        return f"{self._public_ws}{STREAM_PATH}"

    def register(self, token: str, call: CallEndpoint) -> None:
        self._calls[token] = call

    def unregister(self, token: str) -> None:
        self._calls.pop(token, None)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(self._prefix + STATUS_PATH + "{token}", self._status)
        app.router.add_get(self._prefix + STREAM_PATH, self._stream)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.listen[0], self.listen[1], reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            host, port = self.listen
            raise CarrierError(
                f"cannot listen on {host}:{port} for Twilio ({error.strerror or error}); "
                "choose another address with --listen"
            ) from None
        self._runner = runner
        addresses = runner.addresses
        if addresses:
            self.port = int(addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- status callbacks ----------------------------------------------------------------

    async def _status(self, request: web.Request) -> web.Response:
        form = await request.post()
        params = {key: str(value) for key, value in form.items()}
        url = self.public_url + _after_prefix(request.path_qs, self._prefix)
        if not self._checker.valid(url, params, request.headers.get(SIGNATURE_HEADER)):
            return self._reject("status callback", request, FORBIDDEN, "bad or missing signature")
        call = self._calls.get(request.match_info["token"])
        if call is None:
            return self._reject("status callback", request, NOT_FOUND, "its token names no call")
        call.status(params)
        return web.Response(status=204)

    # --- media streams -------------------------------------------------------------------

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        url = self._public_ws + _after_prefix(request.path_qs, self._prefix)
        if not self._checker.valid(url, {}, request.headers.get(SIGNATURE_HEADER)):
            return self._reject("media stream", request, FORBIDDEN, "bad or missing signature")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        call: CallEndpoint | None = None
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                data = _json(message.data)
                if data is None:
                    continue
                if call is None:
                    call = self._route(data, socket)
                    if call is None and data.get("event") == "start":
                        log.warning("Twilio media stream refused: its token names no call")
                        await socket.close(code=POLICY_VIOLATION, message=b"unknown call")
                        break
                    continue
                call.stream_message(data)
                if data.get("event") == "stop":
                    break
        finally:
            if call is not None:
                call.stream_closed()
            if not socket.closed:
                with contextlib.suppress(Exception):
                    await socket.close()
        return socket

    def _route(self, data: Mapping[str, Any], socket: web.WebSocketResponse) -> CallEndpoint | None:
        """The call a `start` message's token names (None before `start`, or unknown)."""
        if data.get("event") != "start":
            return None
        start = data.get("start")
        if not isinstance(start, dict):
            return None
        parameters = start.get("customParameters")
        token = parameters.get(TOKEN_PARAMETER) if isinstance(parameters, dict) else None
        call = self._calls.get(str(token)) if token is not None else None
        if call is None:
            return None
        stream_sid = str(data.get("streamSid") or start.get("streamSid") or "")
        call.stream_started(stream_sid, _sender(socket))
        call.stream_message(data)
        return call

    def _reject(self, what: str, request: web.Request, status: int, why: str) -> web.Response:
        log.warning("Twilio %s from %s refused: %s", what, request.remote, why)
        return web.Response(status=status)


def _sender(socket: web.WebSocketResponse) -> SendJson:
    async def send(message: dict[str, object]) -> None:
        if socket.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await socket.send_str(json.dumps(message, separators=(",", ":")))

    return send


def _ws_base(public_url: str) -> str:
    parts = urlsplit(public_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _after_prefix(path_qs: str, prefix: str) -> str:
    return path_qs[len(prefix) :] if prefix and path_qs.startswith(prefix) else path_qs


def _json(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
