"""The simulated phone system driven frame by frame, hearing the caller only in-band."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from shopper.audio.callprogress import detect_tones
from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.files import read_audio
from shopper.audio.frame import FRAME_SAMPLES, AudioFrame, Samples
from shopper.audio.goertzel import block_energy, block_view
from shopper.sandbox.model import (
    Agent,
    Answer,
    CallbackOffer,
    Drop,
    Goto,
    Hangup,
    Hours,
    IvrDefinition,
    Menu,
    Node,
    Periodic,
    Queue,
    Silence,
    Sound,
    Tone,
    Voicemail,
)
from shopper.sandbox.phone import BEEP_S, CALLBACK_WINDOW_S, SandboxError, SandboxPhone
from shopper.sandbox.render import DEFAULT_MUSIC
from shopper.sandbox.sounds import MOH_DIR, PROMPTS_DIR
from shopper.sandbox.truth import SandboxTruth, SoundPlayed
from shopper.tts import synthesize

MONDAY_9AM = datetime(2024, 5, 6, 13, 0, tzinfo=UTC)
"""09:00 in New York."""
PROMPT = "Thank you for calling. For billing, press one. For cards, press two."
INVALID = PROMPTS_DIR / "pm-invalid-option.wav"


@pytest.fixture(autouse=True)
def tts_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPPER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def ivr(*nodes: Node, start: str = "main", **options: object) -> IvrDefinition:
    return IvrDefinition(
        name="test",
        source=Path("/tmp/test.yaml"),
        start=start,
        nodes={node.name: node for node in nodes},
        **options,  # type: ignore[arg-type]
    )


def say(text: str) -> Sound:
    return Sound(say=text)


def spoken_s(text: str) -> float:
    return len(synthesize(text)) / 8000


MENU = Menu(
    {"1": "billing", "2": "cards"},
    timeout_s=3.0,
    retries=1,
    invalid=Sound(play=INVALID),
    no_input=say("Sorry, I did not hear anything."),
    on_exhausted="operator",
)
LEAVES = (
    Node("billing", 2, say("Billing."), Hangup()),
    Node("cards", 3, say("Cards."), Hangup()),
    Node("operator", 4, say("Let me get someone."), Hangup()),
)


def run(
    definition: IvrDefinition,
    caller: Sequence[tuple[float, Samples]] = (),
    until_s: float = 60.0,
    seed: int = 0,
    now: datetime = MONDAY_9AM,
) -> tuple[SandboxTruth, Samples]:
    """Play the caller's audio at the given times; stop when the IVR hangs up or at `until_s`."""
    phone = SandboxPhone(definition, seed, now)
    total = round(until_s * 8000)
    track = np.zeros(total + FRAME_SAMPLES, dtype=np.int16)
    for at_s, samples in caller:
        start = round(at_s * 8000)
        track[start : start + len(samples)] = samples
    far: list[Samples] = []
    while phone.position < total:
        position = phone.position
        output = phone.step(AudioFrame(track[position : position + FRAME_SAMPLES], position))
        if output is None:
            break
        far.append(output)
    return phone.truth, np.concatenate([np.zeros(0, dtype=np.int16), *far])


def sounds(truth: SandboxTruth, role: str) -> list[SoundPlayed]:
    return [played for played in truth.sounds if played.role == role]


def level_db(samples: Samples) -> float:
    energy = float(np.mean(block_energy(block_view(samples, 160, 160))))
    return float(10 * np.log10(max(energy, 1e-9) / 32767**2))


def test_key_after_the_prompt_goes_to_its_node() -> None:
    menu = Node("main", 1, say(PROMPT), MENU)
    after_prompt = spoken_s(PROMPT) + 0.5
    truth, _ = run(ivr(menu, *LEAVES), [(after_prompt, dtmf_sequence("1"))])
    assert truth.nodes_entered() == ["main", "billing"]
    [key] = truth.keys
    assert (key.digit, key.node, key.action) == ("1", "main", "accepted")
    assert abs(key.start / 8000 - after_prompt) < 0.02
    assert not sounds(truth, "prompt")[0].cut
    entered = truth.nodes[1].at / 8000
    assert after_prompt + 0.1 < entered < after_prompt + 0.2
    assert truth.end is not None and truth.end.by == "ivr" and truth.end.reason == "hangup node"


def test_key_during_the_prompt_interrupts_it() -> None:
    menu = Node("main", 1, say(PROMPT), MENU)
    truth, _ = run(ivr(menu, *LEAVES), [(1.0, dtmf_sequence("2"))])
    assert truth.nodes_entered() == ["main", "cards"]
    prompt = sounds(truth, "prompt")[0]
    assert prompt.cut
    assert prompt.end is not None and 1.1 < prompt.end / 8000 < 1.25
    cards = sounds(truth, "prompt")[1]
    assert cards.what == "Cards." and cards.start == prompt.end


