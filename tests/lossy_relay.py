"""A lossy network between shopper's SIP carrier and `shopper sandbox serve`, for one call.

The relay stands where a PBX's media path would: the caller dials the relay's SIP port, the
relay passes SIP both ways unchanged except the SDP, whose audio address it replaces with
its own (one RTP port facing each side, as a media relay or SBC anchors media), and passes
RTP through with packets lost and delayed at random: each RTP packet is dropped with
probability `loss`, else delivered after a uniform random delay of 0 to twice `jitter_s`
(`tc netem delay 40ms 40ms`: packets overtake each other, as on a congested path). SIP is
never lost or delayed (its own retransmissions are not what is under test). In-dialog
requests (ACK, BYE) go to the Contact addresses directly, which is fine on loopback.

It runs as a process of its own (`RelayProcess`), as a network would: in a thread of the
test's process it would share the interpreter lock with the caller, and the caller's busy
moments would become the relay's delays.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, cast

HOST = "127.0.0.1"
_AUDIO = re.compile(rb"m=audio (\d+) ")
_CONNECTION = re.compile(rb"c=IN IP4 [0-9.]+")
_LENGTH = re.compile(rb"(?im)^(Content-Length|l):[ \t]*\d+")


@dataclass
class RelayCounts:
    forwarded: int = 0
    dropped: int = 0
    dropped_toward_caller: int = 0
    sip: list[str] = field(default_factory=list)


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Any) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # CPython 3.11's selector transport is not an asyncio.DatagramTransport subclass.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.on_datagram(data, (str(addr[0]), int(addr[1])))


class LossyRelay:
    """Start with `start()` (binds and returns at once), stop with `stop()`; `sip_port` is
    the port to dial."""

    def __init__(self, server: tuple[str, int], loss: float, jitter_s: float, seed: int = 3):
        self.server = server
        self.loss = loss
        self.jitter_s = jitter_s
        self.counts = RelayCounts()
        # One stream of chance per direction: which packets of a direction are lost then
        # depends only on their order in that direction, never on how the two directions
        # happened to interleave (one shared stream once gave every loss of a call to the
        # caller's packets, and the caller measured none).
        self._toward_caller_random = random.Random(seed)
        self._toward_server_random = random.Random(seed + 1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._caller_sip: tuple[str, int] | None = None
        self._caller_rtp: tuple[str, int] | None = None
        self._server_rtp: tuple[str, int] | None = None
        self.sip_port = 0

    def start(self) -> LossyRelay:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._bind(), self._loop).result(timeout=5)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()

        async def bind(handler: Any) -> _Socket:
            _, protocol = await loop.create_datagram_endpoint(
                lambda: _Socket(handler), local_addr=(HOST, 0)
            )
            return protocol

        self._sip = await bind(self._sip_datagram)
        # Faces the server: the server is told the caller's media is here.
        self._toward_server = await bind(
            lambda data, _: self._rtp(
                data, self._caller_rtp, self._toward_caller, self._toward_caller_random
            )
        )
        # Faces the caller: the caller is told the server's media is here.
        self._toward_caller = await bind(
            lambda data, _: self._rtp(
                data, self._server_rtp, self._toward_server, self._toward_server_random
            )
        )
        self.sip_port = self._port(self._sip)

    @staticmethod
    def _port(sock: _Socket) -> int:
        assert sock.transport is not None
        return int(sock.transport.get_extra_info("sockname")[1])

    def _sip_datagram(self, data: bytes, source: tuple[str, int]) -> None:
        assert self._sip.transport is not None
        if source == self.server:
            data = self._rewrite(data, self._toward_caller, caller_side=False)
            if self._caller_sip is not None:
                self._sip.transport.sendto(data, self._caller_sip)
        else:
            self._caller_sip = source
            data = self._rewrite(data, self._toward_server, caller_side=True)
            self._sip.transport.sendto(data, self.server)
        self.counts.sip.append(data.split(b"\r\n", 1)[0].decode(errors="replace"))

    def _rewrite(self, data: bytes, facing: _Socket, caller_side: bool) -> bytes:
        """Put the relay's RTP port in the SDP and remember where that side wants media."""
        head, separator, body = data.partition(b"\r\n\r\n")
        found = _AUDIO.search(body)
        if not separator or found is None:
            return data
        port = int(found.group(1))
        if caller_side:
            self._caller_rtp = (HOST, port)
        else:
            self._server_rtp = (HOST, port)
        body = _AUDIO.sub(b"m=audio %d " % self._port(facing), body, count=1)
        body = _CONNECTION.sub(b"c=IN IP4 " + HOST.encode(), body)
        head = _LENGTH.sub(b"Content-Length: %d" % len(body), head, count=1)
        return head + separator + body

    def _rtp(
        self, data: bytes, to: tuple[str, int] | None, out: _Socket, chance: random.Random
    ) -> None:
        if to is None or out.transport is None:
            return
        if chance.random() < self.loss:
            self.counts.dropped += 1
            if out is self._toward_caller:
                self.counts.dropped_toward_caller += 1
            return
        self.counts.forwarded += 1
        delay = chance.uniform(0.0, 2 * self.jitter_s)
        transport = out.transport
        self._loop.call_later(delay, transport.sendto, data, to)


class RelayProcess:
    """`LossyRelay` in a child process; `counts` once stopped."""

    def __init__(self, server_port: int, loss: float, jitter_s: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(server_port), str(loss), str(jitter_s)],
            stdout=subprocess.PIPE, text=True, env=dict(os.environ),
        )  # fmt: skip
        assert self.process.stdout is not None
        self.sip_port = int(self.process.stdout.readline())
        self.counts = RelayCounts()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=10)
        if out.strip():
            self.counts = RelayCounts(**json.loads(out))


def _main() -> None:
    server_port, loss, jitter_s = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    relay = LossyRelay((HOST, server_port), loss, jitter_s).start()
    print(relay.sip_port, flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    relay.stop()
    print(json.dumps(relay.counts.__dict__), flush=True)


if __name__ == "__main__":
    _main()
