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
from shopper.engine.reaction import IGNORED_WHILE_PROMPT, LABEL_LAG_S
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


def taken_where_the_prompt_stopped(record: CallRecord, prompt: dict[str, Any]) -> None:
    """The call passed, its one key was taken, and the reaction shopper measured is the
    prompt stopping, as the sandbox did it."""
    assert record.result["outcome"] == "passed", record.result["failure"]
    (key,) = keys(record)
    assert key["action"] == "accepted"
    assert prompt["cut"]
    reaction = record.timeline.of_type(KeyAcknowledged)[0]
    assert reaction.after_s == pytest.approx(prompt["end_s"] - key["start_s"], abs=0.1)


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
    taken_where_the_prompt_stopped(record, record.truth["sounds"][0])


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


RENTALS_MENU = (
    "Hi, and thanks for calling RidgeWay Car Rental. To book a new rental, press 1. If "
    "you're calling about a reservation you already have, press 2. Press 3 for roadside "
    "assistance, or if you have been in an accident. For questions about a charge on your "
    "receipt, such as tolls, fuel or a late return, press 4. If you look after travel for a "
    "business and would like to talk with the team that manages RidgeWay corporate "
    "accounts, please press 5. Press pound to hear these choices again."
)


def test_a_key_is_not_sent_on_a_flicker_of_music_and_a_cut_into_a_breath_is_a_stop(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    """Flite kal's "Press 3 for roadside assistance" is labelled music for 0.3 s: a key sent
    there as over music was judged by the music, which "played on". The key now waits for a
    sentence start (music must have played MUSIC_SETTLED_S), and the next prompt, whose
    synthetic breath begins 40 ms after the cut, is heard as the menu stopping: the frame the
    menu was cut in still holds its end, the two after it are at the line's floor."""
    ivr_text = f"""
name: RidgeWay Car Rental
voice: {{tts: flite, voice: kal, speed: 170}}
start: main
answer: {{after: 2s}}
nodes:
  main:
    say: "{RENTALS_MENU}"
    menu: {{options: {{"1": queue, "2": queue, "3": queue, "4": queue}}, timeout: 5s}}
  queue:
    say: "Great, let's get you on the road. Hang tight while I find you a specialist."
    queue: {{hold: 30s, music: default, then: agent}}
  agent:
    agent: {{greeting: "Reservations, this is Andre. What city will you be picking up in?"}}
"""
    record = call(tmp_path, engine, ivr_text, "  - wait: 12.5s\n  - press: '1'\n")
    taken_where_the_prompt_stopped(record, record.truth["sounds"][1])


def test_a_callback_key_over_music_is_acknowledged_by_the_speech_that_follows_at_once(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    """The music stops for the key and "You're all set…" follows with no gap (espeak-ng):
    the sound's label turns to speech 0.2 s after the change, past REACTION_S from the key,
    so a run is taken as the reaction while its label's lag (LABEL_LAG_S) allows. Fails with
    the lag not allowed for ("ignored: the music played on")."""
    ivr_text = """
name: Receipts
voice: {tts: espeak-ng, voice: en-us, speed: 170}
start: main
answer: {after: 2s}
nodes:
  main:
    say: "Receipts and charges. Let me pass you along to the next available billing specialist."
    queue:
      hold: 45s
      callback_offer:
        every: 12s
        say: >-
          Rather not wait on hold? We can ring you back as soon as a billing specialist is
          free, and you won't lose your spot. To get a call back instead, press 6.
        digit: "6"
        goto: noted
      then: agent
  noted:
    say: >-
      You're all set. A billing specialist will phone you at the number you're calling from.
      Thanks, and goodbye.
    hangup: true
  agent:
    agent: {greeting: "Billing, this is Keisha. How can I help?"}
"""
    steps = (
        '  - expect: "pass you along"\n'
        '  - expect: "ring you back"\n'
        "    within: 40s\n"
        "    silence: 40s\n"
        "  - wait: 1s\n"
        "  - press: '6'\n"
        '  - expect: "phone you"\n'
    )
    record = call(tmp_path, engine, ivr_text, steps)
    assert record.result["outcome"] == "passed", record.result["failure"]
    (key,) = keys(record)
    assert key["action"] == "callback"
    music = next(s for s in record.truth["sounds"] if s["role"] == "music" and s["cut"])
    reaction = record.timeline.of_type(KeyAcknowledged)[0]
    # Told by the label, the reaction is placed where the label changed: late by its lag.
    stopped_after = music["end_s"] - key["start_s"]
    assert stopped_after - 0.05 <= reaction.after_s <= stopped_after + LABEL_LAG_S + 0.05
