"""Where a hold ends, measured against the simulated phone system's truth on short IVRs.

A hold is the caller's wait for a person (docs/results.md, "What a hold is"): it ends where
the music stopped when dead air follows, before a voicemail greeting or a "call again later"
message even when they also speak of the wait, and it goes on through a callback offer that
a pause splits in two. Each IVR holds for a few seconds of the Asterisk music-on-hold; only
the test reads the sandbox's truth.
"""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine
from shopper.bench.verdicts_score import truth_hold_s
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

pytestmark = pytest.mark.slow

HEAD = """\
name: Northwind Utilities
voice: {tts: flite, voice: kal, speed: 170}
start: queue
answer: {after: 1s}
nodes:
"""
DEAD_AIR_IVR = (
    HEAD
    + """\
  queue:
    say: "Please hold for the next available representative."
    queue: {hold: 8s, then: nothing}
  nothing: {silence: 60s}
"""
)
VOICEMAIL_IVR = (
    HEAD
    + """\
  queue:
    say: "Please hold for the next available representative."
    queue: {hold: 8s, then: box}
  box:
    say: "All of our representatives are with other customers. Leave a message after the tone."
    voicemail: {max: 6s}
"""
)
CALL_LATER_IVR = (
    HEAD
    + """\
  queue:
    say: "Please hold for the next available representative."
    queue: {hold: 8s, then: later}
  later:
    say: "Thank you for holding. Our lines are still busy, please call again later."
    hangup: true
"""
)
SPLIT_OFFER_IVR = (
    HEAD
    + """\
  queue:
    say: "Connecting you to our meter team."
    queue:
      hold: 25s
      callback_offer:
        every: 6s
        say: >-
          Instead of waiting, we can ring you back when an adviser is free. Press 1 for
          that option.
        digit: "1"
        goto: booked
      then: booked
  booked:
    say: "Thank you. An adviser will ring you back today. Goodbye."
    hangup: true
"""
)


UNREAD_OFFER_IVR = (
    HEAD
    + """\
  queue:
    say: "Connecting you to our card team."
    queue:
      hold: 20s
      callback_offer:
        every: 6s
        say: "Rather than wait, we can phone you back as soon as a specialist is free."
        digit: "1"
        goto: booked
      then: booked
  booked:
    say: "Thank you. A specialist will phone you back. Goodbye."
    hangup: true
"""
)
"""A callback offer whose words the phrasebook does not take for one (no key is named, as
when the recogniser garbles "press 1"): only the music coming back after it says the queue,
not a person, spoke."""


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return MoonshineEngine()


def call(folder: Path, ivr: str, steps: str, engine: SpeechEngine) -> tuple[Any, Any]:
    (folder / "ivr.yaml").write_text(ivr)
    (folder / "script.yaml").write_text(f"name: hold end\ntarget: ivr.yaml\n{steps}")
    record = asyncio.run(run_script(load_script(folder / "script.yaml"), engine))
    assert record.truth is not None
    return record.result, record.truth


def assert_hold_like_the_truth(result: Any, truth: Any) -> None:
    (hold,) = result["holds"]
    (true_hold,) = truth["holds"]
    assert hold["end_s"] == pytest.approx(true_hold["end_s"], abs=1.0), (hold, true_hold)
    assert result["metrics"]["hold_s"] == pytest.approx(truth_hold_s(truth), abs=1.0)


def test_dead_air_after_the_music_ends_the_hold_where_the_music_stopped(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    steps = """\
settings: {hold_dead_air: 10s}
steps:
  - hold: {max: 1m}
  - human: {within: 1m}
"""
    result, truth = call(tmp_path, DEAD_AIR_IVR, steps, engine)
    assert result["failure"]["kind"] == "dead-air", result["failure"]
    assert "after the hold's music" in result["failure"]["message"]
    (dead_air,) = [e for e in result["events"] if e["type"] == "dead-air"]
    assert dead_air["after_hold"] is True
    assert_hold_like_the_truth(result, truth)


def test_a_voicemail_greeting_after_the_hold_is_not_hold(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    """The greeting says the representatives are busy (hold words) and asks for a message:
    the hold ends before it, and the step after `hold` hears it."""
    steps = """\
steps:
  - hold: {max: 1m}
  - expect: "leave a message"
    within: 20s
  - hangup: true
"""
    result, truth = call(tmp_path, VOICEMAIL_IVR, steps, engine)
    assert result["outcome"] == "passed", result["failure"]
    assert_hold_like_the_truth(result, truth)


def test_a_call_again_later_message_the_line_hangs_up_after_is_not_hold(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    steps = """\
steps:
  - hold: {max: 1m}
  - expect_hangup: {within: 20s}
"""
    result, truth = call(tmp_path, CALL_LATER_IVR, steps, engine)
    assert result["outcome"] == "passed", result["failure"]
    assert_hold_like_the_truth(result, truth)


def test_a_callback_offer_in_two_sentences_keeps_the_hold_until_it_is_taken(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    steps = """\
steps:
  - expect: "ring you back"
    within: 30s
    silence: 30s
  - press: "1"
  - expect_hangup: {within: 15s}
"""
    result, truth = call(tmp_path, SPLIT_OFFER_IVR, steps, engine)
    assert result["outcome"] == "passed", result["failure"]
    # The key waits for the music to settle (a second); between these offers it plays 0.6 s,
    # so the key may take the offer as it is made again.
    taken = [offer for offer in truth["callback_offers"] if offer["accepted_s"] is not None]
    assert len(taken) == 1, "the offer was taken"
    assert result["callback_offered"] is True
    assert_hold_like_the_truth(result, truth)


def test_an_offer_the_words_miss_stays_in_the_hold_when_the_music_comes_back(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    """The caller takes the offer by its key a moment after the music came back (less than
    `resume_s` of it): the hold goes on to the key, not back to where the offer began."""
    steps = """\
steps:
  - expect: "phone you back"
    within: 30s
    silence: 30s
  - press: "1"
  - expect_hangup: {within: 15s}
"""
    result, truth = call(tmp_path, UNREAD_OFFER_IVR, steps, engine)
    assert result["outcome"] == "passed", result["failure"]
    assert [o["accepted_s"] is not None for o in truth["callback_offers"]] == [True]
    assert_hold_like_the_truth(result, truth)


RETURNING_IVR = """\
name: Cobalt Fiber
voice: {tts: flite, voice: slt, speed: 165}
start: main
answer: {after: 3s}
nodes:
  main:
    say: >-
      Thank you for calling Cobalt Fiber. Press 1 for a service outage. Press 5 to return
      equipment.
    menu:
      options:
        "1": main
        "5": returns
  returns:
    say: >-
      Equipment returns. Bring your modem and any TV boxes to a Cobalt Fiber store, or use the
      prepaid label that came with your kit. Returning you to the main menu.
    goto: main
"""
"""A message that goes back to the menu: flite slt's last words, "to the main menu", are
labelled music for half a second, and the classifier's open segment then ran on through the
quiet and into the menu's first second."""


def test_speech_labelled_music_for_a_moment_before_a_prompt_is_no_hold(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    steps = """\
steps:
  - expect: "return equipment"
  - press: "5"
  - expect: "prepaid label"
    within: 20s
  - expect: "calling"
    within: 20s
  - hangup: true
"""
    result, truth = call(tmp_path, RETURNING_IVR, steps, engine)
    assert result["outcome"] == "passed", result["failure"]
    assert truth["holds"] == []
    assert result["holds"] == [], result["holds"]
