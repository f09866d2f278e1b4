"""shopper's Twilio carrier against the Twilio emulator (`shopper sandbox twilio` and
`shopper sandbox serve --twilio`), both as a user runs them: the emulator a subprocess,
the carrier pointed at it with `api_url` and a plain-http public URL. What shopper reports is
compared with the emulator's truth files and its REST answers, never with the IVR files."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from twilio.rest import Client
from typer.testing import CliRunner

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.resample import resample
from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions
from shopper.carriers.signals import Answered
from shopper.carriers.twilio import runtime
from shopper.carriers.twilio.call import TwilioCall
from shopper.carriers.twilio.ledger import LEDGER_FILE, CallLedger
from shopper.carriers.twilio.runtime import close_twilio
from shopper.cli.main import app
from shopper.results.writer import write_call
from shopper.sandbox.loader import load_ivr
from shopper.sandbox.render import SoundBank
from shopper.sandbox.twilio.playout import Playout
from shopper.sandbox.twilio.server import EmulatorSettings, ServedIvr, TwilioEmulator
from shopper.sandbox.twilio.signature import Credentials
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

pytestmark = pytest.mark.realtime  # wall-clock bound: CI runs these beside the others

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
RATE = 0.025
"""The emulator's price per started minute here: not its default, so the option is seen."""
MULTIMON_RATE = 22050
"""multimon-ng reads raw 16-bit audio at this rate only."""


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


def point_shopper_at(base_url: str, state: Path) -> dict[str, str]:
    """The environment that sends shopper's Twilio calls to the emulator at `base_url`."""
    port = free_port()
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SHOPPER_TWILIO_FROM": "+15550109999",
        "SHOPPER_TWILIO_API_URL": base_url,
        "SHOPPER_TWILIO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SHOPPER_TWILIO_LISTEN": f"127.0.0.1:{port}",
        "SHOPPER_STATE_DIR": str(state),
    }


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One emulator serving a line of each kind."""
    arguments = ["twilio", "--listen", "127.0.0.1:0", "--price-per-minute", str(RATE)]
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
    environment = point_shopper_at(lines.base_url, tmp_path / "state")
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
    environment = os.environ | point_shopper_at(lines.base_url, tmp_path / "state")
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
    for name in ("sales", "hello"):  # answered: billed per started minute, as Twilio does
        report = results[name]["carrier_call"]
        minutes = max(1, math.ceil(report["duration_s"] / 60))
        assert (report["price"], report["price_unit"]) == (pytest.approx(RATE * minutes), "USD")
    assert results["busy"]["carrier_call"]["price"] is None  # never answered: not billed
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


@pytest.mark.slow
async def test_acme_billing_through_twilio_reaches_a_human_timed_as_the_truth_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The Acme billing script, its target turned into a number that `shopper sandbox serve
    --twilio` answers with the Acme IVR: time to human and hold within 1 s of the emulator's
    truth (~75 s in real time), and no secret in the evidence or the log."""
    caplog.set_level(logging.DEBUG)
    acme = ROOT / "scripts" / "acme"
    script = load_script(acme / "billing-human.yaml")
    assert script.sandbox_at is not None  # the bank is open then: the emulator's clock too
    at = script.sandbox_at.isoformat()
    arguments = ["serve", str(acme / "ivr.yaml"), "--twilio", "127.0.0.1:0", "--at", at]
    emulator = start_emulator(arguments, tmp_path / "truth")
    try:
        for name, value in point_shopper_at(emulator.base_url, tmp_path / "state").items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(runtime, "_SWEPT", set())
        over_twilio = replace(script, carrier="twilio", target="+15550100100", sandbox_at=None)
        record = await run_script(over_twilio, MoonshineEngine())
        await close_twilio()
    finally:
        printed = emulator.stop()
    result = record.result
    assert result["outcome"] == "passed", result["failure"]
    truth = emulator.truth(result["carrier_call"]["call_sid"])
    answered = truth["answer"]["answered_s"]
    assert result["metrics"]["answer_s"] == pytest.approx(answered, abs=0.5)
    expected_human = truth["agent_first_spoke_s"] - answered
    assert result["metrics"]["time_to_human_s"] == pytest.approx(expected_human, abs=1.0)
    true_hold = sum(hold["end_s"] - hold["start_s"] for hold in truth["holds"])
    metrics = result["metrics"]
    print(  # the figures behind the assertions, for `pytest -s`
        f"Acme over Twilio: answer {metrics['answer_s']} s (truth {answered}), time to human "
        f"{metrics['time_to_human_s']} s (truth {expected_human:.2f}), hold "
        f"{metrics['hold_s']} s (truth {true_hold:.2f})"
    )
    assert result["metrics"]["hold_s"] == pytest.approx(true_hold, abs=1.0)
    write_call(record, tmp_path / "call")
    for path in (tmp_path / "call").iterdir():
        assert TOKEN.encode() not in path.read_bytes(), path.name
    for line in caplog.records:
        assert TOKEN not in line.getMessage()
    assert TOKEN not in printed


