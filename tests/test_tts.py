from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shopper.audio.goertzel import block_energy, block_view
from shopper.errors import ShopperError
from shopper.tts import TtsError, synthesize, tts_cache_dir


@pytest.fixture(autouse=True)
def cache_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SHOPPER_CACHE_DIR", str(folder))
    return folder


def test_speech_is_8khz_int16_with_voiced_audio() -> None:
    speech = synthesize("For billing, press one.")
    assert speech.dtype == np.int16
    assert 1.0 < len(speech) / 8000 < 4.0
    level = np.sqrt(block_energy(block_view(speech, 160, 160)))
    loud = level > 1000
    assert 0.3 < loud.mean() < 0.95, "speech has pauses but is mostly voiced"
    assert not speech.flags.writeable


def test_speed_and_voice_change_the_audio() -> None:
    slow = synthesize("Your call is important to us.", speed=120)
    fast = synthesize("Your call is important to us.", speed=240)
    assert len(slow) > 1.5 * len(fast)
    other = synthesize("Your call is important to us.", voice="en-gb")
    normal = synthesize("Your call is important to us.")
    assert len(other) != len(normal) or not np.array_equal(other, normal)


def test_disk_cache_serves_without_spawning_espeak(
    cache_in: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = synthesize("Thank you for holding.")
    entries = list(tts_cache_dir().glob("*.wav"))
    assert len(entries) == 1
    assert not list(tts_cache_dir().glob("*.tmp"))

    moved = tmp_path / "elsewhere"
    shutil.copytree(cache_in, moved)
    monkeypatch.setenv("SHOPPER_CACHE_DIR", str(moved))
    spawned: list[Any] = []
    real_run = subprocess.run

    def spy(command: list[str], *args: Any, **kwargs: Any) -> Any:
        spawned.append(command)
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    second = synthesize("Thank you for holding.")
    assert np.array_equal(first, second)
    assert not any("--stdout" in command for command in spawned)

    synthesize("Something new.")
    assert any("--stdout" in command for command in spawned)


def test_text_that_looks_like_an_option_is_spoken() -> None:
    assert len(synthesize("-v is not an option here")) > 8000


def test_blank_text_is_no_audio() -> None:
    assert len(synthesize("   ")) == 0


def test_missing_espeak_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ShopperError) as raised:
        synthesize("Hello")
    message = str(raised.value)
    assert "\n" not in message
    assert "install" in message and "espeak-ng" in message


def test_unknown_voice_is_a_one_line_error() -> None:
    with pytest.raises(TtsError) as raised:
        synthesize("Hello", voice="xx-nowhere")
    assert "\n" not in str(raised.value)
    assert "xx-nowhere" in str(raised.value)


needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")


@needs_flite
def test_flite_voices_speak_and_differ_from_espeak() -> None:
    awb = synthesize("For billing, press one.", "awb", 160, "flite")
    slt = synthesize("For billing, press one.", "slt", 160, "flite")
    espeak = synthesize("For billing, press one.", "en-us", 160)
    loud = np.sqrt(block_energy(block_view(awb, 160, 160))) > 300
    assert awb.dtype == np.int16 and loud.sum() > 20
    assert not np.array_equal(awb[: len(slt)], slt[: len(awb)])
    assert len(awb) != len(espeak)
    slower = synthesize("For billing, press one.", "awb", 120, "flite")
    assert len(slower) > len(awb) * 1.2


@needs_flite
def test_unknown_flite_voice_is_a_one_line_error() -> None:
    with pytest.raises(TtsError, match="flite has no voice 'en-us'") as error:
        synthesize("Hello.", "en-us", 160, "flite")
    assert "\n" not in str(error.value)


@needs_flite
def test_flite_text_that_looks_like_an_option_is_spoken() -> None:
    assert len(synthesize("-o /tmp/owned", "awb", 160, "flite")) > 4000
