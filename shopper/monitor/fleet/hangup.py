"""A dead worker's call: what is kept to hang it up, and hanging it up before a retry.

A worker killed mid-call cannot hang up, and its job is retried on another worker after stall
detection. The simulated phone system lives in the worker's process and dies with it; a real
carrier's call may still be up (Twilio keeps calling until its time limit; a PBX keeps a SIP
dialog until its session timer or RTP timeout). So each attempt records its carrier leg as
soon as the call is placed, and the worker that takes the retry ends every leg of the run's
unfinished attempts before it dials again, so the line does not carry two calls.

- Twilio: the Call SID is recorded; the leg is ended through Twilio's REST API (status
  `completed`) with the retrying worker's own Twilio credentials (same account).
- SIP: when the INVITE goes out, its Call-ID and what a CANCEL of it needs
  (shopper.carriers.sip.cancel: the INVITE's Request-URI, top Via, From, To, CSeq, Route,
  next hop; then the early dialog a provisional begins), and once the call is answered what
  an in-dialog BYE needs (shopper.carriers.sip.bye: tags, URIs, the 200's Contact and route
  set, the next CSeq, the next hop); no credentials. The retrying worker BYEs an answered
  call from a socket of its own, answering a digest challenge with its own `[sip]` trunk
  credentials (a 481 means the far end had ended it already), and CANCELs one that was
  still ringing (ACK and BYE when the far end answered it meanwhile).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from shopper.carriers.base import Call, ReportsCarrierCall
from shopper.carriers.sip.bye import AnsweredDialog
from shopper.carriers.sip.cancel import RingingInvite
from shopper.config import ConfigError
from shopper.errors import ShopperError


@dataclass(frozen=True, slots=True)
class Leg:
    """A placed call as its carrier knows it: enough to end it from another process."""

    carrier: str
    call_id: str
    """The placed call's id as its carrier object gives it (`Call.call_id`), which names the
    call in the attempt's notes; not the evidence folder's name."""
    carrier_id: str | None = None
    """The carrier's own id: Twilio's Call SID, the SIP dialog's Call-ID."""
    sip_dialog: AnsweredDialog | None = None
    """An answered SIP call's dialog, as a BYE from another process needs it."""
    sip_invite: RingingInvite | None = None
    """A SIP call's INVITE, as a CANCEL from another process needs it (until answered)."""

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "carrier": self.carrier,
            "call_id": self.call_id,
            "carrier_id": self.carrier_id,
        }
        if self.sip_dialog is not None:
            document["sip_dialog"] = self.sip_dialog.to_json()
        if self.sip_invite is not None:
            document["sip_invite"] = self.sip_invite.to_json()
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Leg:
        carrier_id = document.get("carrier_id")
        dialog = document.get("sip_dialog")
        invite = document.get("sip_invite")
        return cls(
            carrier=str(document["carrier"]),
            call_id=str(document["call_id"]),
            carrier_id=None if carrier_id is None else str(carrier_id),
            sip_dialog=None if dialog is None else AnsweredDialog.from_json(dialog),
            sip_invite=None if invite is None else RingingInvite.from_json(invite),
        )


def leg_of(call: Call) -> Leg:
    """The leg of a call just placed (its carrier id, once the carrier has given one)."""
    carrier_id: str | None = None
    if isinstance(call, ReportsCarrierCall):
        carrier_id = call.carrier_report.call_sid
    else:
        sip_call_id = getattr(call, "sip_call_id", None)
        if isinstance(sip_call_id, str):
            carrier_id = sip_call_id
    return Leg(carrier=call.carrier, call_id=call.call_id, carrier_id=carrier_id)


