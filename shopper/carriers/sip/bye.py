"""Hanging up an answered SIP call from another process: what a BYE needs, and sending it.

A fleet worker killed mid-call leaves its SIP dialog up at the far end (until the PBX's
session timer or RTP timeout). A dialog is not tied to the socket that made it (RFC 3261
§12): a BYE with the dialog's Call-ID, tags, URIs, route set and a higher CSeq, sent to the
same next hop, ends it from any socket. So the call keeps an `AnsweredDialog` (no credentials
in it) for the fleet's ledger, and the worker that takes the run back sends the BYE from a
fresh socket of its own (`send_bye`), built with aiosipua's message classes.

Limits: UDP only (like the call); the response to the BYE comes back to the new socket (its
Via and rport), not the dead one's; a dialog that was never answered is not recorded (an
unanswered INVITE ends at the far end's ring timeout).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

from aiosipua import SipDigestAuth, SipMessage, SipRequest, SipResponse, stringify_uri
from aiosipua.auth import answer_challenge
from aiosipua.dialog import Dialog, DialogState

from shopper.carriers.sip.settings import SipSettings

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


def answered_dialog(dialog: Dialog, ok: SipResponse, remote: tuple[str, int]) -> AnsweredDialog:
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


async def send_bye(dialog: AnsweredDialog, settings: SipSettings) -> ByeOutcome:
    """Send a BYE for `dialog` from a new UDP socket (on the trunk's `local_address`, else
    the route to the next hop) and wait for its final response, retransmitting as RFC 3261
    §17.1.2.2 says (Timer E from T1 doubling to T2, Timer F); a 401 or 407 is answered once
    with the trunk's credentials, when it has a password."""
    loop = asyncio.get_running_loop()
    responses: asyncio.Queue[SipResponse] = asyncio.Queue()
    auth = SipDigestAuth(settings.user, settings.password) if settings.password else None
    local = settings.local_address or route_to(dialog.remote[0])
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Responses(responses), local_addr=(local, 0), family=socket.AF_INET
    )
    try:
        host, port = transport.get_extra_info("sockname")[:2]
        state = dialog.requests()
        bye = state.create_request("BYE", via_host=str(host), via_port=int(port))
        answer = await _transaction(transport, bye, dialog.remote, responses)
        if answer.status_code in (401, 407) and auth is not None:
            challenge = answer_challenge(auth, answer, answer.status_code, "BYE", bye.uri)
            if challenge is not None:
                bye = state.create_request("BYE", via_host=str(host), via_port=int(port))
                bye.headers.set_single(*challenge)
                answer = await _transaction(transport, bye, dialog.remote, responses)
        return ByeOutcome(answer.status_code, answer.reason_phrase)
    except TimeoutError:
        return ByeOutcome(None, f"no final response within {TIMER_F_S:g} s")
    finally:
        transport.close()


async def _transaction(
    transport: asyncio.DatagramTransport,
    request: SipRequest,
    remote: tuple[str, int],
    responses: asyncio.Queue[SipResponse],
) -> SipResponse:
    """Send `request` until a final response to it (matched by its Via branch) comes;
    TimeoutError after Timer F."""
    branch = request.via[0].branch
    data = bytes(request)
    interval = T1_S
    transport.sendto(data, remote)
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
                            interval = T2_S  # after a provisional: every T2 (Timer E)
            except TimeoutError:
                transport.sendto(data, remote)
                interval = min(2 * interval, T2_S)


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
