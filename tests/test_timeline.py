"""Typed timeline events: their JSON is the documented result `events` and MQTT `data`."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from shopper.engine import timeline as timeline_module
from shopper.engine.human import HumanEvidence
from shopper.engine.timeline import (
    Answered,
    CallbackOffered,
    DeadAir,
    Dialing,
    EarlyMedia,
    Ended,
    Event,
    ExpectMatched,
    FarEndDigit,
    FarEndHold,
    FarEndResume,
    HoldEnded,
    HoldStarted,
    HumanDetected,
    HumanEvidenceWeighed,
    KeyAcknowledged,
    KeySent,
    Ringing,
    Said,
    SoundRun,
    StepFinished,
    Timeline,
    ToneHeard,
    UtteranceHeard,
    VoicemailReached,
)
from shopper.engine.voicemail import Beep, VoicemailBox
from shopper.publish.envelope import event_payload
from shopper.results.writer import result_schema

KINDS = [
    kind
    for kind in vars(timeline_module).values()
    if isinstance(kind, type) and issubclass(kind, Event) and kind is not Event
]
"""Every event class the module defines (`__subclasses__` would also list the classes that
`dataclass(slots=True)` replaced)."""
BOX = VoicemailBox(Beep(start=80_000, end=83_200, hz=1000.4), "leave a message", True)
EVIDENCE = HumanEvidence(after_hold=True, new_speech=True, greeting=False, responsive=None)

# One of each kind, with the JSON the result document has always carried for it.
EXAMPLES: list[tuple[Event, dict[str, Any]]] = [
    (
        Dialing(0, carrier="sandbox", call_id="call-1"),
        {"t_s": 0.0, "type": "dialing", "carrier": "sandbox", "call_id": "call-1"},
    ),
    (Ringing(0), {"t_s": 0.0, "type": "ringing"}),
    (EarlyMedia(800), {"t_s": 0.1, "type": "early-media"}),
    (Answered(8000), {"t_s": 1.0, "type": "answered"}),
    (
        FarEndDigit(12_000, digit="5", duration_s=0.12),
        {"t_s": 1.5, "type": "far-end-digit", "digit": "5", "duration_s": 0.12},
    ),
    (FarEndHold(16_000), {"t_s": 2.0, "type": "far-end-hold"}),
    (FarEndResume(24_000), {"t_s": 3.0, "type": "far-end-resume"}),
    (
        SoundRun(8000, kind="speech", end_s=2.5),
        {"t_s": 1.0, "type": "sound", "kind": "speech", "end_s": 2.5},
    ),
    (
        ToneHeard(4, kind="ringback", end_s=1.995),
        {"t_s": 0.001, "type": "tone", "kind": "ringback", "end_s": 1.995},
    ),
    (
        UtteranceHeard(8000, end_s=2.5, text="press one", confidence=0.9),
        {"t_s": 1.0, "type": "utterance", "end_s": 2.5, "text": "press one", "confidence": 0.9},
    ),
    (KeySent(20_001, digits="1#"), {"t_s": 2.5, "type": "key", "digits": "1#"}),
    (
        KeyAcknowledged(22_400, digits="1#", after_s=0.3),
        {"t_s": 2.8, "type": "key-acknowledged", "digits": "1#", "after_s": 0.3},
    ),
    (
        Said(24_000, text="hello", duration_s=0.75),
        {"t_s": 3.0, "type": "said", "text": "hello", "duration_s": 0.75},
    ),
    (
        ExpectMatched(24_000, heard="press one", score=0.97, method="text"),
        {
            "t_s": 3.0,
            "type": "expect-matched",
            "heard": "press one",
            "score": 0.97,
            "method": "text",
        },
    ),
    (
        ExpectMatched(24_000, heard="press one", score=0.8, method="audio", margin=1.25),
        {
            "t_s": 3.0,
            "type": "expect-matched",
            "heard": "press one",
            "score": 0.8,
            "method": "audio",
            "margin": 1.25,
        },
    ),
    (HoldStarted(32_000), {"t_s": 4.0, "type": "hold-start"}),
    (HoldEnded(40_000), {"t_s": 5.0, "type": "hold-end"}),
    (
        CallbackOffered(36_000, text="press 1 for a callback"),
        {"t_s": 4.5, "type": "callback-offer", "text": "press 1 for a callback"},
    ),
    (
        HumanEvidenceWeighed(40_000, text="hi, Sam here", evidence=EVIDENCE),
        {
            "t_s": 5.0,
            "type": "human-evidence",
            "text": "hi, Sam here",
            "after_hold": True,
            "new_speech": True,
            "greeting": False,
            "responsive": None,
        },
    ),
    (
        HumanDetected(40_000, confidence=0.95, text="hi, Sam here"),
        {"t_s": 5.0, "type": "human", "confidence": 0.95, "text": "hi, Sam here"},
    ),
    (
        VoicemailReached(80_000, BOX),
        {
            "t_s": 10.0,
            "type": "voicemail",
            "beep_at_s": 10.0,
            "beep_s": 0.4,
            "beep_hz": 1000,
            "greeting": "leave a message",
            "asks_for_message": True,
        },
    ),
    (
        DeadAir(48_000, limit_s=8.0),
        {"t_s": 6.0, "type": "dead-air", "limit_s": 8.0, "after_hold": False},
    ),
    (
        Ended(96_000, by="remote", cause="hangup"),
        {"t_s": 12.0, "type": "ended", "by": "remote", "cause": "hangup"},
    ),
    (
        StepFinished(96_000, index=2, step="press 1", outcome="passed"),
        {"t_s": 12.0, "type": "step", "index": 2, "step": "press 1", "outcome": "passed"},
    ),
]


@pytest.mark.parametrize(("event", "expected"), EXAMPLES, ids=lambda e: type(e).__name__)
def test_each_event_writes_the_documented_fields_in_order(
    event: Event, expected: dict[str, Any]
) -> None:
    written = event.to_json()
    assert list(written.items()) == list(expected.items())


def test_every_kind_of_event_is_in_the_result_schema_and_valid_there() -> None:
    schema = result_schema()
    documented = set(schema["$defs"]["event"]["properties"]["type"]["enum"])
    kinds = {kind.TYPE for kind in KINDS}
    assert len(kinds) == len(KINDS), "two classes share a type"
    assert kinds == documented
    assert {type(event) for event, _ in EXAMPLES} == set(KINDS)
    validator = jsonschema.Draft202012Validator({"$ref": "#/$defs/event", "$defs": schema["$defs"]})
    for event, _ in EXAMPLES:
        validator.validate(event.to_json())


def test_mqtt_payload_carries_the_same_type_and_fields() -> None:
    for event, expected in EXAMPLES:
        payload = event_payload(event, "call-1", "quick-line", 1)
        assert payload["type"] == expected["type"]
        assert payload["t_s"] == expected["t_s"]
        assert {"t_s": payload["t_s"], "type": payload["type"], **payload["data"]} == expected


def test_timeline_filters_by_class_notifies_listeners_and_sorts_by_time() -> None:
    timeline = Timeline()
    seen: list[Event] = []
    timeline.subscribe(seen.append)
    late = timeline.add(UtteranceHeard(8000, end_s=2.0, text="welcome", confidence=0.9))
    key = timeline.add(KeySent(4000, digits="1"))
    timeline.add(KeyAcknowledged(6000, digits="1", after_s=0.25))
    assert seen == [late, key, timeline.of_type(KeyAcknowledged)[0]]
    assert timeline.of_type(KeySent) == [key]
    assert timeline.of_type(HoldStarted) == []
    assert [e["type"] for e in timeline.to_json()] == ["key", "key-acknowledged", "utterance"]