def test_without_barge_in_keys_during_the_prompt_are_ignored() -> None:
    menu = Node("main", 1, say(PROMPT), Menu({"1": "billing"}, barge_in=False, timeout_s=2.0))
    after_prompt = spoken_s(PROMPT) + 0.3
    caller = [(1.0, dtmf_sequence("1")), (after_prompt, dtmf_sequence("1"))]
    truth, _ = run(ivr(menu, *LEAVES), caller)
    assert [key.action for key in truth.keys] == ["ignored", "accepted"]
    assert not sounds(truth, "prompt")[0].cut
    assert truth.nodes[1].at / 8000 > after_prompt


def test_invalid_key_plays_the_invalid_message_then_the_menu_again() -> None:
    menu = Node("main", 1, say(PROMPT), MENU)
    after_prompt = spoken_s(PROMPT) + 0.5
    truth, _ = run(ivr(menu, *LEAVES), [(after_prompt, dtmf_sequence("9"))], until_s=30)
    assert [key.action for key in truth.keys] == ["invalid"]
    roles = [played.role for played in truth.sounds if played.node == "main"]
    assert roles[:3] == ["prompt", "invalid", "prompt"]
    invalid = sounds(truth, "invalid")[0]
    assert invalid.what == str(INVALID)
    assert invalid.end is not None
    assert sounds(truth, "prompt")[1].start - invalid.end < FRAME_SAMPLES


def test_no_input_retries_then_goes_to_on_exhausted() -> None:
    menu = Node("main", 1, say(PROMPT), MENU)
    truth, _ = run(ivr(menu, *LEAVES), until_s=60)
    roles = [played.role for played in truth.sounds if played.node == "main"]
    assert roles == ["prompt", "no-input", "prompt", "no-input"]
    assert truth.nodes_entered() == ["main", "operator"]
    assert truth.nodes[-1].reason == "retries exhausted"
    first, second = sounds(truth, "prompt")[:2]
    no_input = sounds(truth, "no-input")[0]
    assert first.end is not None and no_input.end is not None
    assert abs((no_input.start - first.end) / 8000 - MENU.timeout_s) < 0.03
    assert second.start - no_input.end < FRAME_SAMPLES


def test_exhausted_menu_without_a_target_hangs_up() -> None:
    menu = Node("main", 1, say("Press one."), Menu({"1": "billing"}, timeout_s=1.0, retries=0))
    truth, _ = run(ivr(menu, *LEAVES))
    assert truth.end is not None and truth.end.reason == "retries exhausted"
    assert truth.end.by == "ivr"


def hold_ivr(hold_s: float, callback: bool = False) -> IvrDefinition:
    queue = Queue(
        hold_s=hold_s,
        announce=Periodic(20.0, say("Your call is important to us.")),
        callback_offer=CallbackOffer(15.0, say("For a call back, press one."), "1", "callback")
        if callback
        else None,
        then="agent",
    )
    return ivr(
        Node("main", 1, say("Please hold."), queue),
        Node("agent", 2, None, Agent("Hello, this is Sam.")),
        Node("callback", 3, say("We will call you back."), Hangup()),
    )


def test_queue_plays_music_with_announcements_on_schedule() -> None:
    truth, far = run(hold_ivr(65.0), until_s=90)
    [hold] = truth.holds
    prompt_end = sounds(truth, "prompt")[0].end
    assert prompt_end is not None and 0 <= hold.start - prompt_end < FRAME_SAMPLES
    announcements = [played.start - hold.start for played in sounds(truth, "announcement")]
    assert announcements == [20 * 8000, 40 * 8000, 60 * 8000]
    assert hold.end is not None and hold.end - hold.start == 65 * 8000
    assert hold.outcome == "then"
    assert truth.nodes_entered() == ["main", "agent"]
    assert truth.agent_first_spoke == hold.end + round(Agent("").pickup_s * 8000)

    music = sounds(truth, "music")
    assert [played.what for played in music] == [DEFAULT_MUSIC] * 4
    for played in music:
        assert played.end is not None
        assert level_db(far[played.start : played.end]) > -40, "music is audible"
    announcement = sounds(truth, "announcement")[0]
    assert announcement.end is not None
    heard = far[announcement.start : announcement.end].astype(np.float64)
    spoken = synthesize("Your call is important to us.").astype(np.float64)
    correlation = np.dot(heard, spoken) / np.sqrt(np.dot(heard, heard) * np.dot(spoken, spoken))
    assert correlation > 0.99, "the announcement replaces the music"


