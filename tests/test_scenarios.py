"""The shipped call scripts against the shipped simulated IVRs, judged by the IVR's own truth.

Each scenario in scripts/failing/ fails on purpose with one failure kind; the Acme scripts
pass, and what shopper measured (time to a person, time on hold) is compared with the
simulated phone system's ground truth, which only the test reads.
"""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine
from shopper.carriers.options import DialOptions, SandboxOptions
from shopper.results.record import CallRecord
from shopper.results.writer import result_schema
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).parent.parent / "scripts"


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return MoonshineEngine()


def run(name: str, engine: SpeechEngine, seed: int = 0) -> CallRecord:
    options = DialOptions(sandbox=SandboxOptions(seed=seed))
    return asyncio.run(run_script(load_script(SCRIPTS / name), engine, options))


def truth_hold_s(truth: dict[str, Any]) -> float:
    return sum(h["end_s"] - h["start_s"] for h in truth["holds"])


@pytest.mark.parametrize(
    "script,kind",
    [
        ("failing/expectation-timeout.yaml", "expectation-timeout"),
        ("failing/expectation-mismatch.yaml", "expectation-mismatch"),
        ("failing/dtmf-not-acknowledged.yaml", "dtmf-not-acknowledged"),
        ("failing/dropped.yaml", "dropped"),
        ("failing/dead-air.yaml", "dead-air"),
        ("failing/no-human.yaml", "no-human"),
        ("failing/voicemail.yaml", "voicemail"),
        ("failing/hold-too-long.yaml", "hold-too-long"),
        ("failing/busy-call.yaml", "busy"),
        ("failing/no-answer-call.yaml", "no-answer"),
        ("failing/sit-tone.yaml", "sit-tone"),
    ],
)
def test_each_failure_kind_is_detected(script: str, kind: str, engine: SpeechEngine) -> None:
    record = run(script, engine)
    result = record.result
    assert result["outcome"] == "failed"
    assert result["failure"]["kind"] == kind, result["failure"]
    assert record.truth is not None
    if kind == "dropped":
        assert result["ended_by"] == "remote"
        assert record.truth["end"]["by"] == "ivr"
    if kind == "no-human":
        assert record.truth["agent_first_spoke_s"] is None
        assert not result["human"]["detected"]
    if kind == "voicemail":
        assert result["reached"] == "voicemail" and not result["human"]["detected"]
        (beep,) = [s for s in record.truth["sounds"] if s["role"] == "beep"]
        assert result["voicemail"]["beep_at_s"] == pytest.approx(beep["start_s"], abs=0.1)
        assert record.truth["voicemail"], "the sandbox was recording a message"
        assert not any(e["type"] == "said" for e in result["events"]), "nothing said into it"


@pytest.mark.parametrize(
    "script", ["acme/billing-human.yaml", "acme/card-security.yaml", "acme/callback-offer.yaml"]
)
def test_acme_scripts_pass_and_measure_like_the_truth(script: str, engine: SpeechEngine) -> None:
    record = run(script, engine)
    result, truth = record.result, record.truth
    assert truth is not None
    assert result["outcome"] == "passed", result["failure"]
    import jsonschema

    jsonschema.validate(result, result_schema())
    assert result["metrics"]["hold_s"] == pytest.approx(truth_hold_s(truth), abs=1.0)
    answered = truth["answer"]["answered_s"]
    if truth["agent_first_spoke_s"] is not None:
        expected = truth["agent_first_spoke_s"] - answered
        assert result["metrics"]["time_to_human_s"] == pytest.approx(expected, abs=1.0)
        assert result["human"]["detected"]
    assert result["callback_offered"] == bool(truth["callback_offers"])
    assert result["ended_by"] in {"tester", "remote"}


def test_the_demo_waits_through_a_hold_that_starts_inside_a_music_fade(
    engine: SpeechEngine,
) -> None:
    """Seed 3 starts the hold music inside a fade-out (-50 to -70 dBFS for 11 s): after
    "please hold..." the caller waits with the hold's dead-air allowance, and the hold is
    counted from the end of that announcement."""
    record = run("acme/billing-human.yaml", engine, seed=3)
    result, truth = record.result, record.truth
    assert truth is not None
    assert result["outcome"] == "passed", result["failure"]
    (hold,) = result["holds"]
    (true_hold,) = truth["holds"]
    assert hold["start_s"] == pytest.approx(true_hold["start_s"], abs=0.5)
    assert result["metrics"]["hold_s"] == pytest.approx(truth_hold_s(truth), abs=1.0)
    expected = truth["agent_first_spoke_s"] - truth["answer"]["answered_s"]
    assert result["metrics"]["time_to_human_s"] == pytest.approx(expected, abs=1.0)
