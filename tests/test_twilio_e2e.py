"""shopper's Twilio carrier against the Twilio emulator (`shopper sandbox twilio` and
`shopper sandbox serve --twilio`), both as a user runs them: the emulator a subprocess,
the carrier pointed at it with `api_url` and a plain-http public URL. What shopper reports is
compared with the emulator's truth files and its REST answers, never with the IVR files."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from twilio.rest import Client

from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions
from shopper.carriers.twilio import runtime
from shopper.carriers.twilio.call import TwilioCall
from shopper.carriers.twilio.runtime import close_twilio

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "e2e" + secrets.token_hex(16)
MENU, BUSY, NOBODY, HELLO, HOLD = (f"+1555010010{n}" for n in range(1, 6))
UNSERVED = "+15550100199"
LINES = {
    MENU: DATA / "twilioemu" / "menu.yaml",
    BUSY: DATA / "sipserve" / "busy.yaml",
    NOBODY: DATA / "sipserve" / "ringing.yaml",
    HELLO: DATA / "sipserve" / "delayed.yaml",
    HOLD: DATA / "twilioe2e" / "hold.yaml",
}
OPTIONS = DialOptions(ring_timeout_s=4, max_duration_s=60)


@dataclass
class Emulator:
    process: subprocess.Popen[str]
    base_url: str
    truth_dir: Path
    said: list[str]

    def truth(self, call_sid: str) -> dict[str, Any]:
        (path,) = self.truth_dir.glob(f"*-{call_sid}.json")
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded

    def stop(self) -> str:
        """SIGTERM, and everything it printed."""
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=30)
        return "".join(self.said) + out + err


def start_emulator(arguments: list[str], truth_dir: Path) -> Emulator:
    command = [sys.executable, "-m", "shopper", "sandbox", *arguments]
    command += ["--truth", str(truth_dir)]
    environment = os.environ | {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN}
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    said: list[str] = []
    while not (said and "Twilio emulator at" in said[-1]):
        line = process.stderr.readline()
        assert line, "".join(said)
        said.append(line)
    found = re.search(r"http://\S+", said[-1])
    assert found is not None
    return Emulator(process, found.group(0), truth_dir, said)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def point_shopper_at(emulator: Emulator, state: Path) -> dict[str, str]:
    """The environment that sends shopper's Twilio calls to `emulator`."""
    port = free_port()
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SHOPPER_TWILIO_FROM": "+15550109999",
        "SHOPPER_TWILIO_API_URL": emulator.base_url,
        "SHOPPER_TWILIO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SHOPPER_TWILIO_LISTEN": f"127.0.0.1:{port}",
        "SHOPPER_STATE_DIR": str(state),
    }


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One emulator serving a line of each kind."""
    arguments = ["twilio", "--listen", "127.0.0.1:0"]
    for number, path in LINES.items():
        arguments += ["--number", f"{number}={path}"]
    emulator = start_emulator(arguments, tmp_path_factory.mktemp("truth"))
    yield emulator
    printed = emulator.stop()
    assert TOKEN not in printed


@pytest.fixture
def shopper_env(
    lines: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[dict[str, str]]:
    environment = point_shopper_at(lines, tmp_path / "state")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(runtime, "_SWEPT", set())
    yield environment


def rest_client(emulator: Emulator) -> Client:
    client = Client(ACCOUNT, TOKEN)
    client.api.base_url = emulator.base_url
    return client


SCRIPTS = {
    # name: (target, steps, the key its IVR must have taken or None). Flite's voice is often
    # misheard ("four sails, dress one"): fuzzy matchers.
    "sales": (MENU, "  - press: '1'\n  - expect_hangup: true\n", "1"),
    "support": (MENU, "  - press: '2'\n  - expect: {fuzzy: please hold, min: 0.5}\n", "2"),
    "hello": (HELLO, "  - expect: {fuzzy: hello, min: 0.5}\n  - expect_hangup: true\n", None),
    "busy": (BUSY, "  - expect: anything\n", None),
    "unserved": (UNSERVED, "  - expect: anything\n", None),
}
OUTCOMES = {
    "sales": ("passed", None),
    "support": ("passed", None),
    "hello": ("passed", None),
    "busy": ("failed", "busy"),
    "unserved": ("failed", "unreachable"),
}


@pytest.mark.slow
def test_concurrent_calls_each_hear_and_key_their_own_line_and_failures_get_their_kinds(
    lines: Emulator, tmp_path: Path
) -> None:
    """`shopper run --parallel` places five calls at once through the emulator: each passes or
    fails as its line behaves, each call's keys reached its own IVR (the emulator's truth for
    that call SID), and no output file or log line holds the auth token."""
    paths = []
    for name, (target, steps, _) in SCRIPTS.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            f'name: {name}\ncarrier: twilio\ntarget: "{target}"\n'
            "settings: {dead_air: 30s}\nsteps:\n"
            # the menu's prompt first, so the key is pressed where the IVR takes it
            + ("  - expect: {fuzzy: press two, min: 0.5}\n" if target == MENU else "")
            + steps,
            encoding="utf-8",
        )
        paths.append(str(path))
    out = tmp_path / "out"
    environment = os.environ | point_shopper_at(lines, tmp_path / "state")
    command = [sys.executable, "-m", "shopper", "run", *paths, "--parallel", "5"]
    command += ["--out", str(out), "--json"]
    run = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=240)
    assert run.returncode == 1, run.stderr  # three lines fail, as they should
    lines_out = [json.loads(line) for line in run.stdout.splitlines()]
    results = {
        line["script"]: json.loads((Path(line["evidence"]) / "result.json").read_text())
        for line in lines_out
    }
    assert set(results) == set(SCRIPTS), run.stderr
    for name, result in results.items():
        failure = result["failure"]
        assert (result["outcome"], failure and failure["kind"]) == OUTCOMES[name], failure
        key = SCRIPTS[name][2]
        if key is not None:
            truth = lines.truth(result["carrier_call"]["call_sid"])
            assert [k["digit"] for k in truth["keys"]] == [key]
    assert results["hello"]["ended_by"] == "remote"
    statuses = {name: r["carrier_call"]["status"] for name, r in results.items()}
    assert statuses["busy"] == "busy"
    assert statuses["unserved"] == "failed"
    assert TOKEN not in run.stdout + run.stderr
    for path in out.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


async def test_a_line_nobody_answers_ends_no_answer_at_the_ring_timeout(
    lines: Emulator, shopper_env: dict[str, str]
) -> None:
    """The ring timeout is not a script setting (60 s): the Python API sets a short one."""
    try:
        placed = await dial(NOBODY, "twilio", DialOptions(ring_timeout_s=3, max_duration_s=30))
        assert isinstance(placed.call, TwilioCall), placed.failed
        async for _ in placed.call.frames():
            pass
        assert (placed.call.ended_by, placed.call.end_cause) == ("remote", "no-answer")
        sid = placed.call.carrier_report.call_sid
        assert rest_client(lines).calls(sid).fetch().status == "no-answer"
    finally:
        await close_twilio()
