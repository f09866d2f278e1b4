"""Real SIP peers for the tests of `shopper sandbox serve`: the server as a subprocess, SIPp
(Debian sip-tester) as the caller, and a packet capture on loopback that sees the RTP the
server sends, independently of both.

The capture reads every UDP datagram on `lo` with a raw AF_PACKET socket (root, as in CI),
so what it reports is what went over the wire, not what either end claims.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shopper.audio.frame import Samples
from shopper.audio.g711 import alaw_decode, ulaw_decode

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = Path(__file__).resolve().parent / "data" / "sipserve"
SIPP_PCAPS = Path("/usr/share/sip-tester")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A loopback port free for UDP and TCP now, with the next one free for UDP too (RTP and
    RTCP; a served sandbox listens on both transports)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port % 2 == 0 and port < 65000:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other,
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as stream,
            ):
                try:
                    other.bind(("127.0.0.1", port + 1))
                    stream.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair on loopback")


class Server:
    """`shopper sandbox serve IVR --sip 127.0.0.1:PORT --truth DIR` as a child process."""

    def __init__(self, ivr: Path, truth_dir: Path, *extra: str) -> None:
        self.port = free_port()
        self.truth_dir = truth_dir
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._mark = 0
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shopper", "sandbox", "serve", str(ivr),
             "--sip", f"127.0.0.1:{self.port}", "--truth", str(truth_dir), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )  # fmt: skip
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.stdout)),
            threading.Thread(target=self._read, args=(self.process.stderr, self.stderr)),
        ]
        for reader in self._readers:
            reader.start()
        deadline = time.monotonic() + 60
        while not any("listening on" in line for line in self.stderr):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start: {''.join(self.stderr)}")
            time.sleep(0.05)

    @staticmethod
    def _read(stream: object, lines: list[str]) -> None:
        assert hasattr(stream, "readline")
        for line in iter(stream.readline, ""):
            lines.append(line)

    def begin(self) -> Server:
        """Count calls (and truths) from here on: a server shared by several tests."""
        self._mark = self._calls_logged()
        return self

    def _calls_logged(self) -> int:
        return len([line for line in self.stdout if line.startswith("call ")])

    def truths(self) -> list[Path]:
        """The truth files of the calls since `begin`, in call order."""
        return sorted(self.truth_dir.glob("*.json"))[self._mark :]

    def wait_for_calls(self, count: int, timeout_s: float = 10.0) -> None:
        """Until `count` calls since `begin` have ended (and their truths are written)."""
        deadline = time.monotonic() + timeout_s
        while self._calls_logged() < self._mark + count:
            assert time.monotonic() < deadline, f"server logged {self.stdout}"
            time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM, as a service manager would; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return code


@dataclass
class Sipp:
    """`calls` SIPp calls placed at once (default one) from a scenario in tests/data/sipserve,
    its @NAMES@ filled in from `values`."""

    scenario: str
    server_port: int
    folder: Path
    values: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    media_port: int = field(default_factory=free_port)
    calls: int = 1

    def start(self) -> subprocess.Popen[str]:
        text = (SCENARIOS / self.scenario).read_text()
        for name, value in self.values.items():
            text = text.replace(f"@{name}@", value)
        missing = re.findall(r"@[A-Z_]+@", text.split("-->", 1)[1])
        assert not missing, f"{self.scenario}: no value for {missing}"
        path = self.folder / self.scenario
        path.write_text(text)
        return subprocess.Popen(
            ["sipp", "-sf", str(path), "-s", "ivr", f"127.0.0.1:{self.server_port}",
             "-i", "127.0.0.1", "-p", str(self.port), "-mi", "127.0.0.1",
             "-mp", str(self.media_port), "-m", str(self.calls), "-l", str(self.calls),
             "-r", str(self.calls), "-nostdin", "-timeout", "40s",
             "-timeout_error", "-trace_err", "-error_file", str(self.folder / "sipp-errors.log"),
             "-trace_msg", "-message_file", str(self.folder / "sipp-messages.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=self.folder,
        )  # fmt: skip

    def run(self) -> int:
        """Run the call to its end; SIPp's exit code (0: the scenario went as written)."""
        process = self.start()
        _, _ = process.communicate(timeout=60)
        return process.returncode

    def messages(self) -> str:
        log = self.folder / "sipp-messages.log"
        return log.read_text(errors="replace") if log.exists() else ""


class LoopbackCapture:
    """RTP datagrams sent on loopback to one UDP port, decoded to audio by payload type."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.packets: list[tuple[int, int, bytes]] = []
        """(payload type, RTP timestamp, payload) in arrival order."""
        self._socket = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self._socket.bind(("lo", 0))
        self._socket.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture)
        self._thread.start()

    def _capture(self) -> None:
        while not self._stop.is_set():
            try:
                frame, address = self._socket.recvfrom(65535)
            except TimeoutError:
                continue
            if address[2] == socket.PACKET_OUTGOING:
                continue
            self._take(frame[14:])

    def _take(self, ip: bytes) -> None:
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_UDP:
            return
        udp = ip[(ip[0] & 0x0F) * 4 :]
        _, destination = struct.unpack("!HH", udp[:4])
        rtp = udp[8:]
        if destination != self.port or len(rtp) < 12 or rtp[0] >> 6 != 2:
            return
        header = 12 + 4 * (rtp[0] & 0x0F)
        timestamp = struct.unpack("!I", rtp[4:8])[0]
        self.packets.append((rtp[1] & 0x7F, timestamp, rtp[header:]))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def audio(self) -> Samples:
        """The G.711 audio received (PCMU 0, PCMA 8), in arrival order."""
        parts = [
            ulaw_decode(payload) if kind == 0 else alaw_decode(payload)
            for kind, _, payload in self.packets
            if kind in (0, 8)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
