"""What the call engine needs from whatever places the call: the carrier interface.

A carrier (the in-process simulated phone system, Twilio media streams, SIP/RTP) turns a
target into a live call that delivers the far end's audio in 20 ms frames stamped with media
time, with the signalling that came with them (shopper.carriers.signals), carries shopper's
audio and key presses the other way and says when they went out on the wire, and says who
ended the call. The engine never learns anything else about the far end: it knows only what
it hears. Whatever else a carrier knows (the simulated phone system's answer key) reaches the
runner beside the call (shopper.carriers.dial.Placed), never through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from shopper.audio.frame import AudioFrame, Samples
from shopper.carriers.signals import Signal
from shopper.errors import ShopperError

EndedBy = Literal["tester", "remote"]
DialCause = Literal["no-route", "refused", "auth-failed", "timeout", "failed"]
"""Why a carrier could not place a call: the target leads nowhere (no such number or host;
SIP 404/410/484/604), the network or the far end refused it (connection refused, SIP 403 or
603 without an auth problem), the carrier's credentials were rejected, nothing answered the
carrier's signalling in time, or another carrier error (SIP 5xx)."""
EndCause = Literal[
    "hangup", "busy", "no-answer", "no-route", "refused", "auth-failed", "timeout", "failed"
]
"""Signalling-level outcome: a normal hang-up (either side), a busy line, nobody answered
within the ring timeout, or one of the reasons the call could not be placed (DialCause)."""


@dataclass(frozen=True, slots=True)
class EndStatus:
    """The carrier's own word on how the call ended, for the result and the failure message:
    the signalling protocol's status (SIP 486 Busy Here) and what it means for this call."""

    protocol: str
    code: int
    reason: str
    detail: str
    """In words, naming what to check: "the PBX rejected the credentials of user 'alice'"."""

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "code": self.code,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class MediaStats:
    """How the far end's audio arrived over the network (RTP, RFC 3550), for the metrics."""

    packets: int
    """Audio and event packets received (duplicates not counted)."""
    lost: int
    """Packets the sequence numbers say were sent but never arrived, or arrived too late to
    be played; their 20 ms were heard as silence."""
    jitter_ms: float
    """RFC 3550 interarrival jitter (its running estimate at the end of the call)."""
    longest_gap_s: float
    """Longest time between two packets, from the first packet to the last frame heard."""

    @property
    def loss_pct(self) -> float:
        expected = self.packets + self.lost
        return 100.0 * self.lost / expected if expected else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "packets": self.packets,
            "lost": self.lost,
            "loss_pct": round(self.loss_pct, 2),
            "jitter_ms": round(self.jitter_ms, 2),
            "longest_gap_s": round(self.longest_gap_s, 3),
        }


@dataclass(frozen=True, slots=True)
class DuplexFrame:
    """One 20 ms slice of the call: what the far end sent and what shopper sent meanwhile.

    Both carry the same media time (samples since the call was placed); `near` is what the
    recording's tester channel holds, so shopper's own prompts and DTMF are evidence too.
    """

    far: AudioFrame
    near: Samples
    signals: tuple[Signal, ...] = ()
    """What the carrier's signalling said during this frame, in media-time order."""


@dataclass(frozen=True, slots=True)
class Sent:
    """Where queued audio or keys go out on the wire: media time `start` to `end` (samples).

    A carrier's outgoing stream is contiguous (what is queued plays after what is already
    queued, silence when nothing is), so the carrier knows these when it takes the audio; they
    are its own clock's, which in real time runs ahead of the frames the engine has heard."""

    start: int
    end: int

    @property
    def samples(self) -> int:
        return self.end - self.start


class Call(Protocol):
    """One placed call, seen from the tester's side."""

    @property
    def call_id(self) -> str: ...

    @property
    def carrier(self) -> str:
        """'sandbox', 'twilio', 'sip': recorded in every result."""
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

    @property
    def end_status(self) -> EndStatus | None:
        """The signalling's final status when it says more than the cause (SIP), else None."""
        ...

    @property
    def media_stats(self) -> MediaStats | None:
        """How the far end's audio arrived over the network (RTP carriers), else None."""
        ...

    def frames(self) -> AsyncIterator[DuplexFrame]:
        """The call's audio and signalling, frame by frame in media time, until either side
        hangs up. Each frame's `near` is what went out on the wire in its 20 ms."""
        ...

    async def play(self, samples: Samples) -> Sent:
        """Queue 8 kHz audio to be sent to the far end after what is already queued; where
        it goes out (an empty span at the carrier's clock once the call has ended)."""
        ...

    async def send_dtmf(self, digits: str, tone_s: float = 0.1, gap_s: float = 0.1) -> Sent:
        """Queue key presses (after queued audio) by the carrier's DTMF method; where they go
        out, from the first tone to the end of the gap after the last."""
        ...

    async def hangup(self) -> None:
        """End the call through the carrier; safe to call more than once."""
        ...


@dataclass(frozen=True, slots=True)
class CarrierCallReport:
    """What a telephony provider says about a call it carried (Twilio's Call resource), for
    the result's `carrier_call`: its id there, final status, error and SIP codes, price."""

    call_sid: str | None
    status: str | None
    error_code: int | None
    sip_response_code: int | None
    price: float | None
    """What the call cost, when the provider has said (it prices calls after they end)."""
    price_unit: str | None
    duration_s: int | None
    """The provider's billed duration (whole seconds from answer), not media time."""
    detail: str | None
    """Why the call ended, in words, when the provider says more than the end cause."""

    def to_json(self) -> dict[str, Any]:
        return {
            "call_sid": self.call_sid,
            "status": self.status,
            "error_code": self.error_code,
            "sip_response_code": self.sip_response_code,
            "price": self.price,
            "price_unit": self.price_unit,
            "duration_s": self.duration_s,
            "detail": self.detail,
        }


@runtime_checkable
class ReportsCarrierCall(Protocol):
    """A call whose provider keeps its own record of it (Twilio), beside the Call protocol."""

    @property
    def carrier_report(self) -> CarrierCallReport: ...


class AnswerKey(Protocol):
    """What really happened on the far end (the simulated phone system's truth), for the
    results writer only."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Placed:
    """A dialled call, and what the runner keeps beside it.

    `call` is all the engine is given. `answer_key` (None but for the simulated phone system)
    goes to the results writer as `sandbox-truth.json`; `failed` says why the call could not
    be placed (then `call` is an UnplacedCall)."""

    call: Call
    answer_key: AnswerKey | None = None
    failed: DialFailed | None = None


class CarrierError(ShopperError):
    """The carrier could not place or keep the call (configuration, network, refusal)."""


class DialFailed(CarrierError):
    """The carrier tried to place the call and could not, before its media time began: the
    result reports `cause` (the call's end cause) and the failure kind it maps to
    (shopper.engine.failures.NOT_PLACED). A refusal that comes once the call is placed (a
    SIP 404 after ringing) ends the placed call with that cause instead, at its media time."""

    def __init__(self, cause: DialCause, detail: str, status: EndStatus | None = None) -> None:
        super().__init__(detail)
        self.cause: DialCause = cause
        self.detail = detail
        self.status = status
