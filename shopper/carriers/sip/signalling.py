"""The INVITE dialog of one call, through aiosipua 0.7.1 (only this module, `registration`,
which registers through this dialog's socket, and `bye` and `cancel`, which end an answered
dialog or a ringing INVITE from another process, import it).

aiosipua builds and parses the messages, answers digest challenges (401 and 407, MD5 and
SHA-256, once), PRACKs reliable provisionals, ACKs 2xx, and answers in-dialog BYE and
re-INVITE. This module adds what the call needs from it and works around its defects:

- it sends no ACK for a non-2xx final response (401/407 challenges, 486, 487 after CANCEL),
  which RFC 3261 §17.1.1.3 requires and without which a PBX retransmits the response until it
  gives up: every INVITE sent is remembered by its branch, and each non-2xx final response to
  one is ACKed here (retransmissions too);
- its UDP protocol asserts `isinstance(transport, asyncio.DatagramTransport)`, false on
  CPython 3.11: the socket is opened here with a protocol that does not;
- its Via always says UDP and its TCP transport answers by Via rather than on the request's
  connection: over TCP the transport is shopper's (shopper.carriers.sip.stream), which says
  TCP in Via and Contact; TLS is refused early (shopper.carriers.sip.target);
- it drops extra headers when it rebuilds an INVITE to answer a challenge: the Route to the
  outbound proxy is added to every INVITE as it goes out;
- it does not retransmit an INVITE over UDP: an INVITE nothing has answered is sent again
  after 0.5 s, then at doubling intervals up to 4 s (RFC 3261 Timer A), until a response
  (not over TCP, which is reliable: §17.1.1.2).

Once the call is answered, what a BYE from another process needs (shopper.carriers.sip.bye:
aiosipua keeps neither the 200's Contact nor its Record-Route) goes to a watcher, again
after each INFO (its CSeq); before, what a CANCEL from another process needs
(shopper.carriers.sip.cancel), as each INVITE goes out and once a provisional gives a tag.
Every message in either direction goes to the trace, if one is kept. What the far end says
reaches the call as `DialogListener` calls, each with the media time it arrived at.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol

from aiosipua import (
    IncomingCall,
    OutgoingCall,
    SipDigestAuth,
    SipRequest,
    SipResponse,
    SipUAC,
    SipUAS,
    UdpSipTransport,
    parse_sdp,
)
from aiosipua.transport import MessageCallback

from shopper.carriers.sip.bye import AnsweredDialog, answered_dialog
from shopper.carriers.sip.cancel import RingingInvite, ringing_invite, with_provisional
from shopper.carriers.sip.keys import DTMF_RELAY, dtmf_relay_body
from shopper.carriers.sip.settings import Transport
from shopper.carriers.sip.stream import TcpSipTransport
from shopper.carriers.sip.trace import Direction, SipTrace

log = logging.getLogger(__name__)
T1_S = 0.5
T2_S = 4.0
"""RFC 3261's retransmission timers for a request over UDP."""


@dataclass(frozen=True, slots=True)
class MediaOffer:
    """Where and how the far end wants audio: from an SDP body."""

    address: tuple[str, int]
    payload_types: tuple[int, ...]
    event_type: int | None
    direction: str


class DialogListener(Protocol):
    def provisional(self, code: int, reason: str, media: MediaOffer | None) -> None: ...

    def answered(self, media: MediaOffer | None) -> None: ...

    def rejected(self, code: int, reason: str, authenticated: bool) -> None: ...

    def remote_bye(self) -> None: ...

    def unreachable(self, detail: str) -> None: ...

    def reoffered(self, media: MediaOffer) -> None: ...


def read_offer(body: str) -> MediaOffer | None:
    """The audio stream an SDP body describes (None when there is none or it is malformed)."""
    try:
        sdp = parse_sdp(body)
    except Exception:
        return None
    address = sdp.rtp_address
    audio = sdp.audio
    if address is None or audio is None:
        return None
    event = next(
        (c.payload_type for c in audio.codecs if c.encoding_name.lower() == "telephone-event"),
        None,
    )
    types = tuple(int(f) for f in audio.formats if f.isdigit())
    return MediaOffer((address[0], int(address[1])), types, event, audio.direction)


