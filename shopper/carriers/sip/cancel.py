"""Cancelling a ringing SIP call from another process: what a CANCEL needs, and sending it.

A fleet worker killed while its call rings leaves the INVITE pending at the far end: it
keeps ringing, and may be answered into nothing. RFC 3261 §9.1 builds a CANCEL from the
INVITE alone (its Request-URI, Call-ID, From with its tag, To, CSeq number, top Via with the
same branch, Route headers; sent where the INVITE went), so the call records those as each
INVITE goes out (`RingingInvite`; no credentials: a CANCEL cannot be challenged, §22.1),
and, from a provisional response with a To tag, the early dialog (the far end's tag, its
Contact and Record-Route). The worker that takes the run back sends the CANCEL
(`cancel_invite`).

Where the answers go. The CANCEL's top Via must equal the INVITE's (§9.1; a far end that
matches transactions by sent-by as well as branch, §17.2.3, would not find it otherwise),
so it names the dead worker's address. Two things still bring the answers to this process:
- the INVITE's Via asks for rport (RFC 3581; aiosipua's always does), so a far end that
  honours it answers the CANCEL to the address the CANCEL came from;
- when the dead worker's address is free on this machine (the run taken back on the same
  host), the CANCEL is sent from it, and every answer comes there, those to the INVITE too:
  its 487 is ACKed, and a 200 (the far end answered meanwhile) is ACKed and the call hung
  up with a BYE in the 200's dialog.

What the answers mean: 200 to the CANCEL, the INVITE was still pending and ends with 487.
481, the far end has no INVITE transaction any more: it answered (into nothing), refused or
timed the call out; with an early dialog recorded, an ACK and a BYE built from it end the
call if it was answered (a 200 carries its provisional's tag and Contact unless a proxy
forked the call), and a 481 to that BYE says nothing was up. No answer within 32 s (Timer
F): unknown, e.g. a far end that ignores rport answered the dead worker's address.

RFC 3261 forbids a CANCEL before any provisional response (§9.1), so that it cannot
overtake its INVITE; the takeover comes after stall detection, tens of seconds later, when
the INVITE has long arrived or been lost, so the CANCEL is sent whatever was heard.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, replace
from typing import Any

from aiosipua import SipRequest, SipResponse, parse_address, parse_via, stringify_uri
from aiosipua.dialog import Dialog

from shopper.carriers.sip.bye import (
    ALREADY_GONE,
    T1_S,
    T2_S,
    TIMER_F_S,
    AnsweredDialog,
    ByeOutcome,
    Responses,
    answered_dialog,
    route_to,
    send_bye,
)
from shopper.carriers.sip.settings import SipSettings

INVITE_AFTER_CANCEL_S = 64 * T1_S
"""How long after its CANCEL the INVITE's own final response may take (RFC 3261 §9.1);
waited for only on the dead worker's address, the one place that response comes to."""


