"""`shopper sandbox serve` against real, independent SIP stacks: SIPp (Debian sip-tester) calls
the served phone system over SIP/RTP on loopback in real time, and a packet capture on `lo`
checks what the server really sent. The server's truth file says what the IVR heard and did.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sipserve_peers import SIPP_PCAPS, LoopbackCapture, Server, Sipp
from typer.testing import CliRunner

from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.g711 import ulaw_encode
from shopper.cli.main import app
from shopper.sandbox.loader import load_ivr
from shopper.sandbox.render import render_sound

pytestmark = pytest.mark.realtime  # wall-clock bound: CI runs these beside the others

IVRS = Path(__file__).resolve().parent / "data" / "sipserve"

needs_sipp = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) missing")


def _capture_allowed() -> bool:
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
    except (PermissionError, AttributeError):
        return False
    return True


needs_capture = pytest.mark.skipif(
    not _capture_allowed(), reason="capturing loopback packets needs root (AF_PACKET)"
)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    servers: list[Server] = []

    def start(ivr: str, *extra: str) -> Server:
        server = Server(IVRS / ivr, tmp_path / "truth", *extra)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def menu_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """tests/data/sipserve/menu.yaml served once for the tests that only call it."""
    server = Server(IVRS / "menu.yaml", tmp_path_factory.mktemp("menu") / "truth")
    yield server
    server.stop()


def _truth(server: Server) -> dict[str, Any]:
    files = server.truths()
    assert len(files) == 1, files
    result: dict[str, Any] = json.loads(files[0].read_text())
    return result


def _similarity(received: Samples, prompt: Samples) -> float:
    """Peak normalised cross-correlation (every lag) of the prompt's first second of sound
    with what was received: near 1 only when the received audio is that prompt."""
    start = int(np.argmax(np.abs(prompt) > 500))
    probe = prompt[start : start + TELEPHONY_RATE].astype(np.float64)
    signal = received.astype(np.float64)
    dots = np.correlate(signal, probe, mode="valid")
    energy = np.convolve(signal**2, np.ones(len(probe)), mode="valid")
    norms = np.sqrt(np.maximum(energy, 1e-9)) * float(np.linalg.norm(probe))
    return float(np.max(dots / norms))


@needs_sipp
@needs_capture
@pytest.mark.slow
def test_a_key_sent_as_rfc4733_events_routes_the_call_and_the_ivr_is_heard(
    menu_server: Server, tmp_path: Path
) -> None:
    server = menu_server.begin()
    sipp = Sipp(
        "uac_key.xml",
        server.port,
        tmp_path,
        {"PAUSE_MS": "1500", "DTMF_PCAP": str(SIPP_PCAPS / "dtmf_2833_2.pcap"),
         "BYE_TIMEOUT_MS": "15000"},
    )  # fmt: skip
    capture = LoopbackCapture(sipp.media_port)
    try:
        code = sipp.run()
    finally:
        capture.stop()
    assert code == 0, sipp.messages()[-3000:]
    server.wait_for_calls(1)
    truth = _truth(server)
    assert [node["node"] for node in truth["nodes"]] == ["main", "support"]
    assert [(key["digit"], key["action"]) for key in truth["keys"]] == [("2", "accepted")]
    assert truth["end"]["by"] == "ivr"

    # The RTP on the wire is the IVR's own audio, in G.711, as long as the call was up.
    received = capture.audio()
    call_s = truth["end"]["at_s"] - truth["answer"]["answered_s"]
    assert abs(len(received) / TELEPHONY_RATE - call_s) < 0.3
    definition = load_ivr(IVRS / "menu.yaml")
    sound = definition.nodes["main"].sound
    assert sound is not None
    assert _similarity(received, render_sound(sound, definition.voice)) > 0.8
    assert "keys 2" in "".join(server.stdout)


@needs_sipp
@pytest.mark.slow
def test_calls_at_the_same_time_each_get_a_phone_system_of_their_own(
    menu_server: Server, tmp_path: Path
) -> None:
    server = menu_server.begin()
    values = {"DTMF_PCAP": str(SIPP_PCAPS / "dtmf_2833_1.pcap"), "BYE_TIMEOUT_MS": "15000"}
    sipp = Sipp("uac_key.xml", server.port, tmp_path, values | {"PAUSE_MS": "1000"}, calls=3)
    assert sipp.run() == 0, sipp.messages()[-3000:]
    server.wait_for_calls(3)
    truths = [json.loads(path.read_text()) for path in server.truths()]
    assert len(truths) == 3
    for truth in truths:
        assert [node["node"] for node in truth["nodes"]] == ["main", "sales"]
        assert [key["digit"] for key in truth["keys"]] == ["1"]


def _mulaw_wav(path: Path, samples: Samples) -> None:
    """A μ-law WAV, which SIPp's rtp_stream sends as it is (payload type 0)."""
    codes = ulaw_encode(samples).tobytes()
    with path.open("wb") as out:
        fmt = (7).to_bytes(2, "little") + (1).to_bytes(2, "little")
        fmt += TELEPHONY_RATE.to_bytes(4, "little") + TELEPHONY_RATE.to_bytes(4, "little")
        fmt += (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
        body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt
        body += b"data" + len(codes).to_bytes(4, "little") + codes
        out.write(b"RIFF" + len(body).to_bytes(4, "little") + body)


@needs_sipp
@pytest.mark.slow
def test_a_key_sent_in_band_routes_the_call(menu_server: Server, tmp_path: Path) -> None:
    server = menu_server.begin()
    quiet = np.zeros(TELEPHONY_RATE, dtype=np.int16)
    _mulaw_wav(tmp_path / "keys.wav", np.concatenate([quiet, dtmf_sequence("1", 0.12), quiet]))
    sipp = Sipp(
        "uac_inband.xml",
        server.port,
        tmp_path,
        {"KEYS_WAV": str(tmp_path / "keys.wav"), "BYE_TIMEOUT_MS": "15000"},
    )
    assert sipp.run() == 0, sipp.messages()[-3000:]
    server.wait_for_calls(1)
    truth = _truth(server)
    assert [node["node"] for node in truth["nodes"]] == ["main", "sales"]
    assert [(key["digit"], key["action"]) for key in truth["keys"]] == [("1", "accepted")]


@needs_sipp
def test_a_busy_line_is_answered_486(serve: Any, tmp_path: Path) -> None:
    server = serve("busy.yaml")
    sipp = Sipp("uac_busy.xml", server.port, tmp_path)
    assert sipp.run() == 0, sipp.messages()[-3000:]
    server.wait_for_calls(1)
    assert _truth(server)["end"]["cause"] == "busy"
    assert "486 Busy Here" in sipp.messages()


@needs_sipp
def test_a_line_nobody_answers_rings_until_the_caller_cancels(serve: Any, tmp_path: Path) -> None:
    server = serve("ringing.yaml")
    sipp = Sipp("uac_cancel.xml", server.port, tmp_path, {"PAUSE_MS": "2000"})
    assert sipp.run() == 0, sipp.messages()[-3000:]
    server.wait_for_calls(1)
    truth = _truth(server)
    assert truth["answer"]["answered_s"] is None
    assert truth["end"]["by"] == "caller"
    assert truth["end"]["reason"] == "caller sent CANCEL"
    assert 1.8 <= truth["end"]["at_s"] <= 3.0
    assert "SIP/2.0 200 OK" not in sipp.messages().split("CANCEL sip:")[0]


@needs_sipp
@needs_capture
@pytest.mark.slow
def test_a_number_not_in_service_plays_its_intercept_as_early_media(
    serve: Any, tmp_path: Path
) -> None:
    server = serve("intercept.yaml")
    sipp = Sipp("uac_early.xml", server.port, tmp_path)
    capture = LoopbackCapture(sipp.media_port)
    try:
        code = sipp.run()
    finally:
        capture.stop()
    assert code == 0, sipp.messages()[-3000:]
    server.wait_for_calls(1)
    truth = _truth(server)
    assert truth["end"]["by"] == "ivr"
    messages = sipp.messages()
    assert "183 Session Progress" in messages and "application/sdp" in messages
    assert "200 OK" not in messages.split("404 Not Found")[0]
    # The SIT and the announcement went out before the 404: as long as the truth says.
    received = capture.audio()
    assert abs(len(received) / TELEPHONY_RATE - truth["end"]["at_s"]) < 0.3
    sit = received[: int(0.9 * TELEPHONY_RATE)].astype(np.float64)
    assert np.sqrt(np.mean(sit**2)) > 1000


@needs_sipp
def test_stopping_the_server_ends_live_calls_with_bye(serve: Any, tmp_path: Path) -> None:
    server = serve("menu.yaml")
    sipp = Sipp("uac_wait.xml", server.port, tmp_path, {"BYE_TIMEOUT_MS": "20000"})
    process = sipp.start()
    deadline = time.monotonic() + 10
    while "ACK sip:" not in sipp.messages() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert server.stop() == 0
    process.communicate(timeout=20)
    assert process.returncode == 0, sipp.messages()[-3000:]
    truth = _truth(server)
    assert truth["end"]["by"] == "network"
    assert truth["end"]["reason"] == "server stopped"


def test_a_bad_address_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["sandbox", "serve", str(IVRS / "busy.yaml"), "--sip", "127.0.0.1:port"]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "shopper: --sip '127.0.0.1:port': port 'port' is not a number (1-65535)"
    )