def follow_legs(call: Call, placed: Callable[[Leg], None]) -> None:
    """Report the leg of a call just placed, and again whenever what a SIP call's CANCEL or
    BYE from elsewhere needs is known or changes (each report replaces the one before)."""
    leg = leg_of(call)
    reporting = False

    def update(changed: Leg) -> None:
        nonlocal leg
        leg = changed
        if reporting:
            placed(leg)

    watch_invite = getattr(call, "watch_ringing_invite", None)
    if callable(watch_invite):  # told at once of the INVITE already sent: one report with it
        watch_invite(lambda invite: update(replace(leg, sip_invite=invite)))
    placed(leg)
    reporting = True
    watch = getattr(call, "watch_answered_dialog", None)
    if callable(watch):
        watch(lambda dialog: update(replace(leg, sip_dialog=dialog)))


HangUp = Callable[[Leg], Awaitable[str]]
"""Ends a leftover leg if it may still be up; returns what was done, for the attempt's note."""


async def hang_up_leftover(leg: Leg) -> str:
    """End a dead worker's leg through its carrier, as far as the carrier allows."""
    if leg.carrier == "sandbox":
        return "the simulated call ended with its worker's process"
    if leg.carrier == "twilio":
        return await _hang_up_twilio(leg)
    if leg.carrier == "sip":
        return await _hang_up_sip(leg)
    return f"no way to hang up a leftover {leg.carrier} call"


async def _hang_up_twilio(leg: Leg) -> str:
    if leg.carrier_id is None:
        return "the Twilio call had no SID yet (never created, nothing to hang up)"
    from shopper.carriers.twilio.rest import TwilioRest
    from shopper.carriers.twilio.settings import twilio_settings

    try:
        rest = TwilioRest(twilio_settings())
    except ShopperError as error:
        return f"could not hang up Twilio call {leg.carrier_id}: {error}"
    try:
        state = await rest.hang_up(leg.carrier_id)
    except Exception as error:  # any REST failure is noted; the retry goes ahead
        return f"could not hang up Twilio call {leg.carrier_id}: {error}"
    finally:
        await rest.close()
    return f"Twilio call {leg.carrier_id} hung up through the REST API (it was {state.status})"


async def _hang_up_sip(leg: Leg) -> str:
    if leg.sip_dialog is not None:
        return await _bye_sip(leg.sip_dialog)
    if leg.sip_invite is not None:
        return await _cancel_sip(leg.sip_invite)
    return (
        f"SIP call {leg.carrier_id or '(no Call-ID yet)'} was not answered when its worker "
        "died, and nothing was recorded to CANCEL or BYE it with (its INVITE ends at the far "
        "end's ring timeout)"
    )


async def _cancel_sip(invite: RingingInvite) -> str:
    from shopper.carriers.sip.cancel import cancel_invite
    from shopper.carriers.sip.settings import load_sip_settings

    if invite.over_tcp:  # the dead worker's connection is gone, and with it its transaction
        return (
            f"SIP INVITE {invite.call_id} went over TCP and was not answered when its worker "
            "died: a CANCEL from another process is sent over UDP only, so none was sent (it "
            "ends at the far end's ring timeout)"
        )

    try:
        outcome = await cancel_invite(invite, load_sip_settings())
    except (ConfigError, OSError) as error:
        return f"could not CANCEL SIP INVITE {invite.call_id}: {error}"
    return outcome.summary(invite.call_id)


async def _bye_sip(dialog: AnsweredDialog) -> str:
    from shopper.carriers.sip.bye import ALREADY_GONE, send_bye
    from shopper.carriers.sip.settings import load_sip_settings

    try:
        outcome = await send_bye(dialog, load_sip_settings())
    except (ConfigError, OSError) as error:
        return f"could not hang up SIP dialog {dialog.call_id}: {error}"
    where = f"{dialog.remote[0]}:{dialog.remote[1]}"
    if outcome.code is None:
        return f"BYE for SIP dialog {dialog.call_id} to {where}: {outcome.reason}"
    status = f"{outcome.code} {outcome.reason}".rstrip()
    if outcome.code == ALREADY_GONE:
        return f"SIP dialog {dialog.call_id} was already gone ({status} to the BYE)"
    if outcome.ended:
        return f"SIP dialog {dialog.call_id} hung up with a BYE to {where} ({status})"
    return f"BYE for SIP dialog {dialog.call_id} refused by {where}: {status}"
