"""One Media Streams WebSocket, opened by the emulator to the `<Stream url>`, as Twilio does.

Messages follow Twilio's "WebSocket messages" page: `connected`, then `start` (stream and call
SIDs, tracks, custom parameters, `audio/x-mulaw` 8000 Hz mono), then one `media` message per
20 ms of the called party's audio (the inbound track: base64 μ-law, `chunk` counting from 1,
`timestamp` in ms since the stream started), `mark` echoes, and `stop` when the stream ends.
`sequenceNumber`, `chunk` and `timestamp` are strings, as Twilio sends them. The handshake
carries `X-Twilio-Signature` over the URL with no parameters.

From a bidirectional stream (`<Connect>`) the far server's `media` goes to the call's playout
(what the called party hears), `mark` is queued behind it and `clear` empties it; a one-way
stream (`<Start>`) ignores what it is sent, as Twilio does.

Far-end `dtmf` messages are not sent: the sandbox IVR never presses keys.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import secrets
from typing import Any

import aiohttp

from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.g711 import ulaw_decode, ulaw_encode
from shopper.sandbox.twilio.playout import Mark, Playout
from shopper.sandbox.twilio.signature import SIGNATURE_HEADER, Credentials, shown
from shopper.sandbox.twilio.twiml import Stream

logger = logging.getLogger(__name__)


class StreamError(Exception):
    """The WebSocket could not be opened (Twilio's error 31920 family)."""


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


class MediaStream:
    """An open stream: `send_audio` each 20 ms of the called party; `closed` when it ends."""

    def __init__(
        self,
        stream: Stream,
        socket: aiohttp.ClientWebSocketResponse,
        account_sid: str,
        call_sid: str,
        start_position: int,
    ) -> None:
        self.stream = stream
        self.sid = new_sid("MZ")
        self._socket = socket
        self._account_sid = account_sid
        self._call_sid = call_sid
        self._start = start_position
        self._sequence = 0
        self._chunk = 0
        self._outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.closed = asyncio.Event()
        """Set when the WebSocket is gone (either side closed it)."""
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def open(
        cls,
        session: aiohttp.ClientSession,
        stream: Stream,
        credentials: Credentials,
        call_sid: str,
        start_position: int,
    ) -> MediaStream:
        headers = {SIGNATURE_HEADER: credentials.sign(stream.url, {})}
        try:
            socket = await session.ws_connect(stream.url, headers=headers, heartbeat=None)
        except (aiohttp.ClientError, OSError) as error:
            raise StreamError(f"cannot open the stream to {shown(stream.url)} ({error})") from None
        return cls(stream, socket, credentials.account_sid, call_sid, start_position)

    def begin(self, playout: Playout | None) -> None:
        """Send `connected` and `start`, then serve the socket (reading only when
        bidirectional: `playout` is where the far server's audio goes)."""
        self._outbox.put_nowait({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        self._send(
            "start",
            {
                "start": {
                    "accountSid": self._account_sid,
                    "streamSid": self.sid,
                    "callSid": self._call_sid,
                    "tracks": ["inbound"],
                    "customParameters": dict(self.stream.parameters),
                    "mediaFormat": {
                        "encoding": "audio/x-mulaw",
                        "sampleRate": TELEPHONY_RATE,
                        "channels": 1,
                    },
                }
            },
        )
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._write()), loop.create_task(self._read(playout))]

    def send_audio(self, samples: Samples, position: int) -> None:
        """The called party's 20 ms starting at media time `position`."""
        if self.closed.is_set():
            return
        self._chunk += 1
        payload = base64.b64encode(ulaw_encode(samples).tobytes()).decode("ascii")
        milliseconds = (position - self._start) * 1000 // TELEPHONY_RATE
        media = {"track": "inbound", "chunk": str(self._chunk), "timestamp": str(milliseconds)}
        self._send("media", {"media": media | {"payload": payload}})

    async def stop(self) -> None:
        """Send `stop` and close the socket (the call ended or its TwiML moved on)."""
        if not self.closed.is_set():
            self._send(
                "stop", {"stop": {"accountSid": self._account_sid, "callSid": self._call_sid}}
            )
            self._outbox.put_nowait(None)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.closed.set()

    def _send(self, event: str, body: dict[str, Any]) -> None:
        self._sequence += 1
        message = {"event": event, "sequenceNumber": str(self._sequence), "streamSid": self.sid}
        self._outbox.put_nowait(message | body)

    def _mark_played(self, name: str) -> None:
        if not self.closed.is_set():
            self._send("mark", {"mark": {"name": name}})

    async def _write(self) -> None:
        try:
            while (message := await self._outbox.get()) is not None:
                await self._socket.send_str(json.dumps(message, separators=(",", ":")))
            await self._socket.close()
        except (aiohttp.ClientError, ConnectionError, RuntimeError):
            pass
        finally:
            self.closed.set()

    async def _read(self, playout: Playout | None) -> None:
        try:
            async for message in self._socket:
                if message.type == aiohttp.WSMsgType.TEXT and playout is not None:
                    self._received(message.data, playout)
                elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    break
        finally:
            self.closed.set()
            self._outbox.put_nowait(None)

    def _received(self, data: str, playout: Playout) -> None:
        try:
            message = json.loads(data)
            event = message["event"]
            if event == "media":
                pcm = ulaw_decode(base64.b64decode(message["media"]["payload"], validate=True))
                playout.add_audio(pcm)
            elif event == "mark":
                playout.add_mark(Mark(str(message["mark"]["name"]), self._mark_played))
            elif event == "clear":
                playout.clear()
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            logger.warning("stream %s: ignored a message Twilio would reject (%s)", self.sid, error)
