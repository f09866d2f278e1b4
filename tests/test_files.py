"""Recordings of any common format come in as 8 kHz mono PCM; bad files give one-line errors."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from shopper.audio.files import AudioFileError, read_audio, read_channel, write_wav
from shopper.bench.corpus import prompt_files

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


def test_write_then_read_round_trips_exactly(tmp_path: Path) -> None:
    pcm = np.random.default_rng(0).integers(-30000, 30000, 4000).astype(np.int16)
    write_wav(tmp_path / "a.wav", pcm)
    assert np.array_equal(read_audio(tmp_path / "a.wav"), pcm)


def test_stereo_is_mixed_to_mono_and_resampled(tmp_path: Path) -> None:
    left = np.full(16000, 1000, dtype=np.int16)
    right = np.full(16000, 3000, dtype=np.int16)
    write_wav(tmp_path / "s.wav", np.stack([left, right], axis=1), rate=16000)
    mono = read_audio(tmp_path / "s.wav")
    assert len(mono) == 8000
    assert abs(int(np.median(mono)) - 2000) <= 2


def test_one_channel_of_a_call_recording_is_read_alone(tmp_path: Path) -> None:
    """A call recording: the far end left, the tester's keys right; neither leaks into the
    other when one channel is read."""
    far = read_audio(prompt_files()[0])
    near = np.zeros_like(far)
    near[: len(near) // 2] = 12000
    write_wav(tmp_path / "call.wav", np.stack([far, near], axis=1))
    assert np.array_equal(read_channel(tmp_path / "call.wav", 0), far)
    assert np.array_equal(read_channel(tmp_path / "call.wav", 1), near)
    with pytest.raises(AudioFileError, match="no channel 2"):
        read_channel(tmp_path / "call.wav", 2)


def test_real_prompt_reads_at_telephony_rate() -> None:
    path = prompt_files()[0]
    samples = read_audio(path)
    assert samples.dtype == np.int16
    assert len(samples) > 1000


@needs_ffmpeg
@pytest.mark.parametrize("codec", [["-c:a", "libmp3lame"], ["-c:a", "pcm_mulaw"]])
def test_other_formats_decode_through_ffmpeg(tmp_path: Path, codec: list[str]) -> None:
    source = prompt_files()[0]
    target = tmp_path / ("out.mp3" if "libmp3lame" in codec else "out.wav")
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(source), *codec, "-ar", "22050", str(target)],
        check=True,
    )
    original = read_audio(source)
    decoded = read_audio(target)
    assert abs(len(decoded) - len(original)) < 0.1 * len(original) + 2000  # mp3 adds padding


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="no such file") as error:
        read_audio(tmp_path / "nope.wav")
    assert "\n" not in str(error.value)


@needs_ffmpeg
def test_garbage_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioFileError, match=r"bad\.wav") as error:
        read_audio(bad)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("cut_bytes", [1, 2, 3])
def test_a_truncated_stereo_recording_keeps_every_whole_frame(
    tmp_path: Path, cut_bytes: int
) -> None:
    left = np.arange(-2000, 2000, dtype=np.int16)
    right = -left
    path = tmp_path / "cut.wav"
    write_wav(path, np.stack([left, right], axis=1))
    path.write_bytes(path.read_bytes()[:-cut_bytes])
    kept = read_channel(path, 0)
    assert len(kept) == len(left) - 1
    assert np.array_equal(kept, left[:-1])
    assert np.array_equal(read_channel(path, 1), right[:-1])
