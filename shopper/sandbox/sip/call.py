"""One INVITE's life: a fresh simulated phone system in real time, signalled as a network would.

Media time 0 is the INVITE's arrival; the phone runs from then on, one frame per tick of the
media clock, whether or not anyone hears it yet. Its signalling maps onto SIP like this:

- a busy line (`answer: {busy: true}`) is answered `486 Busy Here` at once;
- a line that rings sends `180 Ringing` (no early media: the caller's side plays ringback, as
  on a real SIP trunk) and `200 OK` with SDP when the phone picks up; a line that never
  answers rings until the caller CANCELs;
- a line whose first node (the one entered when it picks up) is a Special Information Tone
  (`tone: sit-*`, usually followed by a "not in service" announcement) is an intercept: the
  network plays it as early media (`183 Session Progress` with SDP) and never answers; when
  the phone hangs up the INVITE gets the final response ISUP-to-SIP mapping (RFC 3398) gives
  that kind of intercept (`SIT_RESPONSES`);
- the IVR hanging up after answering sends BYE; the caller's BYE or CANCEL ends the phone.

The caller's audio (RTP) is the phone's input from the answer on, with RFC 4733 key events
regenerated as tones (shopper.sandbox.sip.keys); in-band tones pass through as they are. The
call's RTP stream is its clock (shopper.sandbox.sip.media): one frame each time the stream
releases the caller's next 20 ms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
from aiosipua import IncomingCall, SdpNegotiationError, serialize_sdp

from shopper.audio.frame import TELEPHONY_RATE, AudioFrame, Samples
from shopper.carriers.base import CarrierError
from shopper.sandbox.model import Tone
from shopper.sandbox.phone import SandboxPhone
from shopper.sandbox.sip.keys import KeyTones
from shopper.sandbox.sip.media import CallMedia
from shopper.sandbox.truth import EndedBy

logger = logging.getLogger(__name__)

CallState = Literal["ringing", "early", "answered", "ended"]

SIT_RESPONSES: dict[str, tuple[int, str]] = {
    "sit-vacant": (404, "Not Found"),
    "sit-intercept": (410, "Gone"),
    "sit-ineffective": (484, "Address Incomplete"),
    "sit-reorder": (503, "Service Unavailable"),
    "sit-no-circuit": (503, "Service Unavailable"),
}
"""Final response after an intercept: vacant number 404 (ISUP cause 1), changed or
disconnected number 410 (cause 22), misdialled 484 (cause 28), no circuit or equipment
trouble 503 (causes 34, 41)."""

NO_RTP_S = 60.0
"""An answered call from which no RTP has arrived for this long is dead: the phone system
hangs up (BYE), as a PBX's RTP timeout would, so a caller that vanished frees its call."""


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """How a served call ended, for the server's log line."""

    state_reached: CallState
    ended_by: EndedBy
    reason: str
    keys: tuple[str, ...]


