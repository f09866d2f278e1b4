"""A PCM WAV file written while the audio arrives, and readable at every moment.

A call's recording is not kept in memory: an hour on hold would hold 115 MB of samples (two
channels of 16-bit audio at 8 kHz), more as Python objects. Its frames are appended to the
file as they are heard, and the header's two sizes (RIFF and data) are rewritten with every
append, so the file on disk is a complete WAV of the audio appended so far whenever the
process stops. Appends are batched (`FLUSH_SAMPLES`, half a second of audio): each one costs a
few system calls, and a batch shares them.

What a reader sees after the process is killed (SIGKILL, a crash, a power cut after the kernel
wrote the pages): a valid PCM WAV whose header counts every sample written, which is all the
audio up to at most `FLUSH_SAMPLES` before the kill. Python's `wave`, libsndfile (soundfile)
and ffmpeg read it as they read any WAV (tests/test_wav_stream.py). The process never wrote a
header that counts more than the data it had written, so no reader sees garbage at the end.
Only `sync()` forces the data to the disk itself; the kernel keeps it through a process crash.

The layout is the one Python's `wave` writes (a 44-byte header: RIFF, fmt, data), so a file
streamed here is byte for byte the file `wave` would write from the same samples at once.
"""

from __future__ import annotations

import os
import struct
import tempfile
import weakref
from pathlib import Path

import numpy as np

from shopper.audio.files import AudioFileError
from shopper.audio.frame import TELEPHONY_RATE, Samples

HEADER_BYTES = 44
SAMPLE_BYTES = 2
FLUSH_SAMPLES = TELEPHONY_RATE // 2
"""Samples (per channel) gathered before they are written: at most this much audio is missing
from the file when the process is killed; fewer writes cost the event loop less."""
MAX_DATA_BYTES = 0xFFFFFFFF - (HEADER_BYTES - 8)
"""A WAV's RIFF size is 32 bits: about 37 hours of a stereo call at 8 kHz."""
COPY_BYTES = 1 << 20
"""Read and written at a time when a recording is copied elsewhere."""


