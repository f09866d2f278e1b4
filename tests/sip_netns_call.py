"""Run inside a private network namespace (`unshare -n`): baresip auto-answers on
127.0.0.1:5070 playing a prompt, shopper's SIP carrier calls it and presses keys, and what
baresip reports (its ctrl_tcp events and log) is printed as one JSON line.

baresip 1.0 advertises the host's first non-loopback IPv4 address in its SDP, so the
namespace gets one (198.18.0.1, a benchmarking address) on its own `lo`: nothing leaves it.
Usage: unshare -n python tests/sip_netns_call.py WORKDIR PROMPT_WAV KEYS
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions
from shopper.carriers.signals import FarEndDigit

BARESIP_SIP = "127.0.0.1:5070"
CTRL = ("127.0.0.1", 4444)
FAR_KEY = "7"


def configure(workdir: Path, prompt: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config").write_text(
        "\n".join(
            [
                "poll_method epoll",
                f"sip_listen {BARESIP_SIP}",
                "sip_trans_def udp",
                "audio_player aubridge,nil",
                f"audio_source aufile,{prompt}",
                "audio_alert aubridge,nil",
                "audio_srate 8000",
                "audio_channels 1",
                "rtp_ports 20000-20100",
                "module_path /usr/lib/baresip/modules",
                "module g711.so",
                "module aufile.so",
                "module aubridge.so",
                "module_app account.so",
                "module_app menu.so",
                "module_app ctrl_tcp.so",
                f"ctrl_tcp_listen {CTRL[0]}:{CTRL[1]}",
                "",
            ]
        )
    )
    (workdir / "accounts").write_text(
        f"<sip:ivr@{BARESIP_SIP}>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA\n"
    )
    (workdir / "contacts").write_text("")


async def read_events(reader: asyncio.StreamReader, events: list[dict[str, object]]) -> None:
    """ctrl_tcp speaks netstrings: <length>:<json>,"""
    while True:
        length = await reader.readuntil(b":")
        body = await reader.readexactly(int(length[:-1]))
        await reader.readexactly(1)
        events.append(json.loads(body))


async def call(keys: str) -> dict[str, object]:
    for _ in range(50):
        try:
            reader, writer = await asyncio.open_connection(*CTRL)
            break
        except OSError:
            await asyncio.sleep(0.1)
    else:
        raise RuntimeError("baresip's ctrl_tcp did not come up")
    events: list[dict[str, object]] = []
    listener = asyncio.create_task(read_events(reader, events))
    placed = await dial(f"sip:ivr@{BARESIP_SIP}", "sip", DialOptions(ring_timeout_s=10))
    signals: list[str] = []
    far_keys: list[str] = []
    loud = 0
    pressed_at = None
    asked = False
    async for frame in placed.call.frames():
        signals += [type(s).__name__ for s in frame.signals]
        far_keys += [s.digit for s in frame.signals if isinstance(s, FarEndDigit)]
        loud += int(np.abs(frame.far.samples).max() > 500)
        if "Answered" in signals and pressed_at is None and frame.far.start > 8000:
            sent = await placed.call.send_dtmf(keys, 0.1, 0.1)
            pressed_at = (sent.start, sent.end)
        if pressed_at is not None and not asked and frame.far.start > pressed_at[1] + 4000:
            asked = True  # baresip presses a key of its own (RFC 4733)
            command = json.dumps({"command": "sndcode", "params": FAR_KEY, "token": "k"})
            writer.write(f"{len(command)}:{command},".encode())
        if frame.far.start > 6 * 8000:
            break
    await placed.call.hangup()
    await asyncio.sleep(0.5)
    listener.cancel()
    writer.close()
    return {
        "signals": signals,
        "loud_frames": loud,
        "sent": pressed_at,
        "far_keys": far_keys,
        "ended_by": placed.call.ended_by,
        "end_cause": placed.call.end_cause,
        "events": events,
    }


def main() -> int:
    workdir, prompt, keys = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", "198.18.0.1/32", "dev", "lo"], check=True)
    configure(workdir, prompt)
    log = (workdir / "baresip.log").open("w")
    baresip = subprocess.Popen(
        ["baresip", "-f", str(workdir), "-v"], stdout=log, stderr=subprocess.STDOUT
    )
    os.environ.setdefault("SHOPPER_CONFIG", str(workdir / "no-config.toml"))
    try:
        summary = asyncio.run(call(keys))
    finally:
        baresip.terminate()
        baresip.wait(5)
        log.close()
    summary["baresip_log"] = (workdir / "baresip.log").read_text(errors="replace")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
