"""Reading and writing recordings at the edges of the system.

Plain PCM WAV goes through the stdlib; anything else (μ-law WAV, mp3, ogg, …) is decoded by
ffmpeg through pydub. Everything comes back as mono 16-bit PCM at the rate asked for, so the
DSP never sees a format question.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.resample import resample
from shopper.errors import ShopperError


class AudioFileError(ShopperError):
    """A recording that cannot be read or written; the message is one line for the user."""


def read_audio(path: Path, rate: int = TELEPHONY_RATE) -> Samples:
    """Decode any supported recording to mono int16 PCM at `rate` (channels are averaged)."""
    channels, file_rate = _read_channels(path)
    return resample(_mono(channels), file_rate, rate)


def read_channels(path: Path, rate: int = TELEPHONY_RATE) -> list[Samples]:
    """Every channel of a recording (left first) as int16 PCM at `rate`."""
    channels, file_rate = _read_channels(path)
    return [
        resample(channels[:, number].astype(np.int16), file_rate, rate)
        for number in range(channels.shape[1])
    ]


def read_channel(path: Path, channel: int, rate: int = TELEPHONY_RATE) -> Samples:
    """One channel of a recording (0 = left) as int16 PCM at `rate`: a call recording holds
    each side of the call in its own channel, and a mix would put one side's keys and
    speech into the other's audio."""
    channels, file_rate = _read_channels(path)
    if not 0 <= channel < channels.shape[1]:
        raise AudioFileError(
            f"{path}: has {channels.shape[1]} channel(s), no channel {channel} (0 is the first)"
        )
    picked: Samples = channels[:, channel].astype(np.int16)
    return resample(picked, file_rate, rate)


def _read_channels(path: Path) -> tuple[NDArray[np.int64], int]:
    """Samples of every channel as columns (shape (n, channels), 16-bit range) and the rate."""
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        return _read_pcm_wav(path)
    except (wave.Error, EOFError):
        return _read_with_ffmpeg(path)


def _read_pcm_wav(path: Path) -> tuple[NDArray[np.int64], int]:
    with wave.open(str(path), "rb") as wav:
        width = wav.getsampwidth()
        channels = wav.getnchannels()
        file_rate = wav.getframerate()
        raw = _whole_frames(wav.readframes(wav.getnframes()), width * channels)
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 128) << 8
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.int64)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.int64) >> 16
    else:
        raise wave.Error(f"{width * 8}-bit PCM")
    return data.reshape(-1, channels), file_rate


def _read_with_ffmpeg(path: Path) -> tuple[NDArray[np.int64], int]:
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

    try:
        segment = AudioSegment.from_file(str(path)).set_sample_width(2)
    except CouldntDecodeError:
        raise AudioFileError(
            f"{path}: not a recording ffmpeg can decode (use wav, mp3, ogg or flac)"
        ) from None
    except FileNotFoundError:
        raise AudioFileError(
            f"{path}: decoding this format needs ffmpeg; install it (apt-get install ffmpeg)"
        ) from None
    raw = _whole_frames(segment.raw_data, 2 * segment.channels)
    data = np.frombuffer(raw, dtype="<i2").astype(np.int64)
    return data.reshape(-1, segment.channels), int(segment.frame_rate)


def _whole_frames(raw: bytes, frame_bytes: int) -> bytes:
    """`raw` without a trailing part-frame: a recording cut off mid-write (a crash, a full disk,
    an interrupted copy) still has every whole frame before the cut, and those are kept."""
    return raw[: len(raw) - len(raw) % frame_bytes]


def _mono(data: NDArray[np.integer]) -> Samples:
    mono: Samples = np.clip(np.rint(data.mean(axis=1)), -32768, 32767).astype(np.int16)
    return mono


def write_wav(path: Path, samples: Samples, rate: int = TELEPHONY_RATE) -> None:
    """Write PCM WAV; a 2-D array of shape (n, channels) writes one channel per column."""
    data = samples if samples.ndim == 2 else samples.reshape(-1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(data.shape[1])
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(data.astype("<i2").tobytes())
    except OSError as error:
        raise AudioFileError(f"{path}: cannot write ({error.strerror})") from None
