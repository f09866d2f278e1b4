"""Silence on hold: real music-on-hold goes quiet at the end of a track.

Asterisk's "cold day" (asterisk-moh-opsound) fades out over its last 16 s, and a music-on-hold
class plays its files one after another, sometimes with a pause between them. A caller on hold
hears that as a pause in the music, not as a dropped call, so a hold allows 30 s of silence
(`hold_dead_air`) where the rest of a call allows 12 s (`dead_air`). The queue here loops the
track's last 30 s and 10 s of nothing (the line's hiss), longer than 12 s of quiet together;
the hold lasts long enough for one whole quiet stretch wherever the seed starts the loop.
"""

import asyncio
from pathlib import Path

import numpy as np
import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine
from shopper.audio.files import read_audio, write_wav
from shopper.audio.frame import TELEPHONY_RATE
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

COLD_DAY = Path("/usr/share/asterisk/moh/macroform-cold_day.wav")
IVR = """\
name: Fading hold
voice: {tts: flite, voice: awb, speed: 165}
start: welcome
answer: {after: 1s}
nodes:
  welcome: {say: "Please hold for the next available agent.", goto: queue}
  queue: {queue: {hold: 75s, music: fade.wav, then: agent}}
  agent: {agent: {greeting: "Hello, this is Kim. How can I help you?"}}
"""
SCRIPT = """\
name: Person after a fading hold
target: ivr.yaml
settings: {SETTINGS}
steps:
  - expect: {contains: "hold"}
    within: 15s
  - hold: {max: 2m, start_within: 15s}
  - human: {within: 2m}
"""


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return MoonshineEngine()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    track = read_audio(COLD_DAY)[-30 * TELEPHONY_RATE :]
    pause = np.zeros(10 * TELEPHONY_RATE, dtype=track.dtype)
    write_wav(tmp_path / "fade.wav", np.concatenate([track, pause]))
    (tmp_path / "ivr.yaml").write_text(IVR)
    return tmp_path


def call(folder: Path, settings: str, engine: SpeechEngine) -> dict[str, object]:
    script = folder / "script.yaml"
    script.write_text(SCRIPT.replace("{SETTINGS}", settings))
    record = asyncio.run(run_script(load_script(script), engine))
    return record.result


def test_the_fade_of_a_hold_track_is_not_a_dropped_call(folder: Path, engine: SpeechEngine) -> None:
    result = call(folder, "{dead_air: 12s}", engine)
    assert result["outcome"] == "passed", result["failure"]
    metrics = result["metrics"]
    assert isinstance(metrics, dict) and metrics["dead_air_s"] > 12, "the quiet was heard"


def test_a_hold_silence_beyond_hold_dead_air_fails_the_call(
    folder: Path, engine: SpeechEngine
) -> None:
    result = call(folder, "{hold_dead_air: 10s}", engine)
    assert result["outcome"] == "failed"
    failure = result["failure"]
    assert isinstance(failure, dict) and failure["kind"] == "dead-air", failure


FAINT_IVR = """\
name: Fabrikam
voice: {tts: flite, voice: rms, speed: 165}
start: welcome
answer: {after: 1s}
nodes:
  welcome: {say: "Thank you for calling Fabrikam.", goto: queue}
  queue: {queue: {hold: 25s, music: faint.wav, then: agent}}
  agent: {agent: {greeting: "Hello, this is Kim. How can I help you?"}}
"""
FAINT_SCRIPT = """\
name: Person after a faint hold
target: ivr.yaml
steps:
  - hold: {max: 1m, start_within: 15s}
  - human: {within: 1m}
"""


def test_music_below_the_silence_level_is_a_hold_without_any_announcement(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    """The queue plays only the last seconds of "cold day"'s fade-out, -46 to -63 dBFS, all of
    it below the -45 dBFS silence level, and nothing says "please hold": the music's peaky
    spectrum over the line's flat noise is the only evidence of a hold."""
    track = read_audio(COLD_DAY)
    write_wav(tmp_path / "faint.wav", track[232 * TELEPHONY_RATE : 238 * TELEPHONY_RATE])
    (tmp_path / "ivr.yaml").write_text(FAINT_IVR)
    (tmp_path / "script.yaml").write_text(FAINT_SCRIPT)
    record = asyncio.run(run_script(load_script(tmp_path / "script.yaml"), engine))
    result, truth = record.result, record.truth
    assert truth is not None
    assert result["outcome"] == "passed", result["failure"]
    (hold,) = result["holds"]
    (true_hold,) = truth["holds"]
    assert hold["start_s"] == pytest.approx(true_hold["start_s"], abs=1.0)
    assert hold["end_s"] == pytest.approx(true_hold["end_s"], abs=1.0)
