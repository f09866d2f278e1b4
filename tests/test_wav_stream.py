"""The call's recording streams to disk: the file is a whole WAV at every moment, byte for
byte what `wave` writes from the same samples at the end, read back by range; and a process
killed mid-call (SIGKILL, a real subprocess and a real call) leaves a WAV that wave and ffmpeg
read, holding both channels of everything heard up to the last half second."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import wave
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from shopper.asr.types import SpeechEngine
from shopper.audio.dtmf import detect_dtmf
from shopper.audio.files import AudioFileError
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.wav_stream import FLUSH_SAMPLES, GrowingWav
from shopper.carriers.base import CarrierError
from shopper.engine.recording import RECENT_FRAMES, Recording
from shopper.scripts.runner import open_call


def stereo(samples: int, seed: int = 0) -> Samples:
    noise = np.random.default_rng(seed).integers(-32768, 32767, size=(samples, 2))
    return noise.astype(np.int16)


def wave_reads(path: Path) -> Samples:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        raw = wav.readframes(wav.getnframes())
    return np.frombuffer(raw, dtype="<i2").reshape(-1, 2)


def test_the_streamed_file_is_what_wave_writes_at_once(tmp_path: Path) -> None:
    audio = stereo(3 * FLUSH_SAMPLES + 1234)
    streamed = GrowingWav(tmp_path / "streamed.wav", channels=2)
    for piece in np.array_split(audio, [1, 160, 2000, FLUSH_SAMPLES + 7, 2 * FLUSH_SAMPLES]):
        streamed.append(piece)
    streamed.close()
    with wave.open(str(tmp_path / "at-once.wav"), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(TELEPHONY_RATE)
        wav.writeframes(audio.astype("<i2").tobytes())
    assert (tmp_path / "streamed.wav").read_bytes() == (tmp_path / "at-once.wav").read_bytes()


def test_ranges_read_back_whether_written_yet_or_not(tmp_path: Path) -> None:
    audio = stereo(FLUSH_SAMPLES + 500, seed=1)
    streamed = GrowingWav(None, channels=2)
    streamed.append(audio[:FLUSH_SAMPLES])
    streamed.append(audio[FLUSH_SAMPLES:])  # under FLUSH_SAMPLES: not written yet
    assert streamed.samples == len(audio)
    for start, end in [(0, 10), (FLUSH_SAMPLES - 3, FLUSH_SAMPLES + 3), (100, len(audio))]:
        assert np.array_equal(streamed.read(start, end), audio[start:end])
    assert np.array_equal(streamed.read(len(audio) - 5, len(audio) + 100), audio[-5:])
    assert streamed.read(len(audio), len(audio) + 10).shape == (0, 2)


def test_between_appends_the_file_on_disk_is_a_whole_wav(tmp_path: Path) -> None:
    """What a reader sees while the call goes on: every sample written, the header counting
    exactly those; what was appended since (under half a second) is not in it yet."""
    path = tmp_path / "growing.wav"
    audio = stereo(2 * FLUSH_SAMPLES + 800, seed=2)
    streamed = GrowingWav(path, channels=2)
    assert wave_reads(path).shape == (0, 2)
    for frame in np.array_split(audio, len(audio) // 160):
        streamed.append(frame)
        on_disk = wave_reads(path)
        assert streamed.samples - FLUSH_SAMPLES < len(on_disk) <= streamed.samples
        assert np.array_equal(on_disk, audio[: len(on_disk)])
    streamed.close()
    assert np.array_equal(wave_reads(path), audio)


def test_a_closed_recording_refuses_to_be_read(tmp_path: Path) -> None:
    streamed = GrowingWav.of(stereo(100), path=tmp_path / "r.wav")
    streamed.close()
    streamed.close()  # twice is harmless
    with pytest.raises(ValueError, match="closed"):
        streamed.read(0, 10)


CHILD = """
import asyncio, sys, time
from pathlib import Path
from typing import cast

import numpy as np

from shopper.asr.moonshine_engine import MoonshineEngine, MoonshineWorkerPool
from shopper.scripts.runner import open_call

ivr, out = sys.argv[1], Path(sys.argv[2])


async def main() -> None:
    engine = MoonshineEngine(MoonshineWorkerPool(size=1))
    context = open_call(ivr, engine, name="killed", folder=lambda *_: out)
    heard = []
    async with context:
        session = context.session
        session.on_frame = lambda frame: heard.append(frame.samples)
        while session.now < {keys_at}:
            await session.advance()
        sent = await session.send_keys("1", 0.2, 0.1)
        while session.now < {kill_at}:
            await session.advance()
        np.save(out / "far-heard.npy", np.concatenate(heard))
        print(session.now, sent.start, sent.end, flush=True)
        time.sleep(600)  # the event loop stops here: the parent kills the process