@dataclass(frozen=True, slots=True)
class RingingInvite:
    """An INVITE nothing has answered finally yet, as a CANCEL from another process needs it
    (RFC 3261 §9.1), with the early dialog a provisional response began, if any."""

    request_uri: str
    call_id: str
    via: str
    """The INVITE's top Via, verbatim (its branch, the dead worker's sent-by, rport)."""
    from_header: str
    to_header: str
    cseq: int
    routes: tuple[str, ...]
    remote: tuple[str, int]
    """Where the INVITE was sent (the outbound proxy, else the target's host)."""
    remote_tag: str | None = None
    """The To tag of a provisional response: the early dialog's."""
    remote_target: str | None = None
    """That provisional's Contact."""
    route_set: tuple[str, ...] = ()
    """That provisional's Record-Route, reversed."""

    @property
    def over_tcp(self) -> bool:
        """Whether the INVITE went over TCP (its Via says so): a CANCEL from another process
        is built for UDP only."""
        return parse_via(self.via).transport.upper() == "TCP"

    @property
    def sent_by(self) -> tuple[str, int]:
        """The dead worker's address, as its Via names it."""
        via = parse_via(self.via)
        return (via.host, via.port or 5060)

    def to_json(self) -> dict[str, Any]:
        return {
            "request_uri": self.request_uri,
            "call_id": self.call_id,
            "via": self.via,
            "from": self.from_header,
            "to": self.to_header,
            "cseq": self.cseq,
            "routes": list(self.routes),
            "remote": [self.remote[0], self.remote[1]],
            "remote_tag": self.remote_tag,
            "remote_target": self.remote_target,
            "route_set": list(self.route_set),
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> RingingInvite:
        host, port = document["remote"]
        tag = document.get("remote_tag")
        target = document.get("remote_target")
        return cls(
            request_uri=str(document["request_uri"]),
            call_id=str(document["call_id"]),
            via=str(document["via"]),
            from_header=str(document["from"]),
            to_header=str(document["to"]),
            cseq=int(document["cseq"]),
            routes=tuple(str(route) for route in document["routes"]),
            remote=(str(host), int(port)),
            remote_tag=None if tag is None else str(tag),
            remote_target=None if target is None else str(target),
            route_set=tuple(str(route) for route in document.get("route_set", ())),
        )


def ringing_invite(invite: SipRequest, remote: tuple[str, int]) -> RingingInvite | None:
    """What cancelling `invite` (as it goes out to `remote`) takes; None for a malformed one."""
    headers = invite.headers
    via, sender, to = headers.get_first("via"), headers.get_first("from"), headers.get_first("to")
    cseq = invite.cseq
    if via is None or sender is None or to is None or cseq is None or not invite.call_id:
        return None
    return RingingInvite(
        request_uri=invite.uri,
        call_id=invite.call_id,
        via=via,
        from_header=sender,
        to_header=to,
        cseq=cseq.seq,
        routes=tuple(headers.get("route")),
        remote=remote,
    )


def with_provisional(invite: RingingInvite, response: SipResponse) -> RingingInvite:
    """`invite` with the early dialog a provisional response to it begins (the first one
    with a To tag; later ones of the same dialog change nothing)."""
    to, vias = response.to_addr, response.via
    if to is None or not to.tag or invite.remote_tag is not None:
        return invite
    if not vias or vias[0].branch != parse_via(invite.via).branch:
        return invite  # a late answer to an INVITE before this one (a challenged one)
    contacts = [contact.uri for contact in response.contact if contact.uri.host]
    return replace(
        invite,
        remote_tag=to.tag,
        remote_target=stringify_uri(contacts[0]) if contacts else None,
        route_set=tuple(reversed(response.headers.get("record-route"))),
    )


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """What the far end said, as far as it came to this process."""

    cancel: SipResponse | None
    """The final response to the CANCEL; None when none came within Timer F."""
    invite: SipResponse | None
    """The INVITE's final response, when it came here (only on the dead worker's address)."""
    bye: ByeOutcome | None
    """The BYE's outcome, when the call may have been answered and a dialog was known."""
    where: str

    def summary(self, call_id: str) -> str:
        """One line for the attempt's note."""
        if self.bye is not None:
            return self._bye_summary(call_id, self.bye)
        if self.invite is not None:
            return (
                f"SIP INVITE {call_id} cancelled: {self._status(self.cancel)} to the CANCEL "
                f"sent to {self.where}, {self._status(self.invite)} to the INVITE (ACKed)"
            )
        if self.cancel is None:
            return (
                f"CANCEL for SIP INVITE {call_id} sent to {self.where}: no response within "
                f"{TIMER_F_S:g} s (a far end that ignores rport answers the dead worker's "
                "address)"
            )
        status = self._status(self.cancel)
        if self.cancel.status_code == ALREADY_GONE:
            return (
                f"SIP INVITE {call_id} was no longer pending ({status} to the CANCEL): "
                "answered, refused or timed out meanwhile; no provisional with a To tag was "
                "recorded to build a BYE from (an answer nobody ACKs is ended by the far end "
                "after 32 s, RFC 3261 §13.3.1.4)"
            )
        if 200 <= self.cancel.status_code < 300:
            return f"SIP INVITE {call_id} cancelled ({status} to the CANCEL sent to {self.where})"
        return f"CANCEL for SIP INVITE {call_id} refused by {self.where}: {status}"

    def _bye_summary(self, call_id: str, bye: ByeOutcome) -> str:
        if self.invite is not None:
            why = (
                f"was answered after its worker died ({self._status(self.cancel)} to the "
                "CANCEL, then the 200 to the INVITE came here): ACKed"
            )
        else:
            why = (
                f"was no longer pending ({self._status(self.cancel)} to the CANCEL): ACK and "
                "BYE in the dialog its provisional began"
            )
        status = f"{bye.code} {bye.reason}".rstrip() if bye.code is not None else bye.reason
        if bye.code == ALREADY_GONE:
            return f"SIP INVITE {call_id} {why}; nothing was up ({status} to the BYE)"
        if bye.ended:
            return f"SIP INVITE {call_id} {why}; hung up with a BYE ({status})"
        return f"SIP INVITE {call_id} {why}; the BYE got {status}"

    @staticmethod
    def _status(response: SipResponse | None) -> str:
        if response is None:
            return "no response"
        return f"{response.status_code} {response.reason_phrase}".rstrip()


async def cancel_invite(invite: RingingInvite, settings: SipSettings) -> CancelOutcome:
    """CANCEL `invite` from this process (from the dead worker's address when it is free
    here, else from a new socket on the trunk's `local_address` or the route to the far
    end), retransmitting as RFC 3261 §17.1.2.2 says until a final response or Timer F; ACK
    the INVITE's final response if it comes here; when the far end may have answered, ACK
    and BYE the call."""
    responses: asyncio.Queue[SipResponse] = asyncio.Queue()
    transport, at_worker_address = await _open_socket(invite, settings, responses)
    dialog: AnsweredDialog | None = None
    try:
        host, port = transport.get_extra_info("sockname")[:2]
        cancel, final = await _exchange(transport, invite, responses, at_worker_address)
        if final is not None and final.status_code >= 300:
            transport.sendto(bytes(_ack_of_failure(invite, final)), invite.remote)
        elif final is not None:
            dialog = answered_dialog(_invite_dialog(invite), final, invite.remote, "udp")
        elif cancel is not None and cancel.status_code == ALREADY_GONE:
            dialog = early_dialog(invite)
        if dialog is not None:  # an ACK for a 2xx: its own transaction, in the dialog
            ack = replace(dialog, next_cseq=invite.cseq).requests()
            request = ack.create_request("ACK", via_host=str(host), via_port=int(port))
            transport.sendto(bytes(request), dialog.remote)
    finally:
        transport.close()
    bye = await send_bye(dialog, settings) if dialog is not None else None
    return CancelOutcome(cancel, final, bye, f"{invite.remote[0]}:{invite.remote[1]}")


def early_dialog(invite: RingingInvite) -> AnsweredDialog | None:
    """The dialog a provisional response began, as a BYE needs it (None without a To tag)."""
    if invite.remote_tag is None:
        return None
    local = parse_address(invite.from_header)
    return AnsweredDialog(
        call_id=invite.call_id,
        local_tag=local.tag or "",
        remote_tag=invite.remote_tag,
        local_uri=stringify_uri(local.uri),
        remote_uri=stringify_uri(parse_address(invite.to_header).uri),
        remote_target=invite.remote_target or invite.request_uri,
        route_set=invite.route_set,
        next_cseq=invite.cseq + 1,
        remote=invite.remote,
    )


def _invite_dialog(invite: RingingInvite) -> Dialog:
    """The INVITE's dialog before its answer, for `answered_dialog` to complete."""
    local = parse_address(invite.from_header)
    return Dialog(
        call_id=invite.call_id,
        local_tag=local.tag or "",
        local_uri=stringify_uri(local.uri),
        remote_uri=stringify_uri(parse_address(invite.to_header).uri),
        remote_target=invite.request_uri,
        local_cseq=invite.cseq,
    )


async def _open_socket(
    invite: RingingInvite, settings: SipSettings, responses: asyncio.Queue[SipResponse]
) -> tuple[asyncio.DatagramTransport, bool]:
    """A UDP socket on the dead worker's address if it can be bound here (True), else on a
    new port of the trunk's `local_address` or the route to the far end (False)."""
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Responses(responses), local_addr=invite.sent_by, family=socket.AF_INET
        )
        return transport, True
    except OSError:  # not an address of this machine, or its port is taken
        pass
    local = settings.local_address or route_to(invite.remote[0])
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Responses(responses), local_addr=(local, 0), family=socket.AF_INET
    )
    return transport, False