class ServedCall:
    """A caller's INVITE and the phone system answering it."""

    def __init__(self, invite: IncomingCall, phone: SandboxPhone) -> None:
        self.invite = invite
        self.phone = phone
        self._state: CallState = "ringing"
        self._reached: CallState = "ringing"
        self._media: CallMedia | None = None
        self._keys = KeyTones()
        self._stop: tuple[EndedBy, str] | None = None
        self._intercept: tuple[int, str] | None = None
        self._answered_at = 0
        self._rang = False

    @property
    def state(self) -> CallState:
        return self._state

    async def run(self, local_ip: str) -> CallOutcome:
        """The whole call, from the INVITE to its last message; the phone's truth is complete
        when this returns."""
        try:
            return await self._run(local_ip)
        finally:
            if not self.phone.ended:
                self.phone.disconnect("network", "server error")
            if self._media is not None:
                self._media.close()

    async def _run(self, local_ip: str) -> CallOutcome:
        if self.phone.definition.answer.mode == "busy":
            self.invite.reject(486, "Busy Here")
            self.phone.disconnect("ivr", "busy", "busy")
            return self._outcome("ivr", "busy: 486")
        offer = self.invite.sdp_offer
        if offer is None:
            self.invite.reject(488, "Not Acceptable Here")
            self.phone.disconnect("network", "no SDP offer")
            return self._outcome("network", "no SDP offer in the INVITE: 488")
        try:
            self._media = await CallMedia.open(offer, local_ip, self._keys.event)
        except SdpNegotiationError as error:
            self.invite.reject(488, "Not Acceptable Here")
            self.phone.disconnect("network", "no common codec")
            return self._outcome("network", f"488: {error}")
        except CarrierError as error:
            self.invite.reject(503, "Service Unavailable")
            self.phone.disconnect("network", "no RTP port")
            return self._outcome("network", f"503: no RTP port for the call ({error})")
        while self._stop is None:
            caller, position = await self._media.next_frame()
            if self._stop is not None:
                break
            ended = self._step(self._media, caller, position)
            if ended is not None:
                return ended
        by, reason = self._stop
        return self._outcome(by, reason)

    def _step(self, media: CallMedia, heard: Samples, position: int) -> CallOutcome | None:
        """One frame: the caller's 20 ms in, the phone's 20 ms out, and what it signals."""
        caller = self._keys.over(heard) if self._state == "answered" else np.zeros_like(heard)
        far = self.phone.step(AudioFrame(caller, position))
        if far is None:
            return self._ivr_hung_up()
        if self._state == "ringing" and self.phone.ringing_at is not None and not self._rang:
            self._rang = True
            self.invite.ringing()
        if self._state == "ringing" and self.phone.answered_at is not None:
            self._pick_up(media)
        if self._state in ("early", "answered"):
            media.send(far)
        if self._state == "answered" and self._no_rtp(media, position):
            self.invite.hangup()
            self.phone.disconnect("network", "no RTP from the caller")
            self._set("ended")
            return self._outcome("network", f"no RTP for {NO_RTP_S:.0f} s: BYE")
        return None

    def _pick_up(self, media: CallMedia) -> None:
        """The phone picked up: answer, or open early media for an intercept."""
        entered = self.phone.truth.nodes[-1].node if self.phone.truth.nodes else None
        node = self.phone.definition.nodes.get(entered) if entered is not None else None
        if node is not None and isinstance(node.behaviour, Tone):
            response = SIT_RESPONSES.get(node.behaviour.kind)
            if response is not None:
                self._intercept = response
                _session_progress(self.invite, media)
                media.start_sending()
                self._set("early")
                return
        self.invite.accept(media.answer)
        media.start_sending()
        self._answered_at = self.phone.position
        self._set("answered")

    def _no_rtp(self, media: CallMedia, now: int) -> bool:
        last = media.last_packet_at
        since = max(last if last is not None else 0, self._answered_at)
        return now - since >= NO_RTP_S * TELEPHONY_RATE

    def _ivr_hung_up(self) -> CallOutcome:
        reason = self.phone.truth.end.reason if self.phone.truth.end else "hung up"
        if self._state == "answered":
            self.invite.hangup()
            said = "BYE"
        elif self._intercept is not None:
            code, phrase = self._intercept
            self.invite.reject(code, phrase)
            said = f"{code} {phrase}"
        else:
            self.invite.reject(480, "Temporarily Unavailable")
            said = "480 Temporarily Unavailable"
        self._set("ended")
        return self._outcome("ivr", f"{reason}: {said}")

    # --- the caller and the server end calls from outside ---------------------------------------

    def caller_ended(self, reason: str) -> None:
        """The caller's side ended the call: its BYE or CANCEL (aiosipua has already answered
        it), or it never ACKed the 200 OK."""
        if self._stop is None and self._state != "ended":
            self.phone.disconnect("caller", reason)
            self._stop = ("caller", reason)
            self._set("ended")

    def caller_moved_media(self) -> None:
        """A re-INVITE: follow the caller's new media address and answer as before."""
        if self._media is None or self._state != "answered":
            return
        if self.invite.sdp_offer is not None:
            self._media.retarget(self.invite.sdp_offer)
        self.invite.accept(self._media.answer)

    def shut_down(self) -> None:
        """The server is stopping (or failed this call): end it as a network taking the line
        down would."""
        if self._stop is not None or self._state == "ended":
            return
        if self._state == "answered":
            self.invite.hangup()
        else:
            self.invite.reject(503, "Service Unavailable")
        self.phone.disconnect("network", "server stopped")
        self._stop = ("network", "server stopped")
        self._set("ended")

    def _set(self, state: CallState) -> None:
        if state != "ended":
            self._reached = state
        self._state = state

    def _outcome(self, by: EndedBy, reason: str) -> CallOutcome:
        self._set("ended")
        return CallOutcome(self._reached, by, reason, tuple(self._keys.pressed))


def _session_progress(invite: IncomingCall, media: CallMedia) -> None:
    """183 Session Progress with the SDP answer: early media. aiosipua 0.7.1 has `ringing(
    early_sdp=...)` for a 180 with SDP but no 183, so this uses its response builder."""
    invite._send_response(
        183,
        "Session Progress",
        body=serialize_sdp(media.answer),
        content_type="application/sdp",
    )
