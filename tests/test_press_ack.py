"""A key press is acknowledged by a real reaction of the far end, judged against the sandbox.

Each IVR is written here, spoken by a flite voice, and each script is written as a QA engineer
would. What shopper reports is compared with what the simulated phone system did with the
key (its truth: accepted or ignored, the prompt cut or played to its end), which only the
test reads.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine
from shopper.engine.failures import KeyIgnored
from shopper.engine.reaction import IGNORED_WHILE_PROMPT
from shopper.engine.timeline import KeyAcknowledged, KeySent
from shopper.results.record import CallRecord
from shopper.scripts.loader import load_script
from shopper.scripts.runner import open_call, run_script

pytestmark = pytest.mark.slow

MENU = (
    "Welcome to Harbor Water. For billing, press 1. For outages, press 2. "
    "For anything else, press 3."
)


def ivr(voice: str, barge_in: bool, restart: bool = False) -> str:
    options = '{"1": billing, "2": outages, "3": billing, "*": main}'
    menu_say = MENU + (" To hear these options again, press star." if restart else "")
    return f"""
name: Harbor Water
voice: {{tts: flite, voice: {voice}, speed: 165}}
start: main
nodes:
  main:
    say: "{menu_say}"
    menu: {{options: {options}, barge_in: {str(barge_in).lower()}, timeout: 6s}}
  billing:
    say: "Billing. To pay your bill, press 1."
    menu: {{options: {{"1": outages}}}}
  outages: {{say: "We are aware of an outage in your area. Goodbye.", hangup: true}}
"""


def call(tmp_path: Path, engine: SpeechEngine, ivr_text: str, steps: str) -> CallRecord:
    (tmp_path / "ivr.yaml").write_text(ivr_text)
    script = tmp_path / "script.yaml"
    script.write_text(f"name: press\ntarget: ivr.yaml\nsteps:\n{steps}")
    return asyncio.run(run_script(load_script(script), engine))


def keys(record: CallRecord) -> list[dict[str, Any]]:
    assert record.truth is not None
    return list(record.truth["keys"])


def sent(record: CallRecord) -> list[float]:
    return [event.t_s for event in record.timeline.of_type(KeySent)]


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return MoonshineEngine()


@pytest.mark.parametrize("wait_s", ["1.0s", "2.6s", "4.4s"])
def test_a_key_pressed_while_a_prompt_that_ignores_keys_plays_is_not_acknowledged(
    tmp_path: Path, engine: SpeechEngine, wait_s: str
) -> None:
    """The prompt pauses between its sentences; those pauses are no reaction to the key."""
    record = call(
        tmp_path, engine, ivr("awb", barge_in=False), f"  - wait: {wait_s}\n  - press: '1'\n"
    )
    failure = record.result["failure"]
    assert failure is not None and failure["kind"] == "dtmf-not-acknowledged"
    assert IGNORED_WHILE_PROMPT in failure["message"]
    first, again = keys(record)
    assert first["action"] == "ignored"
    assert first["start_s"] == pytest.approx(sent(record)[0], abs=0.05)
    # Pressed again once the prompt had ended: the menu took it, and the report says so.
    prompt = record.truth["sounds"][0]
    assert again["action"] == "accepted" and again["start_s"] > prompt["end_s"]
    assert "acknowledged after" in failure["message"]


def test_a_menu_that_ignores_keys_until_its_prompt_ends_takes_them_after_it(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    record = call(
        tmp_path,
        engine,
        ivr("awb", barge_in=False),
        "  - wait: 1s\n  - press: {keys: '1', after_prompt: true}\n  - wait: 2s\n",
    )
    assert record.result["outcome"] == "passed", record.result["failure"]
    (key,) = keys(record)
    assert key["action"] == "accepted"
    assert [entry["node"] for entry in record.truth["nodes"]] == ["main", "billing"]
    assert key["start_s"] > record.truth["sounds"][0]["end_s"]


@pytest.mark.parametrize("voice,wait_s", [("slt", "1.0s"), ("slt", "4.4s"), ("rms", "2.6s")])
def test_a_menu_that_takes_keys_at_once_acknowledges_them(
    tmp_path: Path, engine: SpeechEngine, voice: str, wait_s: str
) -> None:
    record = call(
        tmp_path,
        engine,
        ivr(voice, barge_in=True),
        f"  - wait: {wait_s}\n  - press: '1'\n  - expect: your bill\n",
    )
    assert record.result["outcome"] == "passed", record.result["failure"]
    (key,) = keys(record)
    assert key["action"] == "accepted"
    prompt = record.truth["sounds"][0]
    assert prompt["cut"]
    reaction = record.timeline.of_type(KeyAcknowledged)[0]
    # The reaction shopper measured is the prompt stopping, as the sandbox did it.
    assert reaction.after_s == pytest.approx(prompt["end_s"] - key["start_s"], abs=0.1)


def test_a_menu_that_restarts_on_a_key_acknowledges_it(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    record = call(
        tmp_path,
        engine,
        ivr("rms", barge_in=True, restart=True),
        "  - wait: 3s\n  - press: '*'\n  - expect: for outages\n",
    )
    assert record.result["outcome"] == "passed", record.result["failure"]
    (key,) = keys(record)
    assert key["action"] == "accepted"
    assert [entry["node"] for entry in record.truth["nodes"]] == ["main", "main"]


def test_python_tests_and_the_crawler_can_tell_an_ignored_key_by_its_type(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    (tmp_path / "ivr.yaml").write_text(ivr("kal", barge_in=False))

    async def press_early() -> KeyIgnored:
        async with open_call(str(tmp_path / "ivr.yaml"), engine) as call:
            await call.wait(1.0)
            with pytest.raises(KeyIgnored) as raised:
                await call.press("2")
            return raised.value

    ignored = asyncio.run(press_early())
    assert ignored.kind == "dtmf-not-acknowledged"
    assert ignored.taken_after_prompt is True
