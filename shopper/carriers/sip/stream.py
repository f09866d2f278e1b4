"""SIP over TCP (RFC 3261 §18.3) behind aiosipua's transport interface, for the carrier and
`shopper sandbox serve --sip`.

aiosipua 0.7.1 builds and parses the messages; its own TCP transport is not usable as it
stands (it answers a request to the address in its Via instead of on the connection it came
in on, cannot send where no connection is open, and every message it builds says UDP). This
transport is what sits between aiosipua and the sockets, and nothing more:

- messages are framed on the stream by Content-Length (aiosipua writes an exact one); CRLFs
  between messages (keep-alive pings, RFC 5626 §4.4.1) are skipped;
- it listens on its local address (the port in Via and Contact) and also opens connections
  to where a request goes, one per remote address, reused both ways: the PBX's requests and
  responses come back on the call's connection, and a connection it opens to the Contact is
  accepted too. A request to an address with no connection (the PBX closed it during a long
  hold) opens a new one and is sent once it is up;
- a response goes back on the connection its request arrived on (§18.2.2), found by the
  request's Via branch; only when that connection is gone does it follow the Via;
- on the way out the top Via of a request says `SIP/2.0/TCP` and a Contact naming this
  transport's address gets `;transport=tcp`, so the far end answers and sends its own
  requests over TCP (aiosipua writes UDP in every Via it builds).

Retransmission timers do not run over TCP (§17.1.1.2: Timer A and E only for unreliable
transports); `reliable` tells aiosipua's UAS not to retransmit its 2xx, and the carrier's
own timers (shopper.carriers.sip.signalling, registration) read it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from aiosipua import SipRequest, SipResponse
from aiosipua.transport import SipTransport

log = logging.getLogger(__name__)
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
"""A peer sending more than this in one message is not a SIP peer: its connection is dropped."""
_VIA_UDP = re.compile(r"^\s*SIP\s*/\s*2\.0\s*/\s*UDP", re.I)
_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)\s*:\s*([0-9]+)\s*$", re.I | re.M)

Address = tuple[str, int]
SentObserver = Callable[[SipRequest | SipResponse, Address], None]
UnreachableObserver = Callable[[Address, OSError], None]


class TcpSipTransport(SipTransport):
    """SIP over TCP on `local_addr` (port 0: any free port, read back after `start`)."""

    reliable: ClassVar[bool] = True
    name: ClassVar[str] = "TCP"

    def __init__(self, local_addr: Address) -> None:
        super().__init__(local_addr=local_addr)
        self.on_sent: SentObserver | None = None
        """Told of each message after it is adapted to TCP and before it is written (the
        carrier adds its Route and keeps its trace there)."""
        self.on_unreachable: UnreachableObserver | None = None
        """Told when a connection to an address cannot be opened (what was queued is lost)."""
        self._server: asyncio.Server | None = None
        self._writers: dict[Address, asyncio.StreamWriter] = {}
        self._waiting: dict[Address, list[bytes]] = {}
        self._reply_to: dict[str, Address] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accepted, host=self.local_addr[0], port=self.local_addr[1]
        )
        sockname = self._server.sockets[0].getsockname()
        self.local_addr = (str(sockname[0]), int(sockname[1]))

    async def connect(self, remote: Address) -> None:
        """Open the connection to `remote` now (the carrier does before its INVITE, so a
        refused connection is a dial failure rather than a silent loss); raises OSError."""
        if remote in self._writers:
            return
        reader, writer = await asyncio.open_connection(remote[0], remote[1])
        self._adopt(remote, reader, writer)

    def send(self, message: SipRequest | SipResponse, addr: tuple[str, int]) -> None:
        self._adapt(message)
        if self.on_sent is not None:
            self.on_sent(message, addr)
        self._write(bytes(message), addr)

    def send_reply(self, response: SipResponse) -> None:
        """On the connection the request came in on, if it is still open (§18.2.2)."""
        vias = response.via
        branch = vias[0].branch if vias else None
        source = self._reply_to.get(branch or "")
        if response.status_code >= 200 and branch:
            self._reply_to.pop(branch, None)
        if source is not None and source in self._writers:
            self.send(response, source)
        else:
            super().send_reply(response)

    async def stop(self) -> None:
        """Close the listener and every connection. `asyncio.timeout`, not `wait_for`: on
        Python 3.11 `wait_for` can swallow a Ctrl-C that lands as the listener closes, and
        the run that hung up would go on."""
        if self._server is not None:
            self._server.close()
        for writer in self._writers.values():
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._writers.clear()
        self._waiting.clear()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._server.wait_closed()
            self._server = None

    # --- connections -------------------------------------------------------------------------

    def _write(self, data: bytes, addr: Address) -> None:
        writer = self._writers.get(addr)
        if writer is not None and not writer.is_closing():
            writer.write(data)
            return
        queued = self._waiting.setdefault(addr, [])
        queued.append(data)
        if len(queued) == 1:  # the first message to an unconnected address opens one
            self._spawn(self._open(addr))

    async def _open(self, addr: Address) -> None:
        try:
            reader, writer = await asyncio.open_connection(addr[0], addr[1])
        except OSError as error:
            self._waiting.pop(addr, None)
            log.warning("SIP over TCP: cannot connect to %s:%d: %s", addr[0], addr[1], error)
            if self.on_unreachable is not None:
                self.on_unreachable(addr, error)
            return
        self._adopt(addr, reader, writer)

    def _adopt(
        self, addr: Address, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Use this connection for `addr` from now on, send what waited for it, read it."""
        self._writers[addr] = writer
        for data in self._waiting.pop(addr, []):
            writer.write(data)
        self._spawn(self._read(addr, reader, writer))

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        self._adopt((str(peer[0]), int(peer[1])), reader, writer)

    async def _read(
        self, addr: Address, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while (data := await read_message(reader)) is not None:
                self._received(data, addr)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            if self._writers.get(addr) is writer:
                del self._writers[addr]
            self._reply_to = {b: a for b, a in self._reply_to.items() if a != addr}
            writer.close()

    def _received(self, data: bytes, addr: Address) -> None:
        head = data.split(b"\r\n", 1)[0]
        if not head.startswith(b"SIP/2.0") and not head.startswith(b"ACK "):
            branch = _top_branch(data)
            if branch:
                self._reply_to[branch] = addr
        self._dispatch(data, addr)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the messages ------------------------------------------------------------------------

    def _adapt(self, message: SipRequest | SipResponse) -> None:
        """Say TCP where aiosipua wrote UDP: the top Via of a request, and a Contact naming
        this transport's own address."""
        if isinstance(message, SipRequest):
            vias = message.headers.get("via")  # the stored list: changed in place, Via
            if vias and _VIA_UDP.match(vias[0]):  # keeps its place at the top of the message
                vias[0] = _VIA_UDP.sub("SIP/2.0/TCP", vias[0], count=1)
        contact = message.headers.get_first("contact")
        ours = f"{self.local_addr[0]}:{self.local_addr[1]}"
        if contact is not None and ours in contact and "transport=" not in contact.lower():
            end = contact.find(">")
            value = (
                f"{contact[:end]};transport=tcp{contact[end:]}"
                if end >= 0
                else f"{contact};transport=tcp"
            )
            message.headers.set_single("Contact", value)


async def read_message(reader: asyncio.StreamReader) -> bytes | None:
    """One SIP message from a stream, framed by its Content-Length (a missing one is 0); None
    at the end of the stream. Blank lines before a message are skipped (RFC 3261 §7.5)."""
    head = bytearray()
    while True:
        line = await reader.readline()
        if not line:
            return None
        if not head and line in (b"\r\n", b"\n"):
            continue
        head += line
        if len(head) > MAX_HEADER_BYTES:
            raise ValueError("SIP header section too long")
        if head.endswith(b"\r\n\r\n") or head.endswith(b"\n\n"):
            break
    found = _CONTENT_LENGTH.search(bytes(head))
    length = int(found[1]) if found else 0
    if length > MAX_BODY_BYTES:
        raise ValueError("SIP body too long")
    body = await reader.readexactly(length) if length else b""
    return bytes(head) + body


def _top_branch(data: bytes) -> str | None:
    """The branch of a request's first Via (where its response must go back)."""
    found = re.search(rb"^(?:via|v)\s*:[^\r\n]*?;\s*branch=([^;,\s]+)", data, re.I | re.M)
    return found[1].decode("ascii", "replace") if found else None
