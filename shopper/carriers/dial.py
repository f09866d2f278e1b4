"""Placing a call through the carrier a script names: the carrier registry.

Each carrier registers a dialler under its name (`register_carrier`); `dial` looks it up, so
nothing else in shopper asks which carrier it is. The simulated phone system is registered
here; SIP and Twilio register beside it. This is also the one place where a number is checked
against the safety rules before any carrier dials it.

Dialling is asynchronous and can fail. A carrier that cannot place the call raises
`DialFailed` with the cause; `dial` turns that into an `UnplacedCall`, a call that ended
before its first frame with that cause, so the runner writes a result for it like any other.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from shopper.audio.frame import Samples
from shopper.carriers.base import (
    CarrierError,
    DialFailed,
    DuplexFrame,
    EndCause,
    EndStatus,
    Placed,
    Sent,
)
from shopper.carriers.options import DialOptions
from shopper.carriers.safety import check_dialable
from shopper.carriers.sandbox import dial_sandbox_file
from shopper.carriers.sip.call import dial_sip

Dialler = Callable[[str, DialOptions], Awaitable[Placed]]


@dataclass(frozen=True, slots=True)
class Carrier:
    dial: Dialler
    dials_numbers: bool
    """Its targets are phone numbers, checked by the safety rules before every call (the
    simulated phone system's are IVR files)."""


CARRIERS: dict[str, Carrier] = {}


def register_carrier(name: str, carrier: Carrier) -> None:
    CARRIERS[name] = carrier


def carrier_for(target: str, carrier: str) -> Carrier:
    """The carrier named, once the safety rules have passed `target`: an unknown carrier or a
    refused number fails here, before anything is waited for or placed."""
    entry = CARRIERS.get(carrier)
    if entry is None:
        raise CarrierError(
            f"unknown carrier {carrier!r}: the carriers available are {', '.join(CARRIERS)}"
        )
    if entry.dials_numbers:
        check_dialable(target)
    return entry


async def dial(target: str, carrier: str, options: DialOptions) -> Placed:
    """Place a call to `target` through `carrier`; a placement failure is an UnplacedCall."""
    entry = carrier_for(target, carrier)
    try:
        return await entry.dial(target, options)
    except DialFailed as failed:
        return Placed(UnplacedCall(carrier, failed.cause, failed.status), failed=failed)


class UnplacedCall:
    """A call the carrier could not place: it ended at media time 0, before its first frame,
    with the cause the carrier gave (None: dialling was interrupted), and nobody hung it up."""

    def __init__(
        self, carrier: str, cause: EndCause | None, status: EndStatus | None = None
    ) -> None:
        self._carrier = carrier
        self._cause = cause
        self._status = status
        self._call_id = f"{carrier}-unplaced-{uuid.uuid4().hex[:12]}"

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def carrier(self) -> str:
        return self._carrier

    @property
    def virtual_clock(self) -> bool:
        return False

    @property
    def ended_by(self) -> None:
        return None

    @property
    def end_cause(self) -> EndCause | None:
        return self._cause

    @property
    def end_status(self) -> EndStatus | None:
        return self._status

    @property
    def media_stats(self) -> None:
        return None

    async def frames(self) -> AsyncIterator[DuplexFrame]:
        return
        yield

    async def play(self, samples: Samples) -> Sent:
        return Sent(0, 0)

    async def send_dtmf(self, digits: str, tone_s: float = 0.1, gap_s: float = 0.1) -> Sent:
        return Sent(0, 0)

    async def hangup(self) -> None:
        return None


register_carrier("sandbox", Carrier(dial=dial_sandbox_file, dials_numbers=False))
register_carrier("sip", Carrier(dial=dial_sip, dials_numbers=False))
"""SIP targets are URIs or numbers; the SIP carrier checks the numbers in them itself."""


async def _dial_twilio(target: str, options: DialOptions) -> Placed:
    """Twilio's dialler, imported on first use: its client and server load only when a
    script calls through Twilio."""
    from shopper.carriers.twilio.call import dial_twilio

    return await dial_twilio(target, options)


register_carrier("twilio", Carrier(dial=_dial_twilio, dials_numbers=True))
