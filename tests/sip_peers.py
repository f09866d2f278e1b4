"""Real SIP peers for the SIP carrier's tests: SIPp (Debian sip-tester) scenarios on a free
loopback port, and prompts from Debian's Asterisk sound packages in the formats they read
(μ-law WAV for SIPp's rtp_stream, 16-bit WAV for baresip's aufile), written with shopper's
own G.711 encoder."""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import time
import wave
from pathlib import Path

import numpy as np

from shopper.audio.files import read_audio
from shopper.audio.frame import TELEPHONY_RATE
from shopper.audio.g711 import ulaw_encode
from shopper.carriers.base import Call
from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions, SipOptions

SCENARIOS = Path(__file__).parent / "data" / "sip"
PROMPTS = Path("/usr/share/asterisk/sounds/en")
WAVE_FORMAT_MULAW = 7
REGISTERED_CALL_REQUESTS = (
    ["REGISTER"] * 2 + ["INVITE", "ACK"] + ["REGISTER"] * 2 + ["BYE"] + ["REGISTER"] * 2
)
"""What uas_registrar.xml must receive from `registered_call_for_3_s`, in order: each REGISTER
is challenged and sent again with its digest; the binding before the INVITE, its refresh as
the 2 s granted run out, its removal after the BYE."""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_ulaw_wav(prompt: Path, out: Path) -> Path:
    """The prompt as a G.711 μ-law WAV (format 7), what SIPp's rtp_stream plays as PCMU."""
    data = bytes(ulaw_encode(read_audio(prompt)))
    fmt = struct.pack("<HHIIHH", WAVE_FORMAT_MULAW, 1, TELEPHONY_RATE, TELEPHONY_RATE, 1, 8)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", len(data)) + data
    out.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return out


def write_pcm_wav(prompt: Path, out: Path, pad_s: float) -> Path:
    """The prompt as 16-bit WAV followed by `pad_s` of silence (baresip's aufile hangs up
    when its file ends)."""
    samples = np.concatenate(
        [read_audio(prompt), np.zeros(round(pad_s * TELEPHONY_RATE), dtype=np.int16)]
    )
    with wave.open(str(out), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(TELEPHONY_RATE)
        file.writeframes(samples.tobytes())
    return out


class Sipp:
    """One SIPp UAS running a scenario for `calls` SIP calls (Call-IDs; one unless a
    registration is its own) on 127.0.0.1:port, over UDP or (`tcp=True`) over TCP, all
    calls on the one connection shopper opens (SIPp's `-t t1`)."""

    def __init__(
        self, scenario: str, workdir: Path, calls: int = 1, tcp: bool = False, **values: str
    ) -> None:
        text = (SCENARIOS / scenario).read_text()
        for name, value in values.items():  # SIPp does not expand -key values in attributes
            text = text.replace(f"[{name}]", value)
        self.scenario = workdir / scenario
        self.scenario.write_text(text)
        self.tcp = tcp
        self.port = free_tcp_port() if tcp else free_udp_port()
        self.errors = workdir / f"{scenario}.errors.log"
        self.messages = workdir / f"{scenario}.messages.log"
        self._process = subprocess.Popen(
            [
                "sipp", "-sf", str(self.scenario), "-i", "127.0.0.1", "-p", str(self.port),
                "-mi", "127.0.0.1", "-m", str(calls), "-nostdin", "-t", "t1" if tcp else "u1",
                "-timeout", "30s", "-timeout_error",
                "-trace_err", "-error_file", str(self.errors),
                "-trace_msg", "-message_file", str(self.messages),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._wait_listening()

    @property
    def uri(self) -> str:
        return f"sip:ivr@127.0.0.1:{self.port}"

    def _wait_listening(self) -> None:
        """Until SIPp's socket is bound, and listening over TCP (the INVITE must not go
        out before)."""
        needle = f":{self.port:04X} 00000000:0000 0A" if self.tcp else f":{self.port:04X} "
        table = Path("/proc/net/tcp" if self.tcp else "/proc/net/udp")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if needle in table.read_text():
                return
            time.sleep(0.05)
        raise RuntimeError(f"SIPp did not bind 127.0.0.1:{self.port}")

    def finish(self) -> int:
        """SIPp's exit status: 0 when its scenario ran to the end (every message it expected,
        the ACKs included, arrived)."""
        try:
            return self._process.wait(20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()

    def stop(self) -> None:
        """End SIPp before its scenario does (one that waits for what will not come)."""
        self._process.terminate()
        self._process.wait(10)

    def requests_received(self) -> list[str]:
        """The methods of the requests SIPp received, in order, from its message log."""
        return re.findall(r"received.*\n\n(\w+) sip:", self.messages.read_text())

    def problems(self) -> str:
        """SIPp's error log and the tail of its message log, for an assertion's message."""
        errors = self.errors.read_text() if self.errors.exists() else ""
        messages = self.messages.read_text() if self.messages.exists() else ""
        return f"{errors}\n{messages[-3000:]}"


async def registered_call_for_3_s(uri: str, trace: Path) -> Call:
    """Dial `uri` with a SIP trace (the environment says to register), hear 3 s of the far
    end and hang up; the ended call."""
    placed = await dial(uri, "sip", DialOptions(sip=SipOptions(trace=trace)))
    async for frame in placed.call.frames():
        if frame.far.start >= 3 * TELEPHONY_RATE:
            await placed.call.hangup()
    return placed.call