async def _exchange(
    transport: asyncio.DatagramTransport,
    invite: RingingInvite,
    responses: asyncio.Queue[SipResponse],
    await_invite: bool,
) -> tuple[SipResponse | None, SipResponse | None]:
    """Send the CANCEL until its final response or Timer F (Timer E from T1 doubling to T2);
    collect the INVITE's final response if one comes first, or, with `await_invite`, after a
    200 to the CANCEL (for up to 64 T1). The final responses to the CANCEL and the INVITE."""
    data = bytes(_cancel_request(invite))
    branch = parse_via(invite.via).branch
    clock = asyncio.get_running_loop().time
    started = clock()
    cancel: SipResponse | None = None
    final: SipResponse | None = None
    interval = T1_S
    transport.sendto(data, invite.remote)
    while final is None:
        if cancel is None:
            wait = min(interval, started + TIMER_F_S - clock())
        elif await_invite and 200 <= cancel.status_code < 300:
            wait = started + INVITE_AFTER_CANCEL_S - clock()
        else:
            break
        if wait <= 0:
            break
        try:
            async with asyncio.timeout(wait):
                response = await responses.get()
        except TimeoutError:
            if cancel is None:
                transport.sendto(data, invite.remote)
                interval = min(2 * interval, T2_S)
            continue
        vias, cseq = response.via, response.cseq
        if not vias or vias[0].branch != branch or cseq is None or response.status_code < 200:
            continue
        if cseq.method == "CANCEL":
            cancel = cancel or response
        elif cseq.method == "INVITE":
            final = response
    return cancel, final


