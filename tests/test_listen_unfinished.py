"""A listening step decides only on everything said up to the decision, recognised.

A recogniser returns an utterance a while after it ends (Moonshine: once the pause after it
has lasted its merge gap), and one that runs behind a loaded machine later still. Deciding
"the prompt is over, the words were not said" before the last sentence is recognised fails
scripts whose words are in that sentence; deciding at the time limit on a long utterance
nobody has recognised yet says "nothing was said" about speech heard for seconds.
"""

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import Fit, RecognizerStream, SpeechEngine, Utterance
from shopper.audio.frame import TELEPHONY_RATE, AudioFrame
from shopper.audio.segments import SoundContext, Span
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

pytestmark = pytest.mark.slow

MENU = (
    "Welcome to the Riverside Library. For opening times, press 1. For children's books, press 2."
)
MENU_VOICE = ("flite", "awb")
"""A voice whose sentences the recogniser returns one by one."""
RUN_ON = (
    "You have reached the Riverside Library if you are calling about opening hours press 1 "
    "if you would like to renew a book press 2 if you have lost your library card press 3"
)
RUN_ON_VOICE = ("espeak-ng", "en-us")
"""A voice that pauses only at punctuation: the prompt is one long utterance."""
IVR = """\
name: Riverside Library
voice: {{tts: {tts}, voice: {voice}, speed: 165}}
start: main
nodes:
  main:
    say: "{prompt}"
    menu: {{options: {{"1": hours, "2": renew}}, timeout: 10s}}
  hours: {{say: "Opening hours. Goodbye.", hangup: true}}
  renew: {{say: "Renewals. Goodbye.", hangup: true}}
"""
EXPECT = """\
name: {name}
target: ivr.yaml
steps:
  - expect: "{phrase}"
    within: {within}
  - hangup: true
"""
HELD_BACK_S = 3.0
"""Longer than the quiet that ends a prompt (1.8 s): with finals this late, a step that
decided on the quiet alone would never see the last sentence."""


class HeldBackStream:
    """A real recogniser whose finals reach the call `delay` samples after their end, as
    from one running behind; until then they are its pending speech."""

    def __init__(self, inner: RecognizerStream, delay: int) -> None:
        self._inner = inner
        self._delay = delay
        self._held: list[Utterance] = []
        self._releasing = False

    def feed(self, frame: AudioFrame, sound: SoundContext | None = None) -> list[Utterance]:
        self._held += self._inner.feed(frame, sound)
        ready = [u for u in self._held if frame.end >= u.end + self._delay]
        self._held = [u for u in self._held if u not in ready]
        return ready

    @property
    def decoding(self) -> bool:
        return self._inner.decoding

    async def settle(self) -> list[Utterance]:
        """Decoded finals are held back like any other; those of a cut are returned at once
        (a cut is the step asking for what was said by its limit)."""
        decoded = await self._inner.settle()
        if not self._releasing:
            self._held += decoded
            return []
        self._releasing = False
        held, self._held = self._held, []
        return held + decoded

    async def finish(self, sound: SoundContext | None = None) -> list[Utterance]:
        rest = await self._inner.finish(sound)
        held, self._held = self._held, []
        return held + rest

    @property
    def pending(self) -> Span | None:
        if self._held:
            return Span(self._held[0].start, self._held[-1].end)
        return self._inner.pending

    def cut(self, speech_since: int | None) -> list[Utterance]:
        held, self._held = self._held, []
        ready = self._inner.cut(speech_since)
        self._releasing = self._inner.decoding
        return held + ready

    async def verify(self, utterance: Utterance, candidates: Sequence[str]) -> list[Fit]:
        return await self._inner.verify(utterance, candidates)


class HeldBackEngine:
    def __init__(self, inner: SpeechEngine, delay_s: float) -> None:
        self._inner = inner
        self._delay = round(delay_s * TELEPHONY_RATE)

    @property
    def name(self) -> str:
        return self._inner.name

    def wait_until_loaded(self) -> None:
        self._inner.wait_until_loaded()

    def stream(self, phrases: Sequence[str] | None = None) -> RecognizerStream:
        return HeldBackStream(self._inner.stream(phrases), self._delay)


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return MoonshineEngine()


def _run(
    folder: Path,
    engine: SpeechEngine,
    speaker: tuple[str, str],
    prompt: str,
    phrase: str,
    within: str,
) -> dict[str, object]:
    tts, voice = speaker
    (folder / "ivr.yaml").write_text(IVR.format(prompt=prompt, tts=tts, voice=voice))
    path = folder / "script.yaml"
    path.write_text(EXPECT.format(name="unfinished", phrase=phrase, within=within))
    return asyncio.run(run_script(load_script(path), engine)).result


