"""Calls through the sandbox carrier, as the tester side places them."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from shopper.audio.dtmf import detect_dtmf
from shopper.audio.frame import FRAME_SAMPLES, Samples
from shopper.carriers.base import Call, CarrierError, DuplexFrame
from shopper.carriers.sandbox import SandboxCall, dial_sandbox
from shopper.carriers.signals import Answered, Ringing, Signal
from shopper.sandbox.model import (
    Agent,
    Answer,
    Drop,
    Hangup,
    IvrDefinition,
    Menu,
    Node,
    Periodic,
    Queue,
    Silence,
    Sound,
)
from shopper.sandbox.phone import BUSY_S
from shopper.tts import synthesize

NOW = datetime(2024, 5, 6, 13, 0, tzinfo=UTC)
PROMPT = "For billing, press one. To speak to someone, press zero."


@pytest.fixture(autouse=True)
def tts_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPPER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def ivr(*nodes: Node, answer: Answer | None = None) -> IvrDefinition:
    return IvrDefinition(
        name="carrier test",
        source=Path("/tmp/carrier.yaml"),
        start=nodes[0].name,
        nodes={node.name: node for node in nodes},
        answer=answer or Answer(),
    )


MENU_IVR = ivr(
    Node("main", 1, Sound(say=PROMPT), Menu({"1": "billing", "0": "agent"}, timeout_s=4.0)),
    Node("billing", 2, Sound(say="Billing, goodbye."), Hangup()),
    Node("agent", 3, None, Agent("Hi, this is Sam. How can I help you today?")),
)


async def collect(call: SandboxCall, limit_s: float = 600.0) -> list[DuplexFrame]:
    frames: list[DuplexFrame] = []
    async for frame in call.frames():
        frames.append(frame)
        if frame.far.end >= limit_s * 8000:
            await call.hangup()
    return frames


def signals(frames: list[DuplexFrame]) -> list[tuple[Signal, int]]:
    """Each signal with the start of the frame it came with."""
    return [(signal, frame.far.start) for frame in frames for signal in frame.signals]


def answered_at(frames: list[DuplexFrame]) -> int | None:
    return next((s.t for s, _ in signals(frames) if isinstance(s, Answered)), None)


def far_audio(frames: list[DuplexFrame]) -> Samples:
    return np.concatenate([frame.far.samples for frame in frames])


async def test_a_sandbox_call_is_a_call() -> None:
    placed, _ = dial_sandbox(MENU_IVR, now=NOW)
    call: Call = placed
    assert call.carrier == "sandbox" and call.call_id.startswith("sandbox-")
    assert call.ended_by is None and not hasattr(call, "truth")
    # The virtual clock waits for its reader; in real time the far end never does.
    assert call.virtual_clock
    realtime, _ = dial_sandbox(MENU_IVR, now=NOW, realtime=True)
    assert not realtime.virtual_clock


async def test_frames_are_contiguous_duplex_20ms() -> None:
    call, _ = dial_sandbox(MENU_IVR, now=NOW)
    frames = await collect(call, limit_s=2.0)
    assert [frame.far.start for frame in frames] == [i * FRAME_SAMPLES for i in range(100)]
    assert all(len(frame.far.samples) == len(frame.near) == FRAME_SAMPLES for frame in frames)
    assert signals(frames) == [(Answered(0), 0)], "answered at once: no ringing"


async def test_pressing_a_key_in_band_reaches_its_node() -> None:
    call, phone = dial_sandbox(MENU_IVR, now=NOW)
    prompt_s = len(synthesize(PROMPT)) / 8000
    frames: list[DuplexFrame] = []
    async for frame in call.frames():
        frames.append(frame)
        if frame.far.end == round((prompt_s + 0.5) * 8000 / FRAME_SAMPLES) * FRAME_SAMPLES:
            await call.send_dtmf("1")
    assert phone.truth.nodes_entered() == ["main", "billing"]
    assert (call.ended_by, call.end_cause) == ("remote", "hangup")
    near = np.concatenate([frame.near for frame in frames])
    assert [digit.digit for digit in detect_dtmf(near)] == ["1"], "the tester channel holds it"
    end = phone.truth.end
    assert end is not None and end.at == frames[-1].far.end


async def test_agent_answers_speech_sent_with_play() -> None:
    call, phone = dial_sandbox(MENU_IVR, now=NOW)
    question = synthesize("Hello, I have a question about my bill.")
    sent_speech = False
    async for frame in call.frames():
        if frame.far.end == 8000:
            await call.send_dtmf("0")
        first_spoke = phone.truth.agent_first_spoke
        if not sent_speech and first_spoke is not None and frame.far.end > first_spoke + 40000:
            await call.play(question)
            sent_speech = True
        if frame.far.end >= 30 * 8000:
            await call.hangup()
    replies = [played for played in phone.truth.sounds if played.role == "reply"]
    assert len(replies) == 1
    assert phone.truth.caller_speech and replies[0].start > phone.truth.caller_speech[0][1]
    assert (call.ended_by, call.end_cause) == ("tester", "hangup")
    assert phone.truth.end is not None and phone.truth.end.by == "caller"


async def test_silence_and_drop_end_with_remote_hangup_on_time() -> None:
    silent, _ = dial_sandbox(ivr(Node("main", 1, None, Silence(9.0))), now=NOW)
    frames = await collect(silent)
    assert (silent.ended_by, silent.end_cause) == ("remote", "hangup")
    assert frames[-1].far.end == 9 * 8000

    dropping, _ = dial_sandbox(
        ivr(Node("main", 1, Sound(say=PROMPT), Drop(3.0)), answer=Answer(after_s=2.0)), now=NOW
    )
    frames = await collect(dropping)
    assert (dropping.ended_by, dropping.end_cause) == ("remote", "hangup")
    assert signals(frames) == [(Ringing(0), 0), (Answered(2 * 8000), 2 * 8000)]
    assert frames[-1].far.end == 5 * 8000
    assert np.abs(far_audio(frames)[-8000:]).max() > 1000, "cut off mid-sentence"


async def test_busy_line_ends_busy() -> None:
    call, _ = dial_sandbox(
        ivr(Node("main", 1, None, Hangup()), answer=Answer(mode="busy")), now=NOW
    )
    frames = await collect(call)
    assert (call.ended_by, call.end_cause) == ("remote", "busy")
    assert signals(frames) == [], "a busy line neither rings nor answers"
    assert frames[-1].far.end == round(BUSY_S * 8000)


async def test_unanswered_line_rings_until_the_ring_timeout() -> None:
    definition = ivr(Node("main", 1, None, Hangup()), answer=Answer(mode="no-answer"))
    call, phone = dial_sandbox(definition, now=NOW, ring_timeout_s=12.0)
    frames = await collect(call)
    assert (call.ended_by, call.end_cause) == ("remote", "no-answer")
    assert signals(frames) == [(Ringing(0), 0)]
    assert frames[-1].far.end == 12 * 8000
    assert phone.truth.end is not None and phone.truth.end.by == "network"

    late = ivr(Node("main", 1, None, Hangup()), answer=Answer(after_s=20.0))
    call, phone = dial_sandbox(late, now=NOW, ring_timeout_s=12.0)
    await collect(call)
    assert call.end_cause == "no-answer"


async def test_maximum_duration_hangs_up_for_the_tester() -> None:
    call, phone = dial_sandbox(
        ivr(Node("main", 1, None, Silence(60.0))), now=NOW, max_duration_s=5.0
    )
    frames = await collect(call)
    assert frames[-1].far.end == 5 * 8000
    assert (call.ended_by, call.end_cause) == ("tester", "hangup")
    assert phone.truth.end is not None and phone.truth.end.reason == "maximum call length"


async def test_hangup_is_idempotent_and_ends_frames() -> None:
    call, phone = dial_sandbox(MENU_IVR, now=NOW)
    count = 0
    async for _ in call.frames():
        count += 1
        if count == 10:
            await call.hangup()
            await call.hangup()
    assert count == 10
    assert (call.ended_by, call.end_cause) == ("tester", "hangup")
    await call.hangup()
    assert phone.truth.end is not None and phone.truth.end.at == 10 * FRAME_SAMPLES
    with pytest.raises(CarrierError):
        async for _ in call.frames():
            pass


async def test_play_rejects_audio_that_is_not_pcm16() -> None:
    call, _ = dial_sandbox(MENU_IVR, now=NOW)
    with pytest.raises(CarrierError, match="int16"):
        await call.play(np.zeros(10, dtype=np.float32))


async def test_same_seed_gives_identical_far_audio() -> None:
    runs = []
    for seed in (3, 3, 4):
        call, _ = dial_sandbox(MENU_IVR, seed=seed, now=NOW)
        runs.append(far_audio(await collect(call, limit_s=8.0)))
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


async def test_truth_is_json_with_the_documented_keys() -> None:
    call, phone = dial_sandbox(MENU_IVR, now=NOW)
    await collect(call, limit_s=3.0)
    truth = json.loads(phone.truth.to_json())
    assert set(truth) == {
        "ivr",
        "seed",
        "now",
        "answer",
        "nodes",
        "sounds",
        "keys",
        "caller_speech",
        "agent_first_spoke_s",
        "holds",
        "callback_offers",
        "voicemail",
        "end",
    }
    assert truth["end"] == {
        "at_s": 3.0,
        "by": "caller",
        "reason": "caller hung up",
        "cause": "hangup",
    }
    assert truth["sounds"][0]["end_s"] == 3.0 and truth["sounds"][0]["cut"] is True


async def test_virtual_clock_runs_a_long_hold_fast() -> None:
    """Speed is reported, not asserted: timings on a shared machine are noise."""
    hold = ivr(
        Node(
            "main",
            1,
            Sound(say="Please hold."),
            Queue(
                hold_s=180.0,
                announce=Periodic(45.0, Sound(say="Thank you for waiting.")),
                then="bye",
            ),
        ),
        Node("bye", 2, Sound(say="Goodbye."), Hangup()),
    )
    call, phone = dial_sandbox(hold, now=NOW)
    started = time.perf_counter()
    frames = await collect(call)
    wall = time.perf_counter() - started
    simulated = frames[-1].far.end / 8000
    print(f"\nvirtual clock: {simulated:.1f} s of call in {wall:.2f} s ({simulated / wall:.0f}x)")
    assert phone.truth.holds[0].outcome == "then"
    assert phone.truth.end is not None and phone.truth.end.reason == "hangup node"


@pytest.mark.slow
async def test_real_time_mode_paces_frames() -> None:
    """Real time: one second of call takes about a second (loose bounds for a busy machine)."""
    call, _ = dial_sandbox(ivr(Node("main", 1, None, Silence(1.0))), realtime=True, now=NOW)
    started = time.perf_counter()
    frames = await collect(call)
    wall = time.perf_counter() - started
    assert len(frames) == 50
    assert 0.9 <= wall < 3.0


async def test_other_tasks_run_during_a_virtual_call() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    call, _ = dial_sandbox(ivr(Node("main", 1, None, Silence(2.0))), now=NOW)
    await collect(call)
    task.cancel()
    assert ticks >= 50


async def test_play_and_keys_report_where_they_go_out_on_the_wire() -> None:
    """What `send_dtmf` and `play` return is where the tester channel really holds them:
    the keys from the next frame on, the speech right after the keys' last gap."""
    call, _ = dial_sandbox(ivr(Node("main", 1, None, Silence(4.0))), now=NOW)
    speech = synthesize("One moment please.")
    frames: list[DuplexFrame] = []
    spans = []
    async for frame in call.frames():
        frames.append(frame)
        if frame.far.end == 8000:
            spans.append(await call.send_dtmf("12"))
            spans.append(await call.play(speech))
    keys, said = spans
    assert keys.start == 8000, "nothing was queued: the keys go out with the next frame"
    assert keys.samples == 2 * 800 + 2 * 800, "two 0.1 s tones, each followed by a 0.1 s gap"
    assert said.start == keys.end and said.samples == len(speech)
    near = np.concatenate([frame.near for frame in frames])
    assert not near[: keys.start].any() and near[keys.start : keys.start + 8].any()
    assert np.array_equal(near[said.start : said.end], speech)
    assert not near[said.end :].any()
    assert [digit.digit for digit in detect_dtmf(near[keys.start : keys.end])] == ["1", "2"]
    after = await call.play(speech)
    assert after.samples == 0, "nothing goes out once the call has ended"