@pytest.mark.parametrize(
    ("kind", "what"), [(socket.SOCK_DGRAM, "port"), (socket.SOCK_STREAM, "TCP port")]
)
def test_a_port_in_use_is_one_line(kind: socket.SocketKind, what: str) -> None:
    """The server listens on UDP and TCP: either taken is said in one line."""
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app, ["sandbox", "serve", str(IVRS / "busy.yaml"), "--sip", f"127.0.0.1:{port}"]
        )
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"shopper: --sip 127.0.0.1:{port}: {what} {port} is already in use (another SIP "
        "server or shopper is listening there; stop it or pick another port)"
    )


def _can_unshare() -> bool:
    if any(shutil.which(tool) is None for tool in ("unshare", "ip", "baresip", "ffmpeg")):
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(
    not _can_unshare(),
    reason="needs baresip, ffmpeg, ip and a private network namespace (unshare -n, root)",
)
@pytest.mark.slow
def test_baresip_presses_a_key_and_hears_the_ivr_hang_up(tmp_path: Path) -> None:
    """baresip dials from a network namespace of its own (tests/baresip_caller.py says why),
    sends "2" with `sndcode` (RFC 4733) and reports the IVR's BYE as a remote close."""
    caller = Path(__file__).resolve().parent / "baresip_caller.py"
    run = subprocess.run(
        ["unshare", "-n", sys.executable, str(caller), str(IVRS / "menu.yaml"), "2", str(tmp_path)],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert "CALL_ESTABLISHED" in report["events"]
    assert report["closed"] == "Connection reset by peer"  # baresip's words for a remote BYE
    truths = sorted((tmp_path / "truth").glob("*.json"))
    assert len(truths) == 1
    truth = json.loads(truths[0].read_text())
    assert [node["node"] for node in truth["nodes"]] == ["main", "support"]
    assert [(key["digit"], key["action"]) for key in truth["keys"]] == [("2", "accepted")]
    assert truth["end"]["by"] == "ivr"


@needs_sipp
def test_a_line_that_rings_first_sends_180_then_200_when_it_picks_up(
    serve: Any, tmp_path: Path
) -> None:
    server = serve("delayed.yaml")
    sipp = Sipp("uac_wait.xml", server.port, tmp_path, {"BYE_TIMEOUT_MS": "10000"})
    assert sipp.run() == 0, sipp.messages()[-3000:]
    server.wait_for_calls(1)
    messages = sipp.messages()
    assert messages.index("180 Ringing") < messages.index("200 OK")
    truth = _truth(server)
    assert truth["answer"]["answered_s"] == 1.0
    assert [node["node"] for node in truth["nodes"]] == ["main"]
    assert truth["end"]["by"] == "ivr"


@needs_sipp
def test_seed_and_at_reach_each_call_as_shopper_run_gives_them(serve: Any, tmp_path: Path) -> None:
    server = serve("hours.yaml", "--at", "2024-05-05T10:00", "--seed", "7")  # a Sunday
    sipp = Sipp("uac_wait.xml", server.port, tmp_path, {"BYE_TIMEOUT_MS": "10000"})
    assert sipp.run() == 0, sipp.messages()[-3000:]
    server.wait_for_calls(1)
    truth = _truth(server)
    assert truth["seed"] == 7
    assert truth["now"].startswith("2024-05-05T10:00")
    assert [(node["node"], node["reason"]) for node in truth["nodes"]] == [
        ("closed", "closed hours")
    ]


@needs_sipp
def test_a_reinvite_is_answered_and_the_call_goes_on(menu_server: Server, tmp_path: Path) -> None:
    server = menu_server.begin()
    values = {"PAUSE_MS": "500", "DTMF_PCAP": str(SIPP_PCAPS / "dtmf_2833_1.pcap")}
    sipp = Sipp("uac_reinvite.xml", server.port, tmp_path, values | {"BYE_TIMEOUT_MS": "15000"})
    assert sipp.run() == 0, sipp.messages()[-3000:]  # the scenario waits for the re-INVITE's 200
    server.wait_for_calls(1)
    truth = _truth(server)
    assert [node["node"] for node in truth["nodes"]] == ["main", "sales"]
