"""baresip (Debian baresip-core) calling `shopper sandbox serve`, run inside a private network
namespace: `unshare -n python tests/baresip_caller.py IVR KEYS OUT_DIR`.

baresip 1.0 advertises the host's first non-loopback IPv4 address in its SDP, even when told
to listen on 127.0.0.1, so media would go to the machine's LAN address. In a namespace of its
own, with 198.18.0.1 (a benchmarking address, RFC 2544) added to `lo`, that address exists only
here and the whole call stays on this namespace's loopback (research: telephony-tech.md 3.4).

The script starts the server and baresip, dials over baresip's ctrl_tcp socket (netstrings of
JSON), sends KEYS with `sndcode` (RFC 4733) once the call is established, waits for the call to
close, stops the server with SIGTERM and prints one JSON line: baresip's call events and how
the call closed. The server writes the call's truth into OUT_DIR/truth.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVER_PORT = 5080
BARESIP_SIP = 5072
CONTROL = 4444


def setup_namespace() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", "198.18.0.1/32", "dev", "lo"], check=True)


def start_server(ivr: Path, out: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    server = subprocess.Popen(
        [sys.executable, "-m", "shopper", "sandbox", "serve", str(ivr),
         "--sip", f"127.0.0.1:{SERVER_PORT}", "--truth", str(out / "truth")],
        stdout=(out / "server.out").open("w"), stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert server.stderr is not None
    for line in server.stderr:
        if "listening on" in line:
            return server
    raise RuntimeError("the server did not start")


def start_baresip(out: Path) -> subprocess.Popen[bytes]:
    config = out / "baresip"
    config.mkdir(exist_ok=True)
    silence = config / "silence.wav"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono",
         "-t", "30", "-c:a", "pcm_s16le", str(silence)],
        check=True,
    )  # fmt: skip
    (config / "config").write_text(
        "poll_method epoll\n"
        f"sip_listen 127.0.0.1:{BARESIP_SIP}\n"
        "sip_trans_def udp\n"
        "audio_player aubridge,nil\n"
        f"audio_source aufile,{silence}\n"
        "audio_alert aubridge,nil\n"
        "audio_srate 8000\n"
        "audio_channels 1\n"
        "rtp_ports 21000-21100\n"
        "module_path /usr/lib/baresip/modules\n"
        "module g711.so\nmodule aufile.so\nmodule aubridge.so\n"
        "module_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\n"
        f"ctrl_tcp_listen 127.0.0.1:{CONTROL}\n"
    )
    (config / "accounts").write_text(
        f"<sip:tester@127.0.0.1:{BARESIP_SIP}>;regint=0;audio_codecs=PCMU,PCMA\n"
    )
    (config / "contacts").write_text("")
    log = (out / "baresip.log").open("wb")
    return subprocess.Popen(["baresip", "-f", str(config)], stdout=log, stderr=log)


class Control:
    """baresip's ctrl_tcp: netstring-framed JSON commands and events."""

    def __init__(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                self._socket = socket.create_connection(("127.0.0.1", CONTROL), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._buffer = b""
        self.events: list[dict[str, object]] = []

    def command(self, command: str, params: str = "") -> None:
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._socket.sendall(str(len(body)).encode() + b":" + body + b",")

    def wait_for(self, kind: str, timeout_s: float) -> dict[str, object]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in self._read():
                if message.get("event"):
                    self.events.append(message)
                    if message.get("type") == kind:
                        return message
        raise TimeoutError(f"no {kind} from baresip; events: {self.events}")

    def _read(self) -> list[dict[str, object]]:
        try:
            self._buffer += self._socket.recv(65536)
        except TimeoutError:
            return []
        messages = []
        while b":" in self._buffer:
            length, _, rest = self._buffer.partition(b":")
            size = int(length)
            if len(rest) < size + 1:
                break
            messages.append(json.loads(rest[:size]))
            self._buffer = rest[size + 1 :]
        return messages


def main() -> None:
    ivr, keys, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    setup_namespace()
    server = start_server(ivr, out)
    baresip = start_baresip(out)
    try:
        control = Control()
        control.command("dial", f"sip:ivr@127.0.0.1:{SERVER_PORT}")
        control.wait_for("CALL_ESTABLISHED", 10)
        time.sleep(1.0)
        control.command("sndcode", keys)
        closed = control.wait_for("CALL_CLOSED", 20)
        result = {
            "events": [event.get("type") for event in control.events],
            "closed": closed.get("param"),
        }
    finally:
        baresip.send_signal(signal.SIGTERM)
        baresip.wait(timeout=10)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
