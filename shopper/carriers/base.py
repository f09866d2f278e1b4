"""What the call engine needs from whatever places the call: the carrier interface.

A carrier (the in-process simulated phone system, Twilio media streams, SIP/RTP) turns a
target into a live call that delivers the far end's audio in 20 ms frames stamped with media
time, carries shopper's audio and key presses the other way, and says who ended the call.
The engine never learns anything else about the far end: it knows only what it hears.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from shopper.audio.frame import AudioFrame, Samples
from shopper.errors import ShopperError

EndedBy = Literal["tester", "remote"]
EndCause = Literal["hangup", "busy", "no-answer", "failed"]
"""Signalling-level outcome: a normal hang-up (either side), a busy line, nobody answered
within the ring timeout, or the carrier could not place the call."""


@dataclass(frozen=True, slots=True)
class DuplexFrame:
    """One 20 ms slice of the call: what the far end sent and what shopper sent meanwhile.

    Both carry the same media time (samples since the call was placed); `near` is what the
    recording's tester channel holds, so shopper's own prompts and DTMF are evidence too.
    """

    far: AudioFrame
    near: Samples


class Call(Protocol):
    """One placed call, seen from the tester's side."""

    @property
    def call_id(self) -> str: ...

    @property
    def carrier(self) -> str:
        """'sandbox', 'twilio', 'sip': recorded in every result."""
        ...

    @property
    def answered_at(self) -> int | None:
        """Media time (samples) at which the far end answered; None until it has."""
        ...

    @property
    def virtual_clock(self) -> bool:
        """Whether the far end's time advances only as frames are read (the sandbox's
        virtual clock): the engine may then wait for its speech recogniser, and a run is
        deterministic. False for a carrier in real time, which the engine never waits on."""
        ...

    @property
    def ended_by(self) -> EndedBy | None:
        """Who ended the call, once it has ended."""
        ...

    @property
    def end_cause(self) -> EndCause | None: ...

    def frames(self) -> AsyncIterator[DuplexFrame]:
        """The call's audio, frame by frame in media time, until either side hangs up."""
        ...

    async def play(self, samples: Samples) -> None:
        """Queue 8 kHz audio to be sent to the far end after what is already queued."""
        ...

    async def send_dtmf(self, digits: str, tone_s: float = 0.1, gap_s: float = 0.1) -> None:
        """Queue key presses (after queued audio) by the carrier's DTMF method."""
        ...

    async def hangup(self) -> None:
        """End the call through the carrier; safe to call more than once."""
        ...


class CarrierError(ShopperError):
    """The carrier could not place or keep the call (configuration, network, refusal)."""