asyncio.run(main())
"""

LONG_QUEUE = """
name: Long queue
start: welcome
answer: {after: 1s}
nodes:
  welcome:
    say: "Thank you for calling. Please hold."
    goto: queue
  queue:
    queue: {hold: 600s, music: default}
"""


def kill_group(pid: int) -> None:
    """SIGKILL the child and its speech worker (the process group the test started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_call_killed_mid_call_leaves_a_readable_recording_of_both_channels(
    tmp_path: Path,
) -> None:
    ivr = tmp_path / "ivr.yaml"
    ivr.write_text(LONG_QUEUE)
    out = tmp_path / "call"
    child = tmp_path / "child.py"
    keys_at, kill_at = 3 * TELEPHONY_RATE, 12 * TELEPHONY_RATE + 37 * 160
    child.write_text(CHILD.format(keys_at=keys_at, kill_at=kill_at))
    process = subprocess.Popen(
        [sys.executable, str(child), str(ivr), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the speech worker too is killed with the group
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    stuck = threading.Timer(300, kill_group, (process.pid,))  # never hang
    stuck.start()
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
    finally:
        stuck.cancel()
        kill_group(process.pid)
        _, stderr = process.communicate(timeout=60)
    assert line, stderr
    now, key_start, key_end = (int(value) for value in line.split())
    assert process.returncode == -signal.SIGKILL
    assert not (out / "result.json").exists()

    recording = wave_reads(out / "recording.wav")
    assert now - FLUSH_SAMPLES < len(recording) <= now, "all but the last half second"
    heard = np.load(out / "far-heard.npy")
    assert np.array_equal(recording[:, 0], heard[: len(recording)]), "left: the far end"
    tester = recording[:, 1]
    assert not tester[:key_start].any() and not tester[key_end:].any()
    assert [d.digit for d in detect_dtmf(tester)] == ["1"], "right: the key shopper sent"
    assert not [d.digit for d in detect_dtmf(recording[:, 0])], "and only there"

    if shutil.which("ffmpeg") is not None:
        decoded = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(out / "recording.wav"), "-f", "s16le", "-"],
            capture_output=True,
            check=True,
        )
        assert decoded.stderr == b""
        by_ffmpeg = np.frombuffer(decoded.stdout, dtype="<i2").reshape(-1, 2)
        assert np.array_equal(by_ffmpeg, recording)


def test_a_failed_write_fails_once_naming_the_file_and_the_call_can_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills up mid-call: the append that cannot be written raises a one-line
    error naming the file; later audio is dropped (the call can still hang up) and the file
    is refused where it is relied on (writing the evidence)."""
    path = tmp_path / "full.wav"
    streamed = GrowingWav(path, channels=2)
    streamed.append(stereo(FLUSH_SAMPLES))
    written = streamed.samples

    def disk_full(*_: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", disk_full)
    with pytest.raises(AudioFileError, match=f"{path}: cannot write .No space left on device."):
        streamed.append(stereo(FLUSH_SAMPLES, seed=3))
    streamed.append(stereo(FLUSH_SAMPLES, seed=4))  # dropped, no error
    assert streamed.samples == written
    assert streamed.read(0, 2 * written).shape == (written, 2)
    with pytest.raises(AudioFileError, match="No space left"):
        streamed.sync()


class UnusedEngine:
    """A call that is never placed never listens: any use of its engine is a failure."""

    name = "unused"

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the engine's {name} was used")


def test_a_call_never_placed_leaves_no_folder(tmp_path: Path) -> None:
    folder = tmp_path / "calls" / "never"
    engine = cast(SpeechEngine, UnusedEngine())
    context = open_call("x", engine, carrier="pigeon", folder=lambda *_: folder)

    async def dial() -> None:
        async with context:
            pass

    with pytest.raises(CarrierError, match="pigeon"):
        asyncio.run(dial())
    assert not (tmp_path / "calls").exists(), "the carrier is checked before anything is made"


def test_the_session_keeps_only_recent_far_frames_and_reads_older_audio_back() -> None:
    recording = Recording(None)
    frames = [np.full(160, index, dtype=np.int16) for index in range(3 * RECENT_FRAMES)]
    for index, far in enumerate(frames):
        recording.add(far, np.full(150, -index, dtype=np.int16))  # a short tester frame
        assert RECENT_FRAMES <= len(recording.far) < 2 * RECENT_FRAMES or index < RECENT_FRAMES
        assert recording.far[-1] is far
    assert np.array_equal(recording.far_between(150, 330), np.repeat([0, 1, 2], [10, 160, 10]))
    both = recording.file.read(0, 160)
    assert np.array_equal(both[:, 1], np.zeros(160)), "the tester's frame 0, padded with 0"
    assert np.array_equal(recording.file.read(160, 320)[:, 1], np.repeat([-1, 0], [150, 10]))