def test_hold_music_resumes_where_it_stopped() -> None:
    music_file = MOH_DIR / "manolo_camp-morning_coffee.wav"
    queue = Queue(hold_s=30.0, music=music_file, announce=Periodic(10.0, say("Please hold.")))
    truth, far = run(ivr(Node("main", 1, None, queue)), until_s=35)
    first, second = sounds(truth, "music")[:2]
    assert first.what == str(music_file)
    assert first.end is not None
    assert first.end is not None and second.end is not None
    music = read_audio(music_file).astype(np.float64)
    opening = far[:800].astype(np.float64)
    sliding_energy = np.convolve(music**2, np.ones(800), mode="valid")
    match = np.correlate(music, opening, mode="valid") / np.sqrt(sliding_energy + 1.0)
    started_at = int(np.argmax(match))
    assert np.std(opening - music[started_at : started_at + 800]) < 15, "found where it started"

    def music_from(offset: int, count: int) -> NDArray[np.float64]:
        return np.take(music, np.arange(offset, offset + count), mode="wrap")

    heard = far[second.start : second.end].astype(np.float64)
    resumed = music_from(started_at + first.end - first.start, len(heard))
    assert np.std(resumed) > 300, "the stretch holds music, not the silence between songs"
    assert np.std(heard - resumed) < 15, "only line noise differs"
    kept_running = music_from(started_at + second.start, len(heard))
    assert np.std(heard - kept_running) > 100


def test_callback_digit_during_the_offer_goes_to_its_node() -> None:
    definition = hold_ivr(120.0, callback=True)
    probe, _ = run(definition, until_s=25)
    offer = probe.callback_offers[0]
    press_at = offer.start / 8000 + 0.5
    early = (5.0, dtmf_sequence("1"))
    truth, _ = run(definition, [early, (press_at, dtmf_sequence("1"))], until_s=60)
    assert [key.action for key in truth.keys] == ["ignored", "callback"]
    assert truth.nodes_entered() == ["main", "callback"]
    assert truth.holds[0].outcome == "callback"
    assert truth.callback_offers[0].accepted is not None
    assert sounds(truth, "callback-offer")[0].cut


def test_callback_digit_long_after_the_offer_is_ignored() -> None:
    definition = hold_ivr(60.0, callback=True)
    probe, _ = run(definition, until_s=25)
    offer = probe.callback_offers[0]
    assert offer.end is not None
    late = offer.end / 8000 + CALLBACK_WINDOW_S + 1.0
    truth, _ = run(definition, [(late, dtmf_sequence("1"))], until_s=40)
    assert [key.action for key in truth.keys] == ["ignored"]
    assert truth.nodes_entered() == ["main"]


def test_agent_replies_only_after_the_caller_speaks() -> None:
    definition = ivr(Node("main", 1, None, Agent("Hi, this is Sam. How can I help?")))
    pickup_s = Agent("").pickup_s
    greeting_s = pickup_s + spoken_s("Hi, this is Sam. How can I help?")
    quiet, _ = run(definition, [(greeting_s + 1.0, dtmf_sequence("1234"))], until_s=15)
    assert quiet.agent_first_spoke == round(pickup_s * 8000)
    assert not sounds(quiet, "reply"), "keys are not speech, and silence gets no reply"

    question = synthesize("I would like to check my balance please.")
    asked_at = greeting_s + 2.0
    truth, far = run(definition, [(asked_at, question)], until_s=20)
    [reply] = sounds(truth, "reply")
    [heard] = truth.caller_speech
    loud = np.flatnonzero(np.sqrt(block_energy(block_view(question, 160, 160))) > 330)
    assert abs(heard[0] / 8000 - (asked_at + loud[0] * 0.02)) < 0.03
    assert abs(heard[1] / 8000 - (asked_at + (loud[-1] + 1) * 0.02)) < 0.03
    assert 0.7 <= (reply.start - heard[1]) / 8000 < 0.8
    assert level_db(far[reply.start : reply.start + 8000]) > -35


def test_voicemail_beeps_records_then_hangs_up() -> None:
    prompt = Sound(play=PROMPTS_DIR / "vm-intro.wav")
    truth, far = run(ivr(Node("main", 1, prompt, Voicemail(max_s=10.0))), until_s=60)
    [beep] = sounds(truth, "beep")
    assert beep.end is not None and beep.end - beep.start == round(BEEP_S * 8000)
    [recording] = truth.voicemail
    assert recording.end is not None and recording.end - recording.start == 10 * 8000
    assert truth.end is not None and truth.end.at == recording.end
    assert truth.end.reason == "voicemail full"
    tone = far[beep.start : beep.end].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(tone))
    assert abs(np.argmax(spectrum) * 8000 / len(tone) - 1000) < 5