@pytest.mark.slow
async def test_a_call_left_up_by_a_killed_shopper_is_hung_up_by_the_next_start(
    lines: Emulator, shopper_env: dict[str, str], tmp_path: Path
) -> None:
    """SIGKILL of `shopper run` (and its speech workers) mid-call leaves the call up at the
    emulator; the next process that places a Twilio call hangs it up through the REST API.
    With `dtmf = twiml` the call is parked on `<Pause>`, which outlives the stream's WebSocket
    (a `<Connect><Stream>` call ends by itself when the killed process's socket closes, as on
    Twilio: its TwiML runs to its end)."""
    script = tmp_path / "hold.yaml"
    script.write_text(
        f'name: on hold\ncarrier: twilio\ntarget: "{HOLD}"\nsteps:\n  - wait: 100s\n',
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "shopper", "run", str(script), "--out", str(tmp_path)]
    crashed = subprocess.Popen(
        command,
        env=os.environ | shopper_env | {"SHOPPER_TWILIO_DTMF": "twiml"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    ledger = Path(shopper_env["SHOPPER_STATE_DIR"]) / LEDGER_FILE
    client = rest_client(lines)
    try:
        sid = await in_progress_call(ledger, client)
    finally:
        os.killpg(crashed.pid, signal.SIGKILL)
        crashed.wait()  # reaped: its pid is no longer a running process
    await asyncio.sleep(1.0)
    assert client.calls(sid).fetch().status == "in-progress"  # left up by the crash
    try:
        placed = await dial(BUSY, "twilio", OPTIONS)  # a new start: it sweeps first
        assert isinstance(placed.call, TwilioCall), placed.failed
        async for _ in placed.call.frames():
            pass
    finally:
        await close_twilio()
    assert client.calls(sid).fetch().status == "completed"
    assert lines.truth(sid)["end"]["reason"] == "REST update Status=completed"
    assert CallLedger(ledger).entries() == []


async def in_progress_call(ledger: Path, client: Client) -> str:
    """The SID of the call in the ledger once the emulator says it has been answered."""
    for _ in range(600):
        sids = [entry.call_sid for entry in CallLedger(ledger).entries()]
        if sids and client.calls(sids[0]).fetch().status == "in-progress":
            return sids[0]
        await asyncio.sleep(0.1)
    raise AssertionError("the call never came up")


@pytest.mark.parametrize(
    ("arguments", "environment", "said"),
    [
        (["--twilio", "127.0.0.1:0"], {}, "serves one account: set TWILIO_ACCOUNT_SID"),
        ([], {"TWILIO_ACCOUNT_SID": ACCOUNT}, "give --sip HOST:PORT (SIP over UDP) or --twilio"),
        (["--twilio", "127.0.0.1:0", "--sip", "127.0.0.1:5080"], {}, "not both"),
        (["--twilio", "localhost"], {}, "--twilio 'localhost': give HOST:PORT"),
    ],
)
def test_serve_says_in_one_line_what_twilio_serving_needs(
    arguments: list[str],
    environment: dict[str, str],
    said: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    ivr = str(LINES[MENU])
    result = CliRunner().invoke(app, ["sandbox", "serve", ivr, *arguments], env=environment)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("shopper: ") and said in line


async def test_another_dtmf_decoder_hears_the_keys_shopper_sent_through_the_emulator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The in-band keys shopper sends on the stream, as the emulator's IVR heard them (after
    μ-law both ways), decoded by Debian's multimon-ng rather than shopper's own detector."""
    assert shutil.which("multimon-ng"), "multimon-ng is missing: run .ci/setup"
    heard: list[Samples] = []
    take = Playout.take

    def listening(playout: Playout) -> Samples:
        frame = take(playout)
        heard.append(frame)
        return frame

    monkeypatch.setattr(Playout, "take", listening)
    definition = load_ivr(LINES[HOLD])
    served = {HOLD: ServedIvr(definition, SoundBank(definition))}
    emulator = TwilioEmulator(served, Credentials(ACCOUNT, TOKEN, {}), EmulatorSettings())
    port = await emulator.start("127.0.0.1", 0)
    base_url = f"http://127.0.0.1:{port}"
    for name, value in point_shopper_at(base_url, tmp_path / "state").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(runtime, "_SWEPT", set())
    keys = "2580#*"
    try:
        placed = await dial(HOLD, "twilio", OPTIONS)
        assert isinstance(placed.call, TwilioCall), placed.failed
        call = placed.call
        played_by: int | None = None
        async for frame in call.frames():
            if any(isinstance(signal_, Answered) for signal_ in frame.signals):
                sent = await call.send_dtmf(keys)
                played_by = sent.end + TELEPHONY_RATE // 2  # and the playout's lag
            if played_by is not None and frame.far.start >= played_by:
                await call.hangup()
    finally:
        await close_twilio()
        await emulator.stop()
    wide = resample(np.concatenate(heard), TELEPHONY_RATE, MULTIMON_RATE)
    decoded = subprocess.run(
        ["multimon-ng", "-q", "-c", "-a", "DTMF", "-t", "raw", "-"],
        input=wide.astype("<i2").tobytes(),
        capture_output=True,
        check=True,
    )
    digits = re.findall(r"^DTMF: (\S)$", decoded.stdout.decode(), re.MULTILINE)
    assert "".join(digits) == keys
