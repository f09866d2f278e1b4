"""The shipped JSON Schema accepts real result documents and rejects malformed ones."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from shopper.results.writer import OPTIONAL_RESULT_KEYS, RESULT_KEYS, result_schema


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = result_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def busy_call() -> dict[str, Any]:
    """A call that never got past the busy tone: most figures are null, nothing was heard."""
    return {
        "schema": "shopper.result/1",
        "call_id": "20240506T090000Z-acme-busy-1a2b3c",
        "shopper_version": "0.1.0",
        "started_at": "2024-05-06T09:00:00Z",
        "script": {"name": "acme busy line", "file": None},
        "target": "+15550100",
        "carrier": "twilio",
        "engine": "vosk:vosk-model-small-en-us-0.15",
        "outcome": "failed",
        "failure": {"kind": "busy", "step": 1, "message": "busy tone heard at 2.1 s"},
        "ended_by": "tester",
        "end_cause": "hangup",
        "signalling": None,
        "metrics": {
            "answer_s": None,
            "first_prompt_s": None,
            "time_to_human_s": None,
            "hold_s": 0.0,
            "duration_s": 4.6,
            "dtmf_sent": 0,
            "menus": 0,
            "dead_air_s": 0.0,
            "rtp": None,
        },
        "human": {"detected": False, "at_s": None, "confidence": None, "evidence": None},
        "reached": None,
        "voicemail": None,
        "callback_offered": False,
        "holds": [],
        "steps": [
            {
                "index": 1,
                "step": "expect 'welcome to acme'",
                "outcome": "failed",
                "start_s": 0.0,
                "end_s": 4.6,
                "detail": "busy tone heard at 2.1 s",
                "decision": None,
            },
            {
                "index": 2,
                "step": "press 1",
                "outcome": "skipped",
                "start_s": None,
                "end_s": None,
                "detail": None,
                "decision": None,
            },
        ],
        "assertions": [{"name": "answer", "limit": 10.0, "actual": None, "passed": False}],
        "transcript": [],
        "events": [
            {"t_s": 0.0, "type": "dialing", "carrier": "twilio", "call_id": "x"},
            {"t_s": 2.1, "type": "tone", "kind": "busy", "end_s": 4.1},
            {"t_s": 4.6, "type": "step", "index": 1, "step": "expect", "outcome": "failed"},
            {"t_s": 4.6, "type": "ended", "by": "tester", "cause": "hangup"},
        ],
        "carrier_call": {
            "call_sid": "CA0123456789abcdef0123456789abcdef",
            "status": "completed",
            "error_code": None,
            "sip_response_code": None,
            "price": 0.013,
            "price_unit": "USD",
            "duration_s": 5,
            "detail": None,
        },
        "recording": "recording.wav",
    }


def _errors(validator: jsonschema.Draft202012Validator, document: dict[str, Any]) -> list[str]:
    return [error.message for error in validator.iter_errors(document)]


def test_schema_lists_exactly_the_documented_fields() -> None:
    schema = result_schema()
    assert tuple(schema["required"]) == RESULT_KEYS
    assert tuple(schema["properties"]) == RESULT_KEYS + OPTIONAL_RESULT_KEYS


def test_a_sip_call_with_its_status_and_rtp_figures_is_valid(
    validator: jsonschema.Draft202012Validator,
) -> None:
    document = busy_call()
    document["carrier"], document["end_cause"] = "sip", "busy"
    document["signalling"] = {
        "protocol": "sip",
        "code": 486,
        "reason": "Busy Here",
        "detail": "SIP 486 Busy Here: the line is busy",
    }
    document["metrics"]["rtp"] = {
        "packets": 120,
        "lost": 3,
        "loss_pct": 2.44,
        "jitter_ms": 1.5,
        "longest_gap_s": 0.06,
    }
    assert _errors(validator, document) == []
    document["signalling"]["password"] = "secret"
    assert _errors(validator, document) != []


def test_a_failed_call_with_nulls_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    assert _errors(validator, busy_call()) == []


@pytest.mark.parametrize("field", ["outcome", "metrics", "events", "call_id", "recording"])
def test_missing_field_is_rejected(validator: jsonschema.Draft202012Validator, field: str) -> None:
    document = busy_call()
    del document[field]
    assert any(field in message for message in _errors(validator, document))


def test_missing_metric_is_rejected(validator: jsonschema.Draft202012Validator) -> None:
    document = busy_call()
    del document["metrics"]["hold_s"]
    assert _errors(validator, document)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("outcome",), "timeout"),
        (("carrier",), "skype"),
        (("failure", "kind"), "sad"),
        (("steps", 1, "outcome"), "maybe"),
        (("metrics", "hold_s"), -1.0),
        (("metrics", "dtmf_sent"), 1.5),
        (("started_at",), "2024-05-06T11:00:00+02:00"),
        (("schema",), "shopper.result/2"),
        (("events", 1, "type"), "explosion"),
        (("human", "confidence"), 1.5),
    ],
)
def test_wrong_values_are_rejected(
    validator: jsonschema.Draft202012Validator, path: tuple[str | int, ...], value: Any
) -> None:
    document = busy_call()
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert _errors(validator, document)


def test_outcome_and_failure_must_agree(validator: jsonschema.Draft202012Validator) -> None:
    passed_with_failure = busy_call()
    passed_with_failure["outcome"] = "passed"
    assert _errors(validator, passed_with_failure)
    failed_without_failure = busy_call()
    failed_without_failure["failure"] = None
    assert _errors(validator, failed_without_failure)
    passed = copy.deepcopy(failed_without_failure)
    passed["outcome"] = "passed"
    assert _errors(validator, passed) == []


def test_events_must_carry_their_type_fields(validator: jsonschema.Draft202012Validator) -> None:
    document = busy_call()
    document["events"].append({"t_s": 3.0, "type": "key"})
    assert any("digits" in message for message in _errors(validator, document))
    document["events"][-1]["digits"] = "1#"
    assert _errors(validator, document) == []
    document["events"][-1]["digits"] = "1x"
    assert _errors(validator, document)


def test_a_step_says_how_its_expectation_was_decided(
    validator: jsonschema.Draft202012Validator,
) -> None:
    document = busy_call()
    decision = {"method": "audio", "score": 0.62, "margin": -1.4, "heard": "Prestew"}
    document["steps"][0]["decision"] = decision
    assert _errors(validator, document) == []
    contrast = {"method": "contrast", "margin": -4.5, "contrast": 12.1}
    document["steps"][0]["decision"] = decision | contrast
    assert _errors(validator, document) == []
    document["steps"][0]["decision"] = decision | {"method": "guess"}
    assert _errors(validator, document)
    del document["steps"][0]["decision"]
    assert any("decision" in message for message in _errors(validator, document))


def test_unknown_top_level_field_is_rejected(validator: jsonschema.Draft202012Validator) -> None:
    document = busy_call()
    document["surprise"] = 1
    assert _errors(validator, document)