def test_silence_and_drop_hang_up_on_time() -> None:
    dead = ivr(Node("main", 1, None, Silence(12.0)))
    truth, far = run(dead, until_s=60)
    assert truth.end is not None and truth.end.at == 12 * 8000 and truth.end.reason == "silence"
    assert level_db(far) < -60, "dead air is only line noise"

    drop = ivr(Node("main", 1, say(PROMPT), Drop(after_s=2.5)))
    truth, _ = run(drop, until_s=60)
    assert truth.end is not None and truth.end.at == 20000 and truth.end.reason == "drop"
    assert sounds(truth, "prompt")[0].cut


def test_sit_tone_then_announcement_then_hang_up() -> None:
    announcement = say("The number you have dialed is not in service.")
    truth, far = run(ivr(Node("main", 1, announcement, Tone("sit-vacant", 1.0))), until_s=30)
    assert [played.role for played in truth.sounds] == ["tone", "prompt"]
    assert truth.end is not None and truth.end.reason == "tone"
    assert [event.kind for event in detect_tones(far)] == ["sit-vacant"]


def test_ringing_before_answer_is_ringback() -> None:
    truth, far = run(ivr(Node("main", 1, say("Hello."), Hangup()), answer=Answer(after_s=7.0)))
    assert truth.answered == 7 * 8000
    assert sounds(truth, "ringback")[0].end == 7 * 8000
    assert {event.kind for event in detect_tones(far[: 7 * 8000])} == {"ringback"}


def test_busy_line_plays_busy_tone_and_ends_busy() -> None:
    truth, far = run(ivr(Node("main", 1, None, Hangup()), answer=Answer(mode="busy")))
    assert truth.answered is None
    assert truth.end is not None and truth.end.cause == "busy"
    assert "busy" in {event.kind for event in detect_tones(far)}


@pytest.mark.parametrize(
    ("now", "first_node"),
    [
        (MONDAY_9AM, "main"),
        (datetime(2024, 5, 6, 12, 59, tzinfo=UTC), "closed"),
        (datetime(2024, 5, 5, 15, 0, tzinfo=UTC), "closed"),
    ],
)
def test_opening_hours_choose_the_first_node(now: datetime, first_node: str) -> None:
    hours = Hours(tz="America/New_York", open="Mon-Fri 09:00-17:00", closed="closed")
    definition = ivr(
        Node("main", 1, say("Welcome."), Hangup()),
        Node("closed", 2, say("We are closed."), Hangup()),
        hours=hours,
    )
    truth, _ = run(definition, now=now)
    assert truth.nodes_entered() == [first_node]


def test_naive_time_is_the_ivrs_local_time() -> None:
    hours = Hours(tz="America/New_York", open="Mon-Fri 09:00-17:00", closed="closed")
    definition = ivr(
        Node("main", 1, None, Hangup()), Node("closed", 2, None, Hangup()), hours=hours
    )
    opening, _ = run(definition, now=datetime(2024, 5, 6, 9, 0))
    before, _ = run(definition, now=datetime(2024, 5, 6, 8, 59))
    assert opening.nodes_entered() == ["main"]
    assert before.nodes_entered() == ["closed"]


def test_unknown_time_zone_is_a_one_line_error() -> None:
    hours = Hours(tz="Mars/Olympus", open="Mon-Fri 09:00-17:00", closed="main")
    definition = ivr(Node("main", 1, None, Hangup()), hours=hours)
    with pytest.raises(SandboxError, match="Mars/Olympus") as raised:
        SandboxPhone(definition, 0, MONDAY_9AM)
    assert "\n" not in str(raised.value)


def test_same_seed_same_audio_other_seed_other_noise() -> None:
    definition = hold_ivr(25.0)
    _, first = run(definition, until_s=30, seed=7)
    _, again = run(definition, until_s=30, seed=7)
    _, other = run(definition, until_s=30, seed=8)
    assert np.array_equal(first, again)
    assert len(first) == len(other) and not np.array_equal(first, other)


def test_a_loop_of_silent_gotos_is_a_one_line_error() -> None:
    definition = ivr(Node("main", 1, None, Goto("other")), Node("other", 2, None, Goto("main")))
    with pytest.raises(SandboxError, match="loop"):
        run(definition)