def _cancel_request(invite: RingingInvite) -> SipRequest:
    """The CANCEL of RFC 3261 §9.1: the INVITE's Request-URI, top Via, From, To, Call-ID,
    CSeq number and Route headers."""
    cancel = SipRequest(method="CANCEL", uri=invite.request_uri)
    cancel.headers.append("Via", invite.via)
    _copy_invite_headers(invite, cancel, invite.to_header, "CANCEL")
    return cancel


def _ack_of_failure(invite: RingingInvite, final: SipResponse) -> SipRequest:
    """The ACK of a non-2xx final response (RFC 3261 §17.1.1.3): in the INVITE's
    transaction (its Via), with the response's To."""
    ack = SipRequest(method="ACK", uri=invite.request_uri)
    ack.headers.append("Via", invite.via)
    _copy_invite_headers(invite, ack, final.headers.get_first("To") or invite.to_header, "ACK")
    return ack


def _copy_invite_headers(invite: RingingInvite, request: SipRequest, to: str, method: str) -> None:
    request.headers.set_single("From", invite.from_header)
    request.headers.set_single("To", to)
    request.headers.set_single("Call-ID", invite.call_id)
    request.headers.set_single("CSeq", f"{invite.cseq} {method}")
    request.headers.set_single("Max-Forwards", "70")
    for route in invite.routes:
        request.headers.append("Route", route)