def _failure_kind(result: dict[str, object]) -> str | None:
    failure = result["failure"]
    return failure["kind"] if isinstance(failure, dict) else None


def test_the_last_sentence_is_heard_however_late_it_is_recognised(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    late = HeldBackEngine(engine, HELD_BACK_S)
    result = _run(tmp_path, late, MENU_VOICE, MENU, "children's books", "20s")
    assert result["outcome"] == "passed", result["failure"]


def test_a_wrong_phrase_still_fails_once_the_last_sentence_is_recognised(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    late = HeldBackEngine(engine, HELD_BACK_S)
    result = _run(tmp_path, late, MENU_VOICE, MENU, "audio books", "20s")
    assert _failure_kind(result) == "expectation-mismatch"
    failure = result["failure"]
    assert isinstance(failure, dict)
    assert "children" in failure["message"], "failed only after hearing the last sentence"


def test_at_the_time_limit_what_was_said_so_far_is_recognised(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    result = _run(
        tmp_path, engine, RUN_ON_VOICE, RUN_ON, "you have reached the Riverside Library", "6s"
    )
    assert result["outcome"] == "passed", result["failure"]
    transcript = result["transcript"]
    assert isinstance(transcript, list)
    assert transcript[0]["end_s"] == pytest.approx(6.0, abs=0.1), "cut at the limit"


def test_at_the_time_limit_a_wrong_phrase_is_a_mismatch_not_silence(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    result = _run(
        tmp_path, engine, RUN_ON_VOICE, RUN_ON, "you have reached the Lakeside Clinic", "6s"
    )
    assert _failure_kind(result) == "expectation-mismatch"


HOLD_THEN_BOX = """\
name: Harbor Dental
voice: {tts: flite, voice: awb, speed: 165}
start: welcome
nodes:
  welcome: {say: "Thank you for calling Harbor Dental. Please hold.", goto: queue}
  queue: {queue: {hold: 14s, music: default, then: box}}
  box:
    say: "Nobody is free to take your call. Please record your message after the tone."
    voicemail: {max: 30s}
"""
AFTER_HOLD = """\
name: after hold
target: ivr.yaml
steps:
  - hold: {max: 1m}
  - expect: "{phrase}"
    within: 20s
  - hangup: true
"""


@pytest.mark.parametrize(
    ("phrase", "outcome"), [("record your message", "passed"), ("press one", "failed")]
)
def test_after_a_hold_the_next_step_hears_from_where_the_hold_ended(
    tmp_path: Path, engine: SpeechEngine, phrase: str, outcome: str
) -> None:
    (tmp_path / "ivr.yaml").write_text(HOLD_THEN_BOX)
    path = tmp_path / "script.yaml"
    path.write_text(AFTER_HOLD.replace("{phrase}", phrase))
    result = asyncio.run(run_script(load_script(path), engine)).result
    assert result["outcome"] == outcome, result["failure"]
    steps = result["steps"]
    assert isinstance(steps, list)
    hold_end = [e for e in result["events"] if e["type"] == "hold-end"]  # type: ignore[attr-defined]
    assert hold_end and hold_end[0]["t_s"] < steps[1]["start_s"], "heard before the step began"


TWO_STEPS = """\
name: two steps
target: ivr.yaml
steps:
  - expect: "{first}"
    within: 20s
  - expect: "{second}"
    within: 20s
  - hangup: true
"""


@pytest.mark.parametrize(
    ("second", "outcome"),
    [("lost your library card", "passed"), ("you have reached the Riverside Library", "failed")],
)
def test_the_next_step_hears_the_rest_of_the_utterance_and_only_the_rest(
    tmp_path: Path, engine: SpeechEngine, second: str, outcome: str
) -> None:
    tts, voice = RUN_ON_VOICE
    (tmp_path / "ivr.yaml").write_text(IVR.format(prompt=RUN_ON, tts=tts, voice=voice))
    path = tmp_path / "script.yaml"
    path.write_text(TWO_STEPS.format(first="you have reached the Riverside Library", second=second))
    result = asyncio.run(run_script(load_script(path), engine)).result
    transcript = result["transcript"]
    assert isinstance(transcript, list) and len(transcript) == 1, "one utterance says it all"
    assert result["outcome"] == outcome, result["failure"]
