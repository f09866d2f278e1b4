"""Voicemail boxes: a greeting, a beep, then the silence of the recording — judged on the
sandbox's real material (flite voices, Asterisk's recorded beep and music-on-hold) and
compared with the sandbox's truth."""

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine, Utterance
from shopper.audio.callprogress import call_progress_tone
from shopper.audio.files import read_audio
from shopper.audio.frame import Samples
from shopper.audio.segments import Segment
from shopper.engine.runs import Run
from shopper.engine.voicemail import VoicemailDetector, single_tone_hz
from shopper.results.record import CallRecord
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

pytestmark = pytest.mark.slow

SOUNDS = Path("/usr/share/asterisk/sounds/en")

# A queue whose hold ends in a voicemail box: a greeting without "leave a message", and
# Asterisk's own recorded beep (700 Hz, where the sandbox's voicemail node beeps at 1000 Hz).
HOLD_TO_BOX = """\
name: Harbor Dental
voice: {tts: flite, voice: slt, speed: 160}
start: welcome
nodes:
  welcome: {say: "Thank you for calling Harbor Dental. Please hold.", goto: queue}
  queue: {queue: {hold: 14s, music: default, then: box}}
  box: {say: "You have reached the front desk. Nobody is free to take your call.", goto: beep}
  beep: {play: "asterisk:beep", silence: 40s}
"""
# A beep that asks for something and a person who answers straight after it: no box.
BEEP_THEN_PERSON = """\
name: Harbor Dental
voice: {tts: flite, voice: slt, speed: 160}
start: welcome
nodes:
  welcome: {say: "Thank you for calling Harbor Dental. Connecting you now.", goto: beep}
  beep: {play: "asterisk:beep", goto: desk}
  desk: {agent: {greeting: "Front desk, this is Ana. How can I help you?"}}
"""
# A box straight after the greeting, in the sandbox's own voicemail node (a 1000 Hz beep).
DIRECT_BOX = """\
name: Harbor Dental
voice: {tts: flite, voice: awb, speed: 165}
start: box
nodes:
  box: {say: "Please leave your message after the tone.", voicemail: {max: 40s}}
"""
SCRIPT = """\
name: Front desk reaches a person
target: ivr.yaml
steps:
{STEPS}
  - human: {within: 1m}
"""


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return MoonshineEngine()


def call(folder: Path, ivr: str, steps: str, engine: SpeechEngine) -> CallRecord:
    (folder / "ivr.yaml").write_text(ivr)
    (folder / "script.yaml").write_text(SCRIPT.replace("{STEPS}", steps))
    return asyncio.run(run_script(load_script(folder / "script.yaml"), engine))


def truth_beep(truth: dict[str, Any]) -> dict[str, Any]:
    (beep,) = [s for s in truth["sounds"] if s["node"] == "beep"]
    return beep


def test_a_recorded_beep_is_one_tone_and_call_progress_tones_are_not() -> None:
    assert single_tone_hz(read_audio(SOUNDS / "beep.wav")) == pytest.approx(700, abs=10)
    assert single_tone_hz(call_progress_tone("ringback", 0.5)) is None
    assert single_tone_hz(call_progress_tone("busy", 0.4)) is None
    assert single_tone_hz(read_audio(SOUNDS / "vm-intro.wav")[:8000]) is None


def _detector_after(kinds: list[tuple[str, float, float]], beep: Samples) -> VoicemailDetector:
    """Closed segments in order; tone segments sound like `beep`."""
    detector = VoicemailDetector()
    for kind, start_s, end_s in kinds:
        segment = Segment(round(start_s * 8000), round(end_s * 8000), kind)  # type: ignore[arg-type]
        detector.observe_segment(segment, lambda start, end: beep[: end - start])
    return detector


