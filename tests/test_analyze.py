"""`shopper analyze` end to end on a call built from real material with known truth."""

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.files import read_audio, write_wav
from shopper.audio.frame import TELEPHONY_RATE, silence
from shopper.audio.g711 import ulaw_round_trip
from shopper.bench.demo import DemoCall, build_demo_call
from shopper.sandbox.sounds import PROMPTS_DIR
from shopper.text.match import fuzzy

pytestmark = pytest.mark.slow

SHOPPER = [sys.executable, "-m", "shopper"]


@pytest.fixture(scope="module")
def demo() -> DemoCall:
    return build_demo_call()


@pytest.fixture(scope="module")
def demo_document(demo: DemoCall, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    path = tmp_path_factory.mktemp("demo") / "call.wav"
    write_wav(path, demo.samples)
    run = subprocess.run(
        [*SHOPPER, "analyze", str(path), "--json", "--engine", "moonshine"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def demo_json(demo_document: dict) -> dict:  # type: ignore[type-arg]
    """The one channel of the (mono) demo call, with the recording's duration."""
    (channel,) = demo_document["channels"]
    return {"duration_s": demo_document["duration_s"], **channel}


def test_json_has_the_documented_shape(demo_document: dict) -> None:  # type: ignore[type-arg]
    assert set(demo_document) == {"schema", "duration_s", "engine", "channels"}
    assert demo_document["schema"] == "shopper.analysis/2"
    assert demo_document["engine"] == "moonshine:base-en"
    (channel,) = demo_document["channels"]
    assert set(channel) == {"channel", "segments", "dtmf", "tones", "transcript"}
    assert channel["channel"] == "mono"
    for segment in channel["segments"]:
        assert set(segment) == {"start_s", "end_s", "kind"}
    for utterance in channel["transcript"]:
        assert set(utterance) == {"start_s", "end_s", "text", "confidence"}


def test_segments_tile_the_recording(demo: DemoCall, demo_json: dict) -> None:  # type: ignore[type-arg]
    segments = demo_json["segments"]
    assert segments[0]["start_s"] == 0
    assert segments[-1]["end_s"] == pytest.approx(demo_json["duration_s"], abs=0.01)
    for before, after in itertools.pairwise(segments):
        assert before["end_s"] == after["start_s"]
    assert demo_json["duration_s"] == pytest.approx(demo.truth[-1].end_s, abs=0.01)


def test_the_key_press_and_the_reorder_tone_are_heard(demo: DemoCall, demo_json: dict) -> None:  # type: ignore[type-arg]
    (press,) = [part for part in demo.truth if part.kind == "dtmf"]
    assert [d["digit"] for d in demo_json["dtmf"]] == ["2"]
    assert demo_json["dtmf"][0]["t_s"] == pytest.approx(press.start_s, abs=0.03)
    (reorder,) = [part for part in demo.truth if part.kind == "reorder"]
    assert [t["kind"] for t in demo_json["tones"]] == ["reorder"]
    assert demo_json["tones"][0]["start_s"] == pytest.approx(reorder.start_s, abs=0.1)


def test_music_on_hold_is_labelled_music(demo: DemoCall, demo_json: dict) -> None:  # type: ignore[type-arg]
    hold = [part for part in demo.truth if part.kind == "music"]
    heard = sum(
        max(0.0, min(s["end_s"], part.end_s) - max(s["start_s"], part.start_s))
        for part in hold
        for s in demo_json["segments"]
        if s["kind"] == "music"
    )
    assert heard >= 0.9 * sum(part.end_s - part.start_s for part in hold)


def test_the_prompts_are_transcribed(demo_json: dict) -> None:  # type: ignore[type-arg]
    said = " ".join(u["text"] for u in demo_json["transcript"])
    for phrase in (
        "thank you for calling super awesome company",
        "for an operator press zero",
        "please hold while i try that extension",
        "your call will be answered by the next available representative",
    ):
        assert fuzzy(phrase, min_score=0.8).match(said).matched, phrase


def test_readable_output_names_the_engine(demo: DemoCall, tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    write_wav(path, demo.samples[: 8000 * 8])
    run = subprocess.run(
        [*SHOPPER, "analyze", str(path), "--engine", "moonshine"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "engine: moonshine:base-en" in run.stderr
    assert "speech" in run.stdout


@pytest.mark.parametrize(
    "content,message",
    [(None, "no such file"), (b"RIFF not really a wave file" * 20, "bad.wav")],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    run = subprocess.run([*SHOPPER, "analyze", str(path), "--json"], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stdout == ""
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr


def test_a_stereo_call_is_heard_channel_by_channel(tmp_path: Path) -> None:
    """The tester's keys stay in the tester's channel; the far end's prompt in the far end's."""
    prompt = read_audio(PROMPTS_DIR / "please-try-again.wav")
    keys = dtmf_sequence("39#", 0.1, 0.1)
    at = round(0.4 * TELEPHONY_RATE)  # the keys are pressed while the prompt plays
    far = ulaw_round_trip(np.concatenate([prompt, silence(1.0)]))
    tester = np.zeros_like(far)
    tester[at : at + len(keys)] = keys
    path = tmp_path / "call.wav"
    write_wav(path, np.stack([far, tester], axis=1))
    run = subprocess.run(
        [*SHOPPER, "analyze", str(path), "--json", "--engine", "moonshine"],
        capture_output=True,
        text=True,
        check=True,
    )
    far_end, tester_side = json.loads(run.stdout)["channels"]
    assert (far_end["channel"], tester_side["channel"]) == ("far", "tester")
    assert far_end["dtmf"] == []
    assert [d["digit"] for d in tester_side["dtmf"]] == list("39#")
    assert tester_side["dtmf"][0]["t_s"] == pytest.approx(at / TELEPHONY_RATE, abs=0.03)
    assert not [s for s in far_end["segments"] if s["kind"] == "tone"]
    said = " ".join(u["text"] for u in far_end["transcript"])
    assert fuzzy("please try again", min_score=0.8).match(said).matched, said
    assert tester_side["transcript"] == []

    readable = subprocess.run(
        [*SHOPPER, "analyze", str(path), "--engine", "moonshine"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    far_part, tester_part = readable.split("tester (right channel)")
    assert "far end (left channel)" in far_part
    assert "dtmf" not in far_part
    assert tester_part.count("dtmf") == 3
