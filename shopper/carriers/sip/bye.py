"""Hanging up an answered SIP call from another process: what a BYE needs, and sending it.

A fleet worker killed mid-call leaves its SIP dialog up at the far end (until the PBX's
session timer or RTP timeout). A dialog is not tied to the socket that made it (RFC 3261
§12): a BYE with the dialog's Call-ID, tags, URIs, route set and a higher CSeq, sent to the
same next hop, ends it from any socket. So the call keeps an `AnsweredDialog` (no credentials
in it) for the fleet's ledger, and the worker that takes the run back sends the BYE from a
fresh socket of its own (`send_bye`), built with aiosipua's message classes.

The BYE goes over the transport the call used: over UDP the response comes back to the new
socket (its Via and rport), not the dead one's; over TCP it comes back on the new connection
(the dead one closed with its process), and nothing is retransmitted. A dialog that was never
answered is not recorded (an unanswered INVITE ends at the far end's ring timeout).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiosipua import SipDigestAuth, SipMessage, SipRequest, SipResponse, stringify_uri
from aiosipua.auth import answer_challenge
from aiosipua.dialog import Dialog, DialogState

from shopper.carriers.sip.settings import TRANSPORTS, SipSettings, Transport
from shopper.carriers.sip.stream import TcpSipTransport

T1_S = 0.5
T2_S = 4.0
"""RFC 3261's retransmission timers for a request over UDP."""
TIMER_F_S = 32.0
"""RFC 3261's non-INVITE transaction timeout (64 T1): no final response by then, give up."""
ALREADY_GONE = 481
"""Call/Transaction Does Not Exist: the far end ended the dialog already."""


@dataclass(frozen=True, slots=True)
class AnsweredDialog:
    """What an in-dialog BYE needs, as the 200 to the INVITE established it (RFC 3261
    §12.1.2)."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    """The request URI: the 200's Contact."""
    route_set: tuple[str, ...]
    """The 200's Record-Route, reversed."""
    next_cseq: int
    """Above every CSeq the call has used in the dialog."""
    remote: tuple[str, int]
    """Where the call sent its requests (the outbound proxy, else the target's host)."""
    transport: Transport = "udp"
    """What the call's signalling went over, and so the BYE goes over."""

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "local_tag": self.local_tag,
            "remote_tag": self.remote_tag,
            "local_uri": self.local_uri,
            "remote_uri": self.remote_uri,
            "remote_target": self.remote_target,
            "route_set": list(self.route_set),
            "next_cseq": self.next_cseq,
            "remote": [self.remote[0], self.remote[1]],
            "transport": self.transport,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> AnsweredDialog:
        host, port = document["remote"]
        return cls(
            call_id=str(document["call_id"]),
            local_tag=str(document["local_tag"]),
            remote_tag=str(document["remote_tag"]),
            local_uri=str(document["local_uri"]),
            remote_uri=str(document["remote_uri"]),
            remote_target=str(document["remote_target"]),
            route_set=tuple(str(route) for route in document["route_set"]),
            next_cseq=int(document["next_cseq"]),
            remote=(str(host), int(port)),
            transport=_transport(document.get("transport", "udp")),
        )

    def requests(self) -> Dialog:
        """aiosipua's dialog, to build this dialog's next requests (each takes the next
        CSeq)."""
        return Dialog(
            call_id=self.call_id,
            local_tag=self.local_tag,
            remote_tag=self.remote_tag,
            local_uri=self.local_uri,
            remote_uri=self.remote_uri,
            remote_target=self.remote_target,
            route_set=list(self.route_set),
            local_cseq=self.next_cseq - 1,
            state=DialogState.CONFIRMED,
        )


def _transport(value: object) -> Transport:
    """A recorded transport (a ledger written before TCP existed has none: UDP)."""
    for transport in TRANSPORTS:
        if value == transport:
            return transport
    raise ValueError(f"unknown SIP transport {value!r} in a recorded dialog")


def answered_dialog(
    dialog: Dialog, ok: SipResponse, remote: tuple[str, int], transport: Transport
) -> AnsweredDialog:
    """The dialog as the 200 to its INVITE confirms it: aiosipua keeps only the tags, so the
    remote target (Contact) and the route set (Record-Route, reversed) are read here."""
    contacts = [contact.uri for contact in ok.contact if contact.uri.host]
    to = ok.to_addr
    return AnsweredDialog(
        call_id=dialog.call_id,
        local_tag=dialog.local_tag,
        remote_tag=(to.tag if to is not None and to.tag else dialog.remote_tag),
        local_uri=dialog.local_uri,
        remote_uri=dialog.remote_uri,
        remote_target=stringify_uri(contacts[0]) if contacts else dialog.remote_uri,
        route_set=tuple(reversed(ok.headers.get("record-route"))),
        next_cseq=dialog.local_cseq + 1,
        remote=remote,
        transport=transport,
    )


