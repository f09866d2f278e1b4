"""The Twilio carrier against a minimal fake of Twilio (tests/twilio_fake.py): REST, signed
callbacks, media streams carrying real Asterisk prompts. No speech engine: what the carrier
delivers is compared with what the fake sent, sample for sample."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import subprocess
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path

import aiohttp
import jsonschema
import numpy as np
import pytest
from twilio_fake import FakeTwilio, Scenario, received_audio, stream_of

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, Samples
from shopper.audio.g711 import ulaw_round_trip
from shopper.carriers.base import CarrierError
from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions
from shopper.carriers.signals import Answered, FarEndDigit, Ringing, Signal
from shopper.carriers.twilio import runtime
from shopper.carriers.twilio.call import TwilioCall
from shopper.carriers.twilio.ledger import CallLedger, LedgerEntry
from shopper.carriers.twilio.runtime import close_twilio
from shopper.carriers.twilio.settings import TwilioSettingsError, twilio_settings
from shopper.carriers.twilio.signature import sign
from shopper.results.writer import result_schema, write_call
from shopper.sandbox.sounds import PROMPTS_DIR
from shopper.scripts.loader import load_script
from shopper.scripts.runner import CallInterrupted, run_script

pytestmark = pytest.mark.realtime  # wall-clock bound: CI runs these beside the others

ACCOUNT = "AC" + "0123456789abcdef" * 2
OPTIONS = DialOptions(ring_timeout_s=20, max_duration_s=60)


def prompt(name: str) -> Samples:
    with wave.open(str(PROMPTS_DIR / f"{name}.wav")) as file:
        return np.frombuffer(file.readframes(file.getnframes()), dtype=np.int16).copy()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[FakeTwilio]:
    token = "tok" + secrets.token_hex(16)
    twilio = FakeTwilio(ACCOUNT, token)
    api = await twilio.start()
    port = free_port()
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", token)
    monkeypatch.setenv("SHOPPER_TWILIO_FROM", "+15550100000")
    monkeypatch.setenv("SHOPPER_TWILIO_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SHOPPER_TWILIO_LISTEN", f"127.0.0.1:{port}")
    monkeypatch.setenv("SHOPPER_TWILIO_API_URL", api)
    monkeypatch.setenv("SHOPPER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(runtime, "_SWEPT", set())
    yield twilio
    await close_twilio()
    await twilio.close()


async def place(number: str) -> TwilioCall:
    placed = await dial(number, "twilio", OPTIONS)
    assert placed.failed is None, placed.failed
    assert isinstance(placed.call, TwilioCall)
    return placed.call


async def hear(call: TwilioCall) -> tuple[Samples, Samples, list[Signal]]:
    far: list[Samples] = []
    near: list[Samples] = []
    signals: list[Signal] = []
    async for frame in call.frames():
        assert frame.far.start == sum(len(f) for f in far)  # contiguous media time
        far.append(frame.far.samples)
        near.append(frame.near)
        signals.extend(frame.signals)
    return np.concatenate(far), np.concatenate(near), signals


def find(haystack: Samples, needle: Samples) -> int | None:
    """Frame-aligned position of `needle` in `haystack`, sample for sample."""
    for start in range(0, len(haystack) - len(needle) + 1, FRAME_SAMPLES):
        if np.array_equal(haystack[start : start + len(needle)], needle):
            return start
    return None


def find_most(haystack: Samples, needle: Samples, share: float = 0.9) -> int | None:
    """Frame-aligned position where at least `share` of `needle`'s frames are in `haystack`
    sample for sample: a frame that reached a starved test after its turn is silence there,
    as on any real-time line, but which stream a call hears must still be beyond doubt."""
    frames = len(needle) // FRAME_SAMPLES
    wanted = needle[: frames * FRAME_SAMPLES].reshape(frames, FRAME_SAMPLES)
    for start in range(0, len(haystack) - frames * FRAME_SAMPLES + 1, FRAME_SAMPLES):
        heard = haystack[start : start + frames * FRAME_SAMPLES].reshape(frames, FRAME_SAMPLES)
        if np.count_nonzero(np.all(heard == wanted, axis=1)) >= share * frames:
            return start
    return None


def whole_frames(samples: Samples) -> Samples:
    return samples[: len(samples) // FRAME_SAMPLES * FRAME_SAMPLES]


async def test_two_concurrent_calls_each_hear_their_own_stream(fake: FakeTwilio) -> None:
    hello, moment = whole_frames(prompt("hello-world")), whole_frames(prompt("one-moment-please"))
    # The first call's stream opens last: routing by arrival order would swap them.
    fake.scenarios["+15550100001"] = Scenario(ring_s=0.3, audio=hello, stream_delay_s=0.6)
    fake.scenarios["+15550100002"] = Scenario(ring_s=0.3, audio=moment)
    first, second = await asyncio.gather(place("+15550100001"), place("+1 555 010-0002"))
    (far_1, _, signals_1), (far_2, _, signals_2) = await asyncio.gather(hear(first), hear(second))
    for far, own, other, signals in (
        (far_1, hello, moment, signals_1),
        (far_2, moment, hello, signals_2),
    ):
        at = find_most(far, ulaw_round_trip(own))
        assert at is not None
        assert find_most(far, ulaw_round_trip(other), share=0.1) is None
        ringing = next(s for s in signals if isinstance(s, Ringing))
        answered = next(s for s in signals if isinstance(s, Answered))
        # Media time starts at placing: the 0.3 s of ringing come before the answer.
        assert ringing.t < answered.t
        assert answered.t >= 0.3 * TELEPHONY_RATE
        assert at >= answered.t - 2 * FRAME_SAMPLES  # placed to the nearest frame
    for call in (first, second):
        assert (call.ended_by, call.end_cause) == ("remote", "hangup")
        report = call.carrier_report
        assert report.status == "completed"
        assert report.price == 0.013
        assert report.price_unit == "USD"


async def test_a_gap_in_the_timestamps_is_silence_of_its_length(fake: FakeTwilio) -> None:
    audio = whole_frames(prompt("please-try-again"))
    fake.scenarios["+15550100003"] = Scenario(audio=audio, gap=(20, 10))
    call = await place("+15550100003")
    far, _, _ = await hear(call)
    expected = ulaw_round_trip(audio)
    expected[20 * FRAME_SAMPLES : 30 * FRAME_SAMPLES] = 0
    assert find(far, expected) is not None


async def test_marks_stamp_what_was_sent_when_it_was_played(fake: FakeTwilio) -> None:
    fake.scenarios["+15550100004"] = Scenario(
        audio=np.zeros(8 * TELEPHONY_RATE, dtype=np.int16),
        hang_up_after_audio=False,
        mark_delay_s=0.3,
    )
    call = await place("+15550100004")
    keys = np.concatenate([dtmf_sequence("12", 0.1, 0.1), np.zeros(800, dtype=np.int16)])
    hello = whole_frames(prompt("hello-world"))
    sent: list[tuple[int, int]] = []
    near: list[Samples] = []
    async for frame in call.frames():
        near.append(frame.near)
        if any(isinstance(s, Answered) for s in frame.signals):
            keys_sent = await call.send_dtmf("12", 0.1, 0.1)
            sent.append((keys_sent.start, keys_sent.end))
        if len(call.marks) == 1 and len(sent) == 1:
            hello_sent = await call.play(hello)
            sent.append((hello_sent.start, hello_sent.end))
        if len(call.marks) == 2:
            break
    await call.hangup()
    assert np.array_equal(
        received_audio(fake.calls[call.carrier_report.call_sid or ""]),
        ulaw_round_trip(np.concatenate([keys, hello])),
    )
    (_, played_keys), (scheduled_hello, played_hello) = call.marks
    # The second item's stamp carries the playout delay the first item's mark measured:
    # it is closer to when Twilio really played it than the send schedule is.
    assert abs(sent[1][1] - played_hello) < abs(scheduled_hello - played_hello)
    assert played_keys - sent[0][1] >= 0.2 * TELEPHONY_RATE
    recorded = np.concatenate(near)
    start, end = sent[0]
    assert np.array_equal(recorded[start:end], keys)


async def test_far_end_keys_become_signals_where_they_were_heard(fake: FakeTwilio) -> None:
    audio = whole_frames(prompt("hello-world"))
    fake.scenarios["+15550100014"] = Scenario(audio=audio, far_digits={40: "7"})
    call = await place("+15550100014")
    far, _, signals = await hear(call)
    digits = [s for s in signals if isinstance(s, FarEndDigit)]
    assert [d.digit for d in digits] == ["7"]
    # where the prompt is in what was heard (a starved test hears a late frame as silence)
    at = find_most(far, ulaw_round_trip(audio))
    assert at is not None
    # Stamped where the stream was when the message came: after frame 39, before frame 42.
    assert at + 39 * FRAME_SAMPLES <= digits[0].t <= at + 42 * FRAME_SAMPLES


async def test_audio_that_waited_through_a_stall_is_heard_not_dropped(fake: FakeTwilio) -> None:
    """A starved machine stalls the whole process. When it runs again every frame is due at
    once, and the audio Twilio sent meanwhile is waiting to be read: it must be placed before
    its frames are taken, not released as silence and then dropped as late."""
    audio = whole_frames(np.tile(prompt("hello-world"), 2))
    fake.scenarios["+15550100015"] = Scenario(audio=audio)
    call = await place("+15550100015")
    far: list[Samples] = []
    stalled = False
    async for frame in call.frames():
        far.append(frame.far.samples)
        if not stalled and frame.far.samples.any():
            time.sleep(0.8)  # blocks the event loop, as a starved process is blocked
            stalled = True
    assert stalled
    assert find_most(np.concatenate(far), ulaw_round_trip(audio), share=0.97) is not None


async def test_busy_ends_the_call_busy_with_the_sip_code(fake: FakeTwilio) -> None:
    fake.scenarios["+15550100005"] = Scenario(outcome="busy", sip_code=486)
    call = await place("+15550100005")
    await hear(call)
    assert (call.ended_by, call.end_cause) == ("remote", "busy")
    report = call.carrier_report
    assert (report.status, report.sip_response_code) == ("busy", 486)
    assert fake.calls[report.call_sid or ""].updates == []  # over: nothing to hang up


async def test_a_bad_number_is_one_line_saying_what_to_do(fake: FakeTwilio) -> None:
    fake.errors["+15550100006"] = (
        400,
        21211,
        "The 'To' number +15550100006 is not a valid phone number.",
    )
    placed = await dial("+15550100006", "twilio", OPTIONS)
    assert placed.failed is not None
    assert placed.failed.cause == "no-route"
    message = placed.failed.detail
    assert "21211" in message and "check the script's target" in message
    assert "\n" not in message
    assert placed.call.end_cause == "no-route"


async def test_ctrl_c_hangs_up_through_rest(fake: FakeTwilio) -> None:
    fake.scenarios["+15550100007"] = Scenario(
        audio=np.zeros(20 * TELEPHONY_RATE, dtype=np.int16), hang_up_after_audio=False
    )
    call = await place("+15550100007")
    answered = asyncio.Event()

    async def listen() -> None:
        async for frame in call.frames():
            if any(isinstance(s, Answered) for s in frame.signals):
                answered.set()

    task = asyncio.create_task(listen())
    await asyncio.wait_for(answered.wait(), 10)
    task.cancel()  # what Ctrl-C does to a call in progress
    await asyncio.gather(task, return_exceptions=True)
    sid = call.carrier_report.call_sid or ""
    assert fake.calls[sid].updates == [{"Status": "completed"}]
    assert sid not in {entry.call_sid for entry in CallLedger().entries()}


async def test_an_exception_in_a_step_hangs_up_through_rest(fake: FakeTwilio) -> None:
    fake.scenarios["+15550100008"] = Scenario(
        audio=np.zeros(20 * TELEPHONY_RATE, dtype=np.int16), hang_up_after_audio=False
    )
    call = await place("+15550100008")
    with pytest.raises(RuntimeError):
        try:
            async for frame in call.frames():
                if any(isinstance(s, Answered) for s in frame.signals):
                    raise RuntimeError("a step failed")
        finally:
            await call.hangup()  # what the runner does on leaving the call, whatever happened
    assert (call.ended_by, call.end_cause) == ("tester", "hangup")
    assert fake.calls[call.carrier_report.call_sid or ""].updates == [{"Status": "completed"}]


async def test_the_next_start_hangs_up_a_crashed_runs_calls(fake: FakeTwilio) -> None:
    crashed = subprocess.Popen(["true"])
    crashed.wait()
    orphan = fake.add_call("CA" + "ab" * 16, "in-progress")
    ours = fake.add_call("CA" + "cd" * 16, "in-progress")
    ledger = CallLedger()
    left = LedgerEntry(orphan.sid, ACCOUNT, crashed.pid, socket.gethostname(), 0)
    ledger.path.parent.mkdir(parents=True, exist_ok=True)
    ledger.path.write_text(json.dumps([asdict(left)]), encoding="utf-8")  # a crashed run's
    ledger.add(ours.sid, ACCOUNT)  # this process: a call still in progress, not a leftover
    fake.scenarios["+15550100009"] = Scenario(outcome="busy", sip_code=486)
    call = await place("+15550100009")
    await hear(call)
    assert orphan.updates == [{"Status": "completed"}]
    assert ours.updates == []
    assert {entry.call_sid for entry in ledger.entries()} == {ours.sid}


async def test_forged_and_unknown_requests_are_refused(
    fake: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    fake.scenarios["+15550100010"] = Scenario(
        audio=np.zeros(20 * TELEPHONY_RATE, dtype=np.int16), hang_up_after_audio=False
    )
    call = await place("+15550100010")
    fake_call = fake.calls[call.carrier_report.call_sid or ""]
    params = {"CallSid": fake_call.sid, "CallStatus": "completed", "AccountSid": ACCOUNT}
    forged = await fake.post_signed(fake_call.status_callback, params, signature="Zm9yZ2Vk")
    unknown_url = fake_call.status_callback.rsplit("/", 1)[0] + "/not-a-call"
    unknown = await fake.post_signed(unknown_url, params)
    stream_url = fake_call.status_callback.split("/twilio/")[0].replace("http", "ws")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(
                stream_url + "/twilio/stream", headers={"X-Twilio-Signature": "Zm9yZ2Vk"}
            )
    assert refused.value.status == 403
    assert (forged, unknown) == (403, 404)
    assert call.ended_by is None  # the forged "completed" changed nothing
    await call.hangup()
    assert fake_call.updates == [{"Status": "completed"}]
    assert sum("refused" in record.getMessage() for record in caplog.records) == 3


async def test_a_stream_with_an_unknown_token_is_closed(fake: FakeTwilio) -> None:
    fake.scenarios["+15550100011"] = Scenario(
        audio=np.zeros(20 * TELEPHONY_RATE, dtype=np.int16), hang_up_after_audio=False
    )
    call = await place("+15550100011")
    fake_call = fake.calls[call.carrier_report.call_sid or ""]
    url = fake_call.status_callback.split("/twilio/")[0].replace("http", "ws") + "/twilio/stream"
    async with aiohttp.ClientSession() as session:
        headers = {"X-Twilio-Signature": sign(fake.auth_token, url, {})}
        async with session.ws_connect(url, headers=headers) as stream:
            start = {"customParameters": {"token": "guessed"}, "streamSid": "MZ1"}
            await stream.send_json({"event": "start", "start": start, "streamSid": "MZ1"})
            message = await stream.receive(timeout=5)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await call.hangup()


async def test_no_secret_reaches_logs_results_or_errors(
    fake: FakeTwilio, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.scenarios["+15550100012"] = Scenario(audio=whole_frames(prompt("hello-world")))
    call = await place("+15550100012")
    await hear(call)
    texts = [record.getMessage() for record in caplog.records]
    texts.append(json.dumps(call.carrier_report.to_json()))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "wrong" + fake.auth_token)
    await close_twilio()
    failed = await dial("+15550100012", "twilio", OPTIONS)
    assert failed.failed is not None and failed.failed.cause == "auth-failed"
    texts.append(failed.failed.detail)
    texts.extend(record.getMessage() for record in caplog.records)
    call_token = stream_of(fake.calls[call.carrier_report.call_sid or ""].twiml)[1]
    for text in texts:
        assert fake.auth_token not in text
        assert call_token not in text


async def test_twiml_dtmf_plays_digits_by_a_call_update(
    fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPPER_TWILIO_DTMF", "twiml")
    fake.scenarios["+15550100013"] = Scenario(
        audio=np.zeros(20 * TELEPHONY_RATE, dtype=np.int16), hang_up_after_audio=False
    )
    call = await place("+15550100013")
    fake_call = fake.calls[call.carrier_report.call_sid or ""]
    assert "<Start><Stream" in fake_call.twiml
    async for frame in call.frames():
        if any(isinstance(s, Answered) for s in frame.signals):
            sent = await call.send_dtmf("4#")
            assert sent.samples > 0
            with pytest.raises(CarrierError, match="dtmf = inband"):
                await call.play(np.zeros(800, dtype=np.int16))
            break
    await call.hangup()
    assert '<Play digits="4#" />' in fake_call.updates[0]["Twiml"]
    assert fake_call.updates[-1] == {"Status": "completed"}


def test_a_call_without_a_public_url_is_refused_saying_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "s3cret-token")
    monkeypatch.setenv("SHOPPER_TWILIO_FROM", "+15550100000")
    with pytest.raises(TwilioSettingsError, match="Twilio must reach shopper's built-in server"):
        twilio_settings()
    monkeypatch.setenv("SHOPPER_TWILIO_PUBLIC_URL", "http://tunnel.example.com")
    with pytest.raises(TwilioSettingsError, match="https://"):
        twilio_settings()
    monkeypatch.setenv("SHOPPER_TWILIO_PUBLIC_URL", "https://tunnel.example.com/")
    settings = twilio_settings()
    assert settings.public_url == "https://tunnel.example.com"
    assert "s3cret-token" not in repr(settings)
    monkeypatch.setenv("TWILIO_API_KEY", "SK" + "0" * 32)
    with pytest.raises(TwilioSettingsError, match="TWILIO_API_SECRET"):
        twilio_settings()


async def test_a_script_through_twilio_writes_a_valid_result_without_secrets(
    fake: FakeTwilio, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The runner end to end with the real speech engine: what the carrier hears is
    transcribed, the call is hung up through REST, and no file of its evidence holds the
    auth token or the call's routing token."""
    caplog.set_level(logging.DEBUG)
    fake.scenarios["+15550100020"] = Scenario(
        audio=np.concatenate([prompt("hello-world"), np.zeros(4000, dtype=np.int16)]),
        hang_up_after_audio=False,
    )
    script = tmp_path / "hello.yaml"
    script.write_text(
        'name: hello\ncarrier: twilio\ntarget: "+15550100020"\n'
        # A loaded machine may take a while to decode: no dead-air verdict meanwhile.
        "settings: {dead_air: 60s}\n"
        "steps:\n  - expect: hello world\n  - hangup: true\n",
        encoding="utf-8",
    )
    record = await run_script(load_script(script), MoonshineEngine())
    result = record.result
    jsonschema.validate(result, result_schema())
    assert result["outcome"] == "passed", result["failure"]
    assert (result["carrier"], result["ended_by"]) == ("twilio", "tester")
    report = result["carrier_call"]
    assert (report["status"], report["price"]) == ("completed", 0.013)
    fake_call = fake.calls[report["call_sid"]]
    assert fake_call.updates == [{"Status": "completed"}]
    folder = tmp_path / "call"
    write_call(record, folder)
    secrets_ = (fake.auth_token.encode(), stream_of(fake_call.twiml)[1].encode())
    for path in folder.iterdir():
        for secret in secrets_:
            assert secret not in path.read_bytes(), path.name
    for record_ in caplog.records:
        for secret in secrets_:
            assert secret.decode() not in record_.getMessage()


async def test_ctrl_c_during_a_script_hangs_up_through_rest_and_keeps_the_record(
    fake: FakeTwilio, tmp_path: Path
) -> None:
    fake.scenarios["+15550100021"] = Scenario(
        audio=np.zeros(30 * TELEPHONY_RATE, dtype=np.int16), hang_up_after_audio=False
    )
    script = tmp_path / "wait.yaml"
    script.write_text(
        'name: wait\ncarrier: twilio\ntarget: "+15550100021"\nsteps:\n  - wait: 30s\n',
        encoding="utf-8",
    )
    task = asyncio.create_task(run_script(load_script(script), MoonshineEngine()))
    while not any(call.received or call.status == "in-progress" for call in fake.calls.values()):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    task.cancel()  # what shopper run does on Ctrl-C
    with pytest.raises(CallInterrupted) as interrupted:
        await task
    result = interrupted.value.record.result
    assert (result["outcome"], result["ended_by"]) == ("error", "tester")
    fake_call = fake.calls[result["carrier_call"]["call_sid"]]
    assert fake_call.updates == [{"Status": "completed"}]
