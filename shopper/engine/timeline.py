"""The record of everything that happened on a call, in media time.

Results, transcripts, the HTML report and live MQTT events are all views of this one list,
so they can never disagree about when something happened.

Each kind of event is its own frozen dataclass, so code that reads the timeline asks for a
class (`timeline.of_type(KeySent)`, `isinstance`, `match`) and gets typed fields back, and a
misspelt kind or field is a type error, not a silently empty list. Their JSON form (the
result document's `events` and the MQTT event payloads, docs/results.md "Events") is the
`TYPE` name and the dataclass fields in declaration order, values as stored: producers round
seconds when they make the event, so what code reads is exactly what the documents say.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from shopper.audio.frame import TELEPHONY_RATE

if TYPE_CHECKING:
    from shopper.audio.callprogress import ToneKind
    from shopper.audio.segments import SoundKind
    from shopper.carriers.base import EndCause, EndedBy
    from shopper.engine.human import HumanEvidence
    from shopper.engine.voicemail import VoicemailBox
    from shopper.text.match import Method

EventListener = Callable[["Event"], None]
E = TypeVar("E", bound="Event")


@dataclass(frozen=True, slots=True)
class Event:
    """What every event has: when it happened. Only its subclasses are added to a timeline."""

    TYPE: ClassVar[str]
    """The event's `type` in the result document and the MQTT payloads."""

    t: int
    """Media time in samples since the call was placed."""

    @property
    def t_s(self) -> float:
        return self.t / TELEPHONY_RATE

    def data(self) -> dict[str, Any]:
        """The fields besides `t_s` and `type`: the payload's `data`."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "t"}

    def to_json(self) -> dict[str, Any]:
        return {"t_s": round(self.t_s, 3), "type": self.TYPE, **self.data()}


@dataclass(frozen=True, slots=True)
class Dialing(Event):
    """The call was placed (t = 0)."""

    TYPE: ClassVar[str] = "dialing"
    carrier: str
    call_id: str


@dataclass(frozen=True, slots=True)
class Ringing(Event):
    """The carrier signalled that the far end is ringing (SIP 180)."""

    TYPE: ClassVar[str] = "ringing"


@dataclass(frozen=True, slots=True)
class EarlyMedia(Event):
    """The carrier signalled audio from the far end before any answer (SIP 183)."""

    TYPE: ClassVar[str] = "early-media"


@dataclass(frozen=True, slots=True)
class Answered(Event):
    TYPE: ClassVar[str] = "answered"


@dataclass(frozen=True, slots=True)
class FarEndDigit(Event):
    """The far end sent a key as signalling (RFC 4733), lasting `duration_s`."""

    TYPE: ClassVar[str] = "far-end-digit"
    digit: str
    duration_s: float


@dataclass(frozen=True, slots=True)
class FarEndHold(Event):
    """The far end put the call on hold by signalling (re-INVITE sendonly/inactive)."""

    TYPE: ClassVar[str] = "far-end-hold"


@dataclass(frozen=True, slots=True)
class FarEndResume(Event):
    """The far end took the call off hold by signalling (re-INVITE sendrecv)."""

    TYPE: ClassVar[str] = "far-end-resume"


@dataclass(frozen=True, slots=True)
class SoundRun(Event):
    """A closed stretch of far-end sound of one kind, from `t` to `end_s`."""

    TYPE: ClassVar[str] = "sound"
    kind: SoundKind
    end_s: float


@dataclass(frozen=True, slots=True)
class ToneHeard(Event):
    """A call-progress tone, from `t` to `end_s`."""

    TYPE: ClassVar[str] = "tone"
    kind: ToneKind
    end_s: float


@dataclass(frozen=True, slots=True)
class UtteranceHeard(Event):
    """A final recognised utterance, from `t` to `end_s`."""

    TYPE: ClassVar[str] = "utterance"
    end_s: float
    text: str
    confidence: float


@dataclass(frozen=True, slots=True)
class KeySent(Event):
    TYPE: ClassVar[str] = "key"
    digits: str


@dataclass(frozen=True, slots=True)
class KeyAcknowledged(Event):
    """The far end reacted to the keys `after_s` seconds after they were sent."""

    TYPE: ClassVar[str] = "key-acknowledged"
    digits: str
    after_s: float


@dataclass(frozen=True, slots=True)
class Said(Event):
    """shopper spoke, from `t` for `duration_s`."""

    TYPE: ClassVar[str] = "said"
    text: str
    duration_s: float


@dataclass(frozen=True, slots=True)
class ExpectMatched(Event):
    """An expect or choose step matched what was heard."""

    TYPE: ClassVar[str] = "expect-matched"
    heard: str
    score: float
    method: Method
    margin: float | None = None
    """In nats, for a match the audio decided; left out of the JSON when there is none."""

    def data(self) -> dict[str, Any]:
        data = {"heard": self.heard, "score": self.score, "method": self.method}
        return data if self.margin is None else {**data, "margin": self.margin}


@dataclass(frozen=True, slots=True)
class HoldStarted(Event):
    TYPE: ClassVar[str] = "hold-start"


@dataclass(frozen=True, slots=True)
class HoldEnded(Event):
    TYPE: ClassVar[str] = "hold-end"


@dataclass(frozen=True, slots=True)
class CallbackOffered(Event):
    """The utterance that offered a callback."""

    TYPE: ClassVar[str] = "callback-offer"
    text: str


@dataclass(frozen=True, slots=True)
class HumanEvidenceWeighed(Event):
    """The evidence weighed for one turn of speech, whether or not it was judged a person."""

    TYPE: ClassVar[str] = "human-evidence"
    text: str
    evidence: HumanEvidence

    def data(self) -> dict[str, Any]:
        return {"text": self.text, **self.evidence.to_json()}


@dataclass(frozen=True, slots=True)
class HumanDetected(Event):
    """A person was judged to have answered, starting at `t`."""

    TYPE: ClassVar[str] = "human"
    confidence: float
    text: str


@dataclass(frozen=True, slots=True)
class VoicemailReached(Event):
    """A voicemail box was recognised; `t` is its beep."""

    TYPE: ClassVar[str] = "voicemail"
    box: VoicemailBox

    def data(self) -> dict[str, Any]:
        return dict(self.box.to_json())


@dataclass(frozen=True, slots=True)
class DeadAir(Event):
    """Silence from the far end began at `t` and lasted at least `limit_s`; `after_hold`:
    it began when a hold's music or announcements stopped (the hold ended there)."""

    TYPE: ClassVar[str] = "dead-air"
    limit_s: float
    after_hold: bool = False
    cause: str | None = None
    """Why, when known: "no RTP" when the far end's media stream had stopped (its carrier
    said so), so the silence is the network's. Left out of the event when None."""

    def data(self) -> dict[str, Any]:
        data = {"limit_s": self.limit_s, "after_hold": self.after_hold}
        return data if self.cause is None else {**data, "cause": self.cause}


@dataclass(frozen=True, slots=True)
class Ended(Event):
    TYPE: ClassVar[str] = "ended"
    by: EndedBy | None
    cause: EndCause | None


@dataclass(frozen=True, slots=True)
class StepFinished(Event):
    """A script step finished (shopper.scripts.runner)."""

    TYPE: ClassVar[str] = "step"
    index: int
    step: str
    outcome: str


class Timeline:
    """Events in the order they became known; listeners see each one as it is added."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._listeners: list[EventListener] = []

    def subscribe(self, listener: EventListener) -> None:
        self._listeners.append(listener)

    def add(self, event: E) -> E:
        self._events.append(event)
        for listener in self._listeners:
            listener(event)
        return event

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def of_type(self, kind: type[E]) -> list[E]:
        return [event for event in self._events if isinstance(event, kind)]

    def to_json(self) -> list[dict[str, Any]]:
        """Sorted by media time (events can become known after the moment they describe)."""
        return [event.to_json() for event in sorted(self._events, key=lambda e: e.t)]
