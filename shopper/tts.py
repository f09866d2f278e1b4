"""Text-to-speech with espeak-ng or flite, at the telephone rate, cached on disk and in memory.

Both sides of a call speak: the simulated phone system renders its `say:` prompts, and the
tester speaks a courtesy message or a responsiveness probe. Both synthesisers are small,
offline and deterministic, so the same text always gives the same audio; that is what makes
the disk cache safe, and the cache is what keeps a sandbox with dozens of prompts from
spawning dozens of processes on every call. The cache key carries the synthesiser's version,
since another version may pronounce differently.

Why two: espeak-ng's formant voices lose most of their consonants in the 4 kHz telephone
band (Moonshine's word error rate on them after a μ-law round trip was 32-70 %), while
flite's diphone/cluster voices survive it (awb 3 %, rms 9 %, slt 11 % on the same sentences),
as the neural TTS of real IVRs does. espeak-ng stays the default: it has many languages.

This module knows nothing of the sandbox: the tester side imports it too.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Literal

import numpy as np

from shopper.asr.models import cache_root
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.resample import resample
from shopper.errors import ShopperError

TtsName = Literal["espeak-ng", "flite"]
TTS_PACKAGES: dict[TtsName, str] = {"espeak-ng": "espeak-ng", "flite": "flite"}
FLITE_NATURAL_WPM = 170
"""flite has no words-per-minute option; speeds are converted to its duration stretch."""
MEMORY_ENTRIES = 256
"""Rendered phrases kept in memory: a large IVR's prompts fit many times over (a few MB)."""
_TIMEOUT_S = 60.0


class TtsError(ShopperError):
    """The synthesiser is missing or refused the text, voice or speed; one line."""


def tts_cache_dir() -> Path:
    return cache_root() / "tts"


def synthesize(
    text: str, voice: str = "en-us", speed: int = 160, tts: TtsName = "espeak-ng"
) -> Samples:
    """`text` spoken by `voice` of `tts` at `speed` words per minute, as 8 kHz int16.

    The array is shared with the cache and therefore read-only: copy it to change it.
    """
    if speed <= 0:
        raise TtsError(f"speech speed {speed}: give a positive number of words per minute")
    if not text.strip():
        return _read_only(np.zeros(0, dtype=np.int16))
    executable = shutil.which(tts)
    if executable is None:
        raise TtsError(
            f"{tts} is not installed: install it (apt-get install {TTS_PACKAGES[tts]}) "
            "to speak text"
        )
    version = _version(executable, tts)
    return _cached(text, voice, speed, tts, version, executable, str(tts_cache_dir()))


@functools.cache
def _version(executable: str, tts: TtsName) -> str:
    if tts == "flite":
        # `flite --version` exits 1; its voice list is what a version change would alter.
        return _run([executable, "-lv"], b"", tts).decode("utf-8", errors="replace").strip()
    return _run([executable, "--version"], b"", tts).decode("utf-8", errors="replace").strip()


def flite_voices() -> list[str]:
    """The voices the installed flite knows (it silently uses its default for any other)."""
    executable = shutil.which("flite")
    if executable is None:
        return []
    listing = _version(executable, "flite")
    return listing.partition(":")[2].split()


@functools.lru_cache(maxsize=MEMORY_ENTRIES)
def _cached(
    text: str, voice: str, speed: int, tts: TtsName, version: str, executable: str, folder: str
) -> Samples:
    key = hashlib.sha256("\0".join([tts, version, voice, str(speed), text]).encode("utf-8"))
    path = Path(folder) / f"{key.hexdigest()}.wav"
    if path.is_file():
        try:
            return _read_only(_read_wav(path.read_bytes())[0])
        except (wave.Error, EOFError, OSError):
            pass
    raw = (
        _espeak(executable, text, voice, speed)
        if tts == "espeak-ng"
        else _flite(executable, text, voice, speed)
    )
    try:
        samples, rate = _read_wav(raw)
    except (wave.Error, EOFError):
        raise TtsError(f"{tts} gave no audio for voice {voice!r}") from None
    speech = resample(samples, rate, TELEPHONY_RATE)
    _store(path, speech)
    return _read_only(speech)


def _espeak(executable: str, text: str, voice: str, speed: int) -> bytes:
    """Text on stdin, so that text starting with '-' is never an option."""
    command = [executable, "-v", voice, "-s", str(speed), "--stdout"]
    return _run(command, text.encode("utf-8"), "espeak-ng")


def _flite(executable: str, text: str, voice: str, speed: int) -> bytes:
    """flite writes only to files; the text goes in a file too, so it is never an option."""
    if voice not in flite_voices():
        raise TtsError(f"flite has no voice {voice!r} (voices: {', '.join(flite_voices())})")
    with tempfile.TemporaryDirectory(prefix="shopper-flite-") as folder:
        text_file, wav_file = Path(folder) / "text.txt", Path(folder) / "speech.wav"
        text_file.write_text(text, encoding="utf-8")
        stretch = f"{FLITE_NATURAL_WPM / speed:.3f}"
        command = [executable, "-voice", voice, "--setf", f"duration_stretch={stretch}"]
        _run([*command, "-f", str(text_file), "-o", str(wav_file)], b"", "flite")
        try:
            return wav_file.read_bytes()
        except OSError:
            raise TtsError(f"flite gave no audio for voice {voice!r}") from None


def _run(command: list[str], stdin: bytes, tts: TtsName) -> bytes:
    try:
        completed = subprocess.run(
            command, input=stdin, capture_output=True, timeout=_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise TtsError(
            f"{tts} is not installed: install it (apt-get install {TTS_PACKAGES[tts]}) "
            "to speak text"
        ) from None
    except subprocess.TimeoutExpired:
        raise TtsError(f"{tts} did not finish within {_TIMEOUT_S:.0f} s") from None
    if completed.returncode != 0:
        reason = completed.stderr.decode("utf-8", errors="replace").strip().splitlines()
        detail = reason[-1] if reason else f"exit status {completed.returncode}"
        raise TtsError(f"{tts} failed ({' '.join(command[1:5])}): {detail}")
    return completed.stdout


def _read_wav(data: bytes) -> tuple[Samples, int]:
    """Read 16-bit mono WAV; espeak-ng's --stdout header has no length, so read to the end."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise wave.Error("expected 16-bit mono")
        rate = wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    usable = len(raw) - len(raw) % 2
    return np.frombuffer(raw[:usable], dtype="<i2").astype(np.int16), rate


def _store(path: Path, samples: Samples) -> None:
    """Write the cache entry atomically: readers see the old state or the whole new file.

    A cache that cannot be written (read-only home, full disk) only costs speed, so it is
    not an error.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle, wave.open(handle, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(TELEPHONY_RATE)
            wav.writeframes(samples.astype("<i2").tobytes())
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)


def _read_only(samples: Samples) -> Samples:
    samples.setflags(write=False)
    return samples