def test_a_short_beep_after_speech_then_quiet_is_a_box_and_anything_else_is_not() -> None:
    short = (10000 * np.sin(2 * np.pi * 850 * np.arange(1600) / 8000)).astype(np.int16)
    greeting = [Utterance(0, 3 * 8000, "This is Sam's phone.", 0.5, True)]
    # 0.2 s: too short for the runs, so the silence run began before the beep.
    detector = _detector_after([("speech", 0, 3), ("silence", 3, 3.5), ("tone", 3.5, 3.7)], short)
    quiet = Run("silence", 3 * 8000)
    assert not detector.observe_quiet(quiet, round(6.5 * 8000), greeting), "not quiet long enough"
    assert detector.observe_quiet(quiet, round(6.8 * 8000), greeting)
    assert detector.box is not None and detector.box.beep.hz == pytest.approx(850, abs=10)
    assert detector.box.greeting == "This is Sam's phone." and not detector.box.asks_for_message
    busy = call_progress_tone("busy", 0.5)
    for segments, sound in [
        ([("speech", 0, 3), ("tone", 3.2, 3.7)], busy),  # two frequencies
        ([("music", 0, 3), ("tone", 3.2, 3.4)], short),  # not after speech
        ([("speech", 0, 3), ("tone", 7.0, 7.2)], short),  # long after it
        ([("speech", 0, 3), ("tone", 3.2, 3.4), ("speech", 4, 5)], short),  # talk goes on
    ]:
        detector = _detector_after(segments, sound)
        assert not detector.observe_quiet(quiet, 20 * 8000, greeting), segments


def test_a_hold_that_ends_in_a_voicemail_box_returns_and_the_human_step_fails_as_voicemail(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    record = call(tmp_path, HOLD_TO_BOX, "  - hold: {max: 1m, start_within: 20s}", engine)
    result, truth = record.result, record.truth
    assert truth is not None
    hold_step, human_step = result["steps"]
    assert human_step["outcome"] == "failed"
    (true_hold,) = truth["holds"]
    assert hold_step["outcome"] == "passed"
    held = float(hold_step["detail"].removeprefix("held ").removesuffix(" s"))
    assert held == pytest.approx(true_hold["end_s"] - true_hold["start_s"], abs=1.0)
    # The step returned once the greeting had started and the music had not come back.
    greeting = next(s for s in truth["sounds"] if s["node"] == "box")
    assert greeting["start_s"] < hold_step["end_s"] < greeting["end_s"] + 2.5
    assert result["failure"]["kind"] == "voicemail", result["failure"]
    assert result["reached"] == "voicemail" and not result["human"]["detected"]
    beep = truth_beep(truth)
    box = result["voicemail"]
    assert box["beep_at_s"] == pytest.approx(beep["start_s"], abs=0.1)
    assert box["beep_hz"] == pytest.approx(700, abs=10)
    assert box["asks_for_message"] is False
    assert not any(e["type"] == "said" for e in result["events"]), "nothing said into the box"


def test_a_beep_followed_by_a_person_is_not_a_voicemail_box(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    record = call(tmp_path, BEEP_THEN_PERSON, "  - wait: 1s", engine)
    result = record.result
    assert result["outcome"] == "passed", result["failure"]
    sounds = [e["kind"] for e in result["events"] if e["type"] == "sound"]
    assert "tone" in sounds, "the beep was heard"
    assert result["reached"] == "human" and result["voicemail"] is None
    assert not any(e["type"] == "voicemail" for e in result["events"])


def test_the_silence_of_a_box_recording_is_voicemail_not_dead_air(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    (tmp_path / "ivr.yaml").write_text(DIRECT_BOX)
    (tmp_path / "script.yaml").write_text(
        "name: Waits in a box\ntarget: ivr.yaml\nsteps:\n  - wait: 20s\n"
    )
    record = asyncio.run(run_script(load_script(tmp_path / "script.yaml"), engine))
    result, truth = record.result, record.truth
    assert truth is not None and truth["voicemail"]
    assert result["failure"]["kind"] == "voicemail", result["failure"]
    assert result["reached"] == "voicemail" and result["voicemail"]["asks_for_message"]
    assert result["voicemail"]["beep_hz"] == pytest.approx(1000, abs=10)
    assert not any(e["type"] == "dead-air" for e in result["events"])
    assert result["metrics"]["dead_air_s"] == 0.0, "a box recording is not dead air"
