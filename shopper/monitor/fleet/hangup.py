"""A dead worker's call: what is kept to hang it up, and hanging it up before a retry.

A worker killed mid-call cannot hang up, and its job is retried on another worker after stall
detection. The simulated phone system lives in the worker's process and dies with it; a real
carrier's call may still be up (Twilio keeps calling until its time limit; a PBX keeps a SIP
dialog until its session timer or RTP timeout). So each attempt records its carrier leg as
soon as the call is placed, and the worker that takes the retry ends every leg of the run's
unfinished attempts before it dials again, so the line does not carry two calls.

- Twilio: the Call SID is recorded; the leg is ended through Twilio's REST API (status
  `completed`) with the retrying worker's own Twilio credentials (same account).
- SIP: the dialog's Call-ID and tags are recorded, but a BYE has to come from the dialog's
  own transport (its Contact and CSeq); shopper does not send it from another process, so
  the leg lasts until the PBX's session timer or RTP timeout ends it (the note says so).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shopper.carriers.base import Call, ReportsCarrierCall
from shopper.errors import ShopperError


@dataclass(frozen=True, slots=True)
class Leg:
    """A placed call as its carrier knows it: enough to end it from another process."""

    carrier: str
    call_id: str
    """shopper's call id (the evidence folder's name)."""
    carrier_id: str | None = None
    """The carrier's own id: Twilio's Call SID, the SIP dialog's Call-ID."""

    def to_json(self) -> dict[str, Any]:
        return {"carrier": self.carrier, "call_id": self.call_id, "carrier_id": self.carrier_id}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Leg:
        carrier_id = document.get("carrier_id")
        return cls(
            carrier=str(document["carrier"]),
            call_id=str(document["call_id"]),
            carrier_id=None if carrier_id is None else str(carrier_id),
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


HangUp = Callable[[Leg], Awaitable[str]]
"""Ends a leftover leg if it may still be up; returns what was done, for the attempt's note."""


async def hang_up_leftover(leg: Leg) -> str:
    """End a dead worker's leg through its carrier, as far as the carrier allows."""
    if leg.carrier == "sandbox":
        return "the simulated call ended with its worker's process"
    if leg.carrier == "twilio":
        return await _hang_up_twilio(leg)
    if leg.carrier == "sip":
        return (
            f"SIP dialog {leg.carrier_id or '(no Call-ID yet)'} may stay up until the PBX's "
            "session timer or RTP timeout ends it: a BYE can only come from the dead worker's "
            "own SIP transport"
        )
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
