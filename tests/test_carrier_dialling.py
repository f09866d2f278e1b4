"""Placing calls through the carrier registry: async dialling that can fail with a cause,
signalling and wire times on the timeline, and the sandbox's answer key kept beside the call.

A carrier that cannot place a call is played by a dialler registered for the test (no SIP
carrier exists yet); every other call is a real one to the simulated phone system.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine
from shopper.carriers.base import CarrierError, DialFailed, Placed
from shopper.carriers.dial import CARRIERS, Carrier, dial
from shopper.carriers.options import DialOptions
from shopper.carriers.safety import UnsafeNumberError
from shopper.engine.timeline import Answered, KeySent, Ringing, Said
from shopper.results.writer import result_schema, write_call
from shopper.scripts.model import CallScript, ExpectStep
from shopper.scripts.runner import CallInterrupted, CallNotPlaced, open_call, run_script
from shopper.text.match import contains
from shopper.tts import synthesize

IVR = """
name: Tiny Line
voice: {tts: flite, voice: kal, speed: 165}
answer: {after: 1.5s}
start: main
nodes:
  main:
    say: "For billing, press one."
    menu: {options: {"1": billing}, timeout: 6s}
  billing: {say: "Billing. Goodbye.", hangup: true}
"""
SAFE_NUMBER = "+44 20 7946 0000"
"""A London number in a range set aside for drama: dialable by the safety rules."""


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return MoonshineEngine()


def test_an_unknown_carrier_is_a_one_line_error_naming_the_known_ones() -> None:
    with pytest.raises(CarrierError) as raised:
        asyncio.run(dial("ivr.yaml", "pigeon", DialOptions()))
    assert str(raised.value) == (
        "unknown carrier 'pigeon': the carriers available are sandbox, sip, twilio"
    )


def test_the_sandbox_imports_no_carrier_and_the_engine_no_sandbox() -> None:
    """No carriers ⇄ sandbox import cycle, and nothing the engine imports reaches the phone
    system (whose truth is the answer key)."""
    probe = (
        "import sys, importlib; importlib.import_module(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.startswith(tuple(sys.argv[2:]))))"
    )

    def loaded(module: str, *prefixes: str) -> str:
        run = [sys.executable, "-c", probe, module, *prefixes]
        return subprocess.run(run, check=True, capture_output=True, text=True).stdout.strip()

    assert loaded("shopper.sandbox.phone", "shopper.carriers") == "[]"
    assert loaded("shopper.sandbox.loader", "shopper.carriers") == "[]"
    engine_side = "shopper.sandbox", "shopper.carriers.sandbox", "shopper.carriers.dial"
    assert loaded("shopper.engine.caller", *engine_side) == "[]"


def unreachable_carrier(calls: list[str]) -> Carrier:
    async def refuse(target: str, options: DialOptions) -> Placed:
        calls.append(target)
        await asyncio.sleep(0)
        raise DialFailed("no-route", "SIP 404 Not Found from the test's registrar")

    return Carrier(dial=refuse, dials_numbers=True)


def test_a_call_the_carrier_cannot_place_is_a_result_with_its_cause(
    tmp_path: Path, engine: SpeechEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialled: list[str] = []
    monkeypatch.setitem(CARRIERS, "sip", unreachable_carrier(dialled))
    script = CallScript(
        name="unplaced",
        target=SAFE_NUMBER,
        carrier="sip",
        steps=(ExpectStep(contains("welcome"), "expect 'welcome'"),),
    )
    record = asyncio.run(run_script(script, engine))
    result = record.result
    assert dialled == [SAFE_NUMBER]
    assert result["outcome"] == "failed"
    assert result["failure"] == {
        "kind": "unreachable",
        "step": None,
        "message": "could not place the call (no-route): SIP 404 Not Found from the test's "
        "registrar",
    }
    assert (result["carrier"], result["ended_by"], result["end_cause"]) == ("sip", None, "no-route")
    assert [step["outcome"] for step in result["steps"]] == ["skipped"]
    assert [(e["type"], e["t_s"]) for e in result["events"]] == [("dialing", 0), ("ended", 0)]
    assert record.truth is None
    jsonschema.validate(result, result_schema())
    written = write_call(record, tmp_path / "call")
    assert json.loads(written.read_text())["failure"]["kind"] == "unreachable"


def test_a_number_is_checked_by_the_safety_rules_before_any_carrier_dials_it(
    engine: SpeechEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialled: list[str] = []
    monkeypatch.setitem(CARRIERS, "sip", unreachable_carrier(dialled))

    async def emergency() -> None:
        async with open_call("911", engine, carrier="sip"):
            pass

    with pytest.raises(UnsafeNumberError, match="emergency"):
        asyncio.run(emergency())
    assert dialled == []


def test_open_call_raises_call_not_placed_and_keeps_the_record(
    engine: SpeechEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(CARRIERS, "sip", unreachable_carrier([]))
    context = open_call(SAFE_NUMBER, engine, carrier="sip")

    async def place() -> None:
        async with context:
            pytest.fail("the block must not run for a call that was never placed")

    with pytest.raises(CallNotPlaced) as raised:
        asyncio.run(place())
    assert raised.value.kind == "unreachable"
    assert context.record().result["failure"]["kind"] == "unreachable"


def test_ringing_answer_and_wire_times_reach_the_timeline(
    tmp_path: Path, engine: SpeechEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys queued behind speech are stamped where the carrier sent them (after the speech),
    and the phone system's DTMF receiver heard them there."""
    monkeypatch.setenv("SHOPPER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "ivr.yaml").write_text(IVR)
    context = open_call(str(tmp_path / "ivr.yaml"), engine, name="wire")
    speech = synthesize("Hello.")

    async def place() -> None:
        async with context as call:
            await call.wait(2.0)
            await context.session.play(speech, "hello")
            await call.press("1", at_once=True)
            await call.expect_hangup(within_s=20.0)

    asyncio.run(place())
    record = context.record()
    timeline = record.timeline
    assert timeline.of_type(Ringing) == [Ringing(0)]
    assert timeline.of_type(Answered) == [Answered(12_000)]
    (said,) = timeline.of_type(Said)
    (key,) = timeline.of_type(KeySent)
    assert said.t == 2 * 8000 and said.duration_s == round(len(speech) / 8000, 3)
    assert key.t == said.t + len(speech), "after the speech it waited behind"
    near = record.recording.read(0, record.recording.samples)[:, 1]
    assert not near[: said.t].any() and np.array_equal(near[said.t : key.t], speech)
    assert record.truth is not None
    (heard,) = record.truth["keys"]
    assert heard["digit"] == "1" and heard["action"] == "accepted"
    assert abs(heard["start_s"] - key.t_s) < 0.05, "the IVR heard it where it was stamped"


def test_a_call_interrupted_while_dialling_is_an_error_with_its_evidence(
    engine: SpeechEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialling = asyncio.Event()

    async def never_answers(target: str, options: DialOptions) -> Placed:
        dialling.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    monkeypatch.setitem(CARRIERS, "sip", Carrier(dial=never_answers, dials_numbers=True))
    script = CallScript(
        name="interrupted",
        # Not SAFE_NUMBER: the tests before dial it, and its next turn (1 call per second per
        # target) may still be to come, so the call would be stopped before dialling.
        target="+44 20 7946 0001",
        carrier="sip",
        steps=(ExpectStep(contains("welcome"), "expect 'welcome'"),),
    )

    async def interrupt() -> CallInterrupted:
        # Interrupted once the carrier is dialling: not before (the call may wait for its
        # target's turn after another test's dial, or a loaded machine may be slow to start it).
        task = asyncio.create_task(run_script(script, engine))
        await dialling.wait()
        task.cancel("SIGINT")
        with pytest.raises(CallInterrupted) as raised:
            await task
        return raised.value

    result = asyncio.run(interrupt()).record.result
    assert result["outcome"] == "error"
    assert result["failure"] == {"kind": "error", "step": None, "message": "SIGINT while dialling"}
    assert (result["ended_by"], result["end_cause"]) == (None, None)
    jsonschema.validate(result, result_schema())