def offer_sdp(address: str, port: int, payload_types: tuple[int, ...], direction: str) -> str:
    """Our SDP: G.711 in preference order, telephone-event 101 for keys (RFC 4733)."""
    names = {0: "PCMU", 8: "PCMA"}
    formats = " ".join(str(t) for t in (*payload_types, 101))
    lines = [
        "v=0",
        f"o=shopper {port} {port} IN IP4 {address}",
        "s=shopper",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {formats}",
        *(f"a=rtpmap:{t} {names[t]}/8000" for t in payload_types),
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        f"a={direction}",
    ]
    return "\r\n".join(lines) + "\r\n"


class SipDialog:
    def __init__(
        self,
        listener: DialogListener,
        local_address: str,
        remote: tuple[str, int],
        trace: SipTrace | None,
        media_time: Callable[[], float],
        transport: Transport = "udp",
    ) -> None:
        self._listener = listener
        self._remote = remote
        self._trace = trace
        self._media_time = media_time
        self._transport_kind = transport
        self._transport: _TracedUdpTransport | TcpSipTransport
        if transport == "tcp":
            self._transport = TcpSipTransport((local_address, 0))
            self._transport.on_unreachable = self._unreachable
        else:
            self._transport = _TracedUdpTransport(local_addr=(local_address, 0))
        self._transport.on_sent = self.sent
        self._uac = SipUAC(self._transport)
        self._uas = SipUAS(self._transport, uac=self._uac, user_agent="shopper")
        self._uas.on_bye = self._on_bye
        self._uas.on_reinvite = self._on_reinvite
        self._invites: dict[str, SipRequest] = {}
        self._call: OutgoingCall | None = None
        self._answered = False
        self._finished = False
        self._local_sdp = ""
        self._route: str | None = None
        self._responded: set[str] = set()
        self._retransmitter: asyncio.Task[None] | None = None
        self._answered_dialog: AnsweredDialog | None = None
        self._on_answered_dialog: Callable[[AnsweredDialog], None] | None = None
        self._ringing_invite: RingingInvite | None = None
        self._on_ringing_invite: Callable[[RingingInvite], None] | None = None
        self.heard = False
        """Whether the far end has answered the INVITE at all (any response)."""
        self.settled = asyncio.Event()
        """Set by the final response to the INVITE or the response to our BYE."""

    async def start(self) -> None:
        """Open the SIP socket (over TCP, listen and connect to the next hop: OSError when
        it refuses)."""
        await self._uas.start()
        if isinstance(self._transport, TcpSipTransport):
            try:
                await self._transport.connect(self._remote)
            except OSError:
                await self._uas.stop()
                raise
        inner = self._transport.on_message
        assert inner is not None

        def on_message(message: SipRequest | SipResponse, source: tuple[str, int]) -> None:
            self._trace_message("received", source, message)
            if isinstance(message, SipResponse):
                self._response(message, source, inner)
            else:
                inner(message, source)

        self._transport.on_message = on_message

    def invite(
        self,
        from_uri: str,
        to_uri: str,
        sdp: str,
        auth: SipDigestAuth | None,
        proxy: tuple[str, int] | None,
    ) -> None:
        """Send the INVITE (to the outbound proxy, when there is one, with a loose Route)."""
        self._local_sdp = sdp
        self._route = f"<sip:{proxy[0]}:{proxy[1]};lr>" if proxy is not None else None
        self._call = self._uac.send_invite(
            from_uri, to_uri, self._remote, parse_sdp(sdp), user_agent="shopper", auth=auth
        )
        if not self.reliable:
            self._retransmitter = asyncio.get_running_loop().create_task(self._retransmit())

    async def _retransmit(self) -> None:
        """Send the current INVITE again until something answers it (Timer A)."""
        interval = T1_S
        while not self._finished and self._call is not None:
            await asyncio.sleep(interval)
            invite = self._call.invite
            vias = invite.via
            branch = vias[0].branch if vias else None
            if self._finished or branch is None or branch in self._responded:
                if self._answered or self._finished:
                    return
                interval = T1_S  # a retried INVITE (auth) starts its own timer
                continue
            self._transport.send(invite, self._remote)
            interval = min(2 * interval, T2_S)

    def send_key(self, key: str, duration_ms: int) -> bool:
        """Send `key` as a SIP INFO (application/dtmf-relay) in the answered dialog; False
        when there is none to send it in (not answered yet, or ended): the key is lost, as
        it would be on a phone."""
        call = self._call
        if call is None or not self._answered or self._finished:
            log.warning("key %r not sent as SIP INFO: the call is not answered", key)
            return False
        body = dtmf_relay_body(key, duration_ms)
        self._uac.send_info(call.dialog, body, DTMF_RELAY, call.remote_addr)
        if self._answered_dialog is not None:  # the INFO used a CSeq: a later BYE needs more
            self._report_dialog(
                replace(self._answered_dialog, next_cseq=call.dialog.local_cseq + 1)
            )
        return True

    def watch_answered_dialog(self, watcher: Callable[[AnsweredDialog], None]) -> None:
        """Tell `watcher` what a BYE from another process needs (shopper.carriers.sip.bye),
        when the call is answered (at once if it is already) and whenever that changes."""
        self._on_answered_dialog = watcher
        if self._answered_dialog is not None:
            watcher(self._answered_dialog)

    def watch_ringing_invite(self, watcher: Callable[[RingingInvite], None]) -> None:
        """Tell `watcher` what a CANCEL from another process needs
        (shopper.carriers.sip.cancel), at once and whenever that changes (a new INVITE after
        a challenge, the early dialog a provisional begins)."""
        self._on_ringing_invite = watcher
        if self._ringing_invite is not None:
            watcher(self._ringing_invite)

    def _report_invite(self, invite: RingingInvite | None) -> None:
        if invite is None or invite == self._ringing_invite:
            return
        self._ringing_invite = invite
        if self._on_ringing_invite is not None:
            self._on_ringing_invite(invite)

    def _report_dialog(self, dialog: AnsweredDialog) -> None:
        self._answered_dialog = dialog
        if self._on_answered_dialog is not None:
            self._on_answered_dialog(dialog)

    @property
    def uac(self) -> SipUAC:
        """aiosipua's client side of this call's socket (shopper.carriers.sip.registration
        registers through it)."""
        return self._uac

    @property
    def reliable(self) -> bool:
        """Whether the transport delivers by itself (TCP): no retransmission timers then."""
        return self._transport.reliable

    @property
    def transport_name(self) -> str:
        """UDP or TCP, as a trace and a message name it."""
        return self._transport.name

    @property
    def remote(self) -> tuple[str, int]:
        """Where every request goes: the outbound proxy, else the target's host."""
        return self._remote

    @property
    def sip_call_id(self) -> str:
        return self._call.call_id if self._call is not None else ""

    def end(self) -> str | None:
        """End the dialog from our side: BYE once answered, CANCEL before; the method sent
        (none when nothing answered the INVITE: RFC 3261 forbids a CANCEL before a response)."""
        call = self._call
        if call is None or self._finished:
            return None
        self._finished = True
        if not self.heard:
            return None
        if self._answered:
            call.hangup(self._uac)
            return "BYE"
        call.cancel(self._uac)
        return "CANCEL"

    async def close(self) -> None:
        if self._retransmitter is not None:
            self._retransmitter.cancel()
        await self._uas.stop()

    # --- what comes back ----------------------------------------------------------------------

    def _response(
        self, response: SipResponse, source: tuple[str, int], inner: MessageCallback
    ) -> None:
        cseq = response.cseq
        if cseq is None or cseq.method.upper() != "INVITE":
            inner(response, source)
            if cseq is not None and cseq.method.upper() == "BYE":
                self.settled.set()
            return
        self.heard = True
        vias = response.via
        if vias and vias[0].branch:
            self._responded.add(vias[0].branch)
        code = response.status_code
        if code >= 300:
            self._ack(response, source)
        call = self._call
        attempts = call._auth_attempts if call is not None else 0
        inner(response, source)
        if code >= 200:
            self.settled.set()
        if call is None or self._finished:
            return
        if code == 100:
            return  # Trying: the next hop has the INVITE; it says nothing about the call
        media = read_offer(response.text) if response.body else None
        if code < 200:
            if self._ringing_invite is not None:
                self._report_invite(with_provisional(self._ringing_invite, response))
            self._listener.provisional(code, response.reason_phrase, media)
        elif code < 300 and not self._answered:
            self._answered = True
            self._report_dialog(
                answered_dialog(call.dialog, response, self._remote, self._transport_kind)
            )
            self._listener.answered(media)
        elif code >= 300 and call._auth_attempts == attempts and not self._answered:
            self._finished = True
            self._listener.rejected(code, response.reason_phrase, attempts > 0)

    def _ack(self, response: SipResponse, source: tuple[str, int]) -> None:
        """ACK a non-2xx final response in its INVITE's transaction (aiosipua does not)."""
        vias = response.via
        invite = self._invites.get(vias[0].branch or "") if vias else None
        if invite is None:
            return
        ack = SipRequest(method="ACK", uri=invite.uri)
        for name in ("Via", "From", "Call-ID"):
            value = invite.headers.get_first(name)
            if value is not None:
                ack.headers.set_single(name, value)
        to = response.headers.get_first("To")
        if to is not None:
            ack.headers.set_single("To", to)
        cseq = invite.cseq
        ack.headers.set_single("CSeq", f"{cseq.seq if cseq else 1} ACK")
        ack.headers.set_single("Max-Forwards", "70")
        for route in invite.headers.get("route"):
            ack.headers.append("Route", route)
        self._transport.send(ack, self._remote)

    def _unreachable(self, address: tuple[str, int], error: OSError) -> None:
        """The connection to the next hop could not be (re)opened: a request waiting for it
        is lost. Before the answer that ends the call as a transport error (RFC 3261
        §8.1.3.1: as a 503); after it, the BYE or key that was waiting is lost like a
        datagram nobody received."""
        if not self._answered and not self._finished:
            self._finished = True
            self._listener.unreachable(
                f"the TCP connection to {address[0]}:{address[1]} could not be reopened "
                f"({error.strerror or error})"
            )
        if self._finished:  # nothing will answer the CANCEL or BYE that waited for it
            self.settled.set()

    def _on_bye(self, call: IncomingCall, request: SipRequest) -> None:
        if request.call_id == self.sip_call_id and not self._finished:
            self._finished = True
            self._listener.remote_bye()

    def _on_reinvite(self, call: IncomingCall) -> None:
        """A re-INVITE (hold, resume, a new media address): answer with our SDP, the
        direction mirrored as RFC 3264 says, and tell the call."""
        media = read_offer(call.invite.text) if call.invite.body else None
        direction = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}
        ours = self._local_sdp
        if media is not None:
            mirrored = direction.get(media.direction, "sendrecv")
            ours = ours.replace("a=sendrecv", f"a={mirrored}")
        call.accept(parse_sdp(ours))
        if media is not None:
            self._listener.reoffered(media)

    # --- the trace ---------------------------------------------------------------------------

    def sent(self, message: SipRequest | SipResponse, destination: tuple[str, int]) -> None:
        """Every message on its way out: INVITEs are remembered (for the ACK of a non-2xx
        answer) and get the Route to the outbound proxy, which aiosipua drops when it
        rebuilds an INVITE to answer a challenge; then the trace."""
        if isinstance(message, SipRequest) and message.method == "INVITE":
            if self._route is not None and not message.headers.get("route"):
                message.headers.append("Route", self._route)
            vias = message.via
            if vias and vias[0].branch:
                if vias[0].branch not in self._invites:
                    self._report_invite(ringing_invite(message, destination))
                self._invites[vias[0].branch] = message
        self._trace_message("sent", destination, message)

    def _trace_message(
        self, direction: Direction, address: tuple[str, int], message: SipRequest | SipResponse
    ) -> None:
        if self._trace is not None:
            self._trace.message(direction, address, message.serialize(), self._media_time())


class _TracedUdpTransport(UdpSipTransport):
    """aiosipua's UDP transport, opened without its 3.11 assertion and reporting each
    message it sends."""

    name: ClassVar[str] = "UDP"
    on_sent: Callable[[SipRequest | SipResponse, tuple[str, int]], None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self), local_addr=self.local_addr, family=socket.AF_INET
        )
        self._udp_transport = transport
        sockname = transport.get_extra_info("sockname")
        self.local_addr = (str(sockname[0]), int(sockname[1]))

    def send(self, message: SipRequest | SipResponse, addr: tuple[str, int]) -> None:
        if self.on_sent is not None:
            self.on_sent(message, addr)
        super().send(message, addr)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, owner: _TracedUdpTransport) -> None:
        self._owner = owner

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._owner._dispatch(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP socket error: %s", exc)