class GrowingWav:
    """A 16-bit PCM WAV with `channels` channels, appended to and read back by range.

    With `path` None the file is anonymous (created in the temporary folder and unlinked at
    once): nothing is left behind, whatever happens to the process. The file descriptor is
    closed by `close()` or when the object is garbage collected."""

    def __init__(self, path: Path | None, channels: int, rate: int = TELEPHONY_RATE) -> None:
        self.path = path
        self.channels = channels
        self.rate = rate
        self._written = 0
        """Samples per channel on disk (the header counts them)."""
        self._pending: list[Samples] = []
        self._pending_samples = 0
        self._broken: AudioFileError | None = None
        """The write that failed (a full disk): later audio is dropped, so the call can still
        hang up, and the file is refused wherever it is relied on."""
        fd = _open(path)
        self._fd = fd
        self._closer = weakref.finalize(self, os.close, fd)
        self._write(self._header(), 0)

    @classmethod
    def of(
        cls, samples: Samples, path: Path | None = None, rate: int = TELEPHONY_RATE
    ) -> GrowingWav:
        """A file holding `samples` (shape (n, channels)), e.g. audio made in a test."""
        wav = cls(path, samples.shape[1], rate)
        wav.append(samples)
        wav.flush()
        return wav

    @property
    def samples(self) -> int:
        """Samples per channel appended so far (written or not yet)."""
        return self._written + self._pending_samples

    def append(self, samples: Samples) -> None:
        """Add samples of shape (n, channels); they reach the file within FLUSH_SAMPLES."""
        if samples.ndim != 2 or samples.shape[1] != self.channels:
            raise ValueError(
                f"samples of shape {samples.shape}; the file has {self.channels} channels"
            )
        if self._broken is not None:
            return
        self._pending.append(samples.astype("<i2"))  # a copy: the caller may reuse its array
        self._pending_samples += len(samples)
        if self._pending_samples >= FLUSH_SAMPLES:
            self.flush()

    def flush(self) -> None:
        """Write what was appended and count it in the header."""
        if self._broken is not None:
            raise self._broken
        if not self._pending:
            return
        data = b"".join(chunk.tobytes() for chunk in self._pending)
        self._pending, pending_samples, self._pending_samples = [], self._pending_samples, 0
        try:
            if self._data_bytes(self._written) + len(data) > MAX_DATA_BYTES:
                raise AudioFileError(
                    f"{self._name}: a WAV file cannot hold more than {MAX_DATA_BYTES} bytes "
                    "of audio (shorten the call: settings: max_duration)"
                )
            self._write(data, HEADER_BYTES + self._data_bytes(self._written))
            self._written += pending_samples
            self._write(self._header(), 0)
        except AudioFileError as error:
            self._broken = error
            raise

    def read(self, start: int, end: int) -> Samples:
        """Samples `start` to `end` (clipped to what was appended), shape (n, channels): from
        the file, and from memory for what is not written yet."""
        start, end = max(0, start), min(end, self.samples)
        parts: list[Samples] = []
        if start < min(end, self._written):
            wanted = self._data_bytes(min(end, self._written) - start)
            data = _read_exactly(self._open_fd, wanted, HEADER_BYTES + self._data_bytes(start))
            parts.append(np.frombuffer(data, dtype="<i2").reshape(-1, self.channels))
        if end > self._written and self._pending:
            pending = np.concatenate(self._pending)
            parts.append(pending[max(start, self._written) - self._written : end - self._written])
        if not parts:
            return np.zeros((0, self.channels), dtype=np.int16)
        return np.concatenate(parts).astype(np.int16)

    def sync(self) -> None:
        """Write what was appended and force the file to the disk (before it is relied on)."""
        self.flush()
        try:
            os.fsync(self._open_fd)
        except OSError as error:
            raise AudioFileError(f"{self._name}: cannot write ({error.strerror})") from None

    def copy_to(self, path: Path) -> None:
        """Write the whole file, as it is now, to `path` (replaced), and force it to disk."""
        self.flush()
        total = HEADER_BYTES + self._data_bytes(self._written)
        try:
            with open(path, "wb") as copy:
                for offset in range(0, total, COPY_BYTES):
                    part = min(COPY_BYTES, total - offset)
                    copy.write(_read_exactly(self._open_fd, part, offset))
                copy.flush()
                os.fsync(copy.fileno())
        except OSError as error:
            raise AudioFileError(f"{path}: cannot write ({error.strerror})") from None

    def is_at(self, path: Path) -> bool:
        """Whether `path` names this very file (not one put in its place since)."""
        try:
            here, there = os.fstat(self._open_fd), os.stat(path)
        except OSError:
            return False
        return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)

    def close(self) -> None:
        """Write what was appended and close the file; reading it again is an error."""
        if self._closer.alive:
            self.flush()
            self._closer()

    @property
    def _open_fd(self) -> int:
        """The file descriptor, refused once closed (its number may name another file then)."""
        if not self._closer.alive:
            raise ValueError(f"{self._name} is closed")
        return self._fd

    @property
    def _name(self) -> str:
        return str(self.path) if self.path is not None else "the call's recording"

    def _data_bytes(self, samples: int) -> int:
        return samples * self.channels * SAMPLE_BYTES

    def _header(self) -> bytes:
        data = self._data_bytes(self._written)
        block = self.channels * SAMPLE_BYTES
        return struct.pack(
            "<4sI4s4sIHHIIHH4sI",
            b"RIFF",
            HEADER_BYTES - 8 + data,
            b"WAVE",
            b"fmt ",
            16,
            1,  # PCM
            self.channels,
            self.rate,
            self.rate * block,
            block,
            8 * SAMPLE_BYTES,
            b"data",
            data,
        )

    def _write(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        try:
            while view:
                done = os.pwrite(self._open_fd, view, offset)
                view, offset = view[done:], offset + done
        except OSError as error:
            raise AudioFileError(f"{self._name}: cannot write ({error.strerror})") from None


def _open(path: Path | None) -> int:
    """A new file at `path` (replacing one there), or an anonymous one when None."""
    try:
        if path is not None:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        fd, name = tempfile.mkstemp(prefix="shopper-recording-", suffix=".wav")
        os.unlink(name)
        return fd
    except OSError as error:
        where = path if path is not None else tempfile.gettempdir()
        raise AudioFileError(f"{where}: cannot write ({error.strerror})") from None


def _read_exactly(fd: int, size: int, offset: int) -> bytes:
    parts: list[bytes] = []
    while size > 0:
        part = os.pread(fd, size, offset)
        if not part:
            raise AudioFileError(f"recording ended {size} bytes early at offset {offset}")
        parts.append(part)
        size, offset = size - len(part), offset + len(part)
    return b"".join(parts)