@dataclass(frozen=True, slots=True)
class ByeOutcome:
    code: int | None
    """The final response's status; None when nothing answered within Timer F."""
    reason: str

    @property
    def ended(self) -> bool:
        """Whether the dialog is over: the BYE accepted, or the far end had no such call."""
        return self.code is not None and (200 <= self.code < 300 or self.code == ALREADY_GONE)


Send = Callable[[SipRequest], None]


async def send_bye(dialog: AnsweredDialog, settings: SipSettings) -> ByeOutcome:
    """Send a BYE for `dialog` from a new socket (on the trunk's `local_address`, else the
    route to the next hop), over the call's transport, and wait for its final response;
    over UDP retransmitting as RFC 3261 §17.1.2.2 says (Timer E from T1 doubling to T2,
    Timer F). A 401 or 407 is answered once with the trunk's credentials, when it has a
    password. OSError when the socket cannot be opened (or, over TCP, connected)."""
    responses: asyncio.Queue[SipResponse] = asyncio.Queue()
    local = settings.local_address or route_to(dialog.remote[0])
    if dialog.transport == "tcp":
        stream = TcpSipTransport((local, 0))
        stream.on_message = lambda message, _: _keep_response(message, responses)
        await stream.start()
        try:
            await stream.connect(dialog.remote)
            send: Send = lambda request: stream.send(request, dialog.remote)  # noqa: E731
            return await _bye(dialog, settings, stream.local_addr, send, True, responses)
        finally:
            await stream.stop()
    loop = asyncio.get_running_loop()
    datagrams, _ = await loop.create_datagram_endpoint(
        lambda: Responses(responses), local_addr=(local, 0), family=socket.AF_INET
    )
    try:
        host, port = datagrams.get_extra_info("sockname")[:2]
        send = lambda request: datagrams.sendto(bytes(request), dialog.remote)  # noqa: E731
        return await _bye(dialog, settings, (str(host), int(port)), send, False, responses)
    finally:
        datagrams.close()


async def _bye(
    dialog: AnsweredDialog,
    settings: SipSettings,
    local: tuple[str, int],
    send: Send,
    reliable: bool,
    responses: asyncio.Queue[SipResponse],
) -> ByeOutcome:
    """The BYE transaction (and the one answering a challenge), whatever carries it."""
    auth = SipDigestAuth(settings.user, settings.password) if settings.password else None
    host, port = local
    try:
        state = dialog.requests()
        bye = state.create_request("BYE", via_host=str(host), via_port=int(port))
        answer = await _transaction(send, reliable, bye, responses)
        if answer.status_code in (401, 407) and auth is not None:
            challenge = answer_challenge(auth, answer, answer.status_code, "BYE", bye.uri)
            if challenge is not None:
                bye = state.create_request("BYE", via_host=str(host), via_port=int(port))
                bye.headers.set_single(*challenge)
                answer = await _transaction(send, reliable, bye, responses)
        return ByeOutcome(answer.status_code, answer.reason_phrase)
    except TimeoutError:
        return ByeOutcome(None, f"no final response within {TIMER_F_S:g} s")


async def _transaction(
    send: Send, reliable: bool, request: SipRequest, responses: asyncio.Queue[SipResponse]
) -> SipResponse:
    """Send `request` until a final response to it (matched by its Via branch) comes, once
    over a reliable transport; TimeoutError after Timer F."""
    branch = request.via[0].branch
    interval: float | None = None if reliable else T1_S  # None: no retransmission (TCP)
    send(request)
    async with asyncio.timeout(TIMER_F_S):
        while True:
            try:
                async with asyncio.timeout(interval):
                    while True:
                        response = await responses.get()
                        vias = response.via
                        if vias and vias[0].branch == branch:
                            if response.status_code >= 200:
                                return response
                            if interval is not None:
                                interval = T2_S  # after a provisional: every T2 (Timer E)
            except TimeoutError:
                send(request)
                interval = min(2 * (interval or T1_S), T2_S)


def _keep_response(
    message: SipRequest | SipResponse, responses: asyncio.Queue[SipResponse]
) -> None:
    if isinstance(message, SipResponse):
        responses.put_nowait(message)


class Responses(asyncio.DatagramProtocol):
    """A socket's SIP responses, into a queue (requests and anything else are dropped)."""

    def __init__(self, responses: asyncio.Queue[SipResponse]) -> None:
        self._responses = responses

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            message = SipMessage.parse(data)
        except Exception:  # not SIP, or malformed: nothing this transaction waits for
            return
        if isinstance(message, SipResponse):
            self._responses.put_nowait(message)


def route_to(address: str) -> str:
    """The local address the system would send to `address` from (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((address, 9))
        return str(probe.getsockname()[0])
