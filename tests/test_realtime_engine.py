"""A call in real time never waits for speech to be decoded, and hears what the virtual clock
hears: the same utterances at the same media times, the verb waiting for the text.

One short IVR, called once on each clock (about 10 s of wall time in real time, little CPU).
Its menu waits 60 s for the key, and the caller 60 s before calling silence dead air: far
longer than the text of a prompt takes to come back even on a loaded machine, so the
real-time call goes the same way as the virtual one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import Fit, RecognizerStream, SpeechEngine, Utterance
from shopper.audio.frame import TELEPHONY_RATE, AudioFrame
from shopper.audio.segments import SoundContext, Span
from shopper.carriers.options import DialOptions, SandboxOptions
from shopper.engine.session import ListenSettings
from shopper.engine.timeline import DeadAir
from shopper.scripts.runner import open_call

pytestmark = pytest.mark.slow  # a real-time call: about 20 s of wall time

IVR = """
name: Realtime check
voice: {tts: flite, voice: awb, speed: 165}
start: main
nodes:
  main:
    say: "Thank you for calling Harbor Water. For billing, press 1."
    menu: {options: {"1": billing}, timeout: 60s}
  billing: {say: "Billing. Goodbye.", hangup: true}
"""


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return MoonshineEngine()


async def hear(path: Path, engine: SpeechEngine, realtime: bool) -> tuple[list[object], bool]:
    """The utterances (text and media span) and whether frames were taken while speech
    already heard was still being decoded."""
    taken_while_decoding = False
    options = DialOptions(sandbox=SandboxOptions(realtime=realtime))
    patient = ListenSettings(dead_air_s=60.0)
    async with open_call(str(path), engine, options=options, settings=patient) as caller:
        session = caller.session

        def frame_done(_: AudioFrame) -> None:
            nonlocal taken_while_decoding
            taken_while_decoding = taken_while_decoding or session.decoding

        session.on_frame = frame_done
        await caller.expect("for billing press one", within_s=15.0)
        await caller.press("1", after_prompt=True)
        await caller.expect_hangup(within_s=15.0)
    heard = [(u.text, u.start, u.end) for u in session.transcript]
    return heard, taken_while_decoding


async def test_real_time_hears_what_the_virtual_clock_hears(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    path = tmp_path / "ivr.yaml"
    path.write_text(IVR)
    virtual, virtual_waited = await hear(path, engine, realtime=False)
    realtime, realtime_waited = await hear(path, engine, realtime=True)
    assert len(virtual) == 2, virtual
    # The menu is heard identically; the key, pressed once its text is in, may go out a
    # little later in real time, so what follows it is compared by its words only.
    assert realtime[0] == virtual[0]
    assert [text for text, _, _ in realtime] == [text for text, _, _ in virtual]
    # On the virtual clock the session waits for every text at the frame that ended the
    # speech; in real time frames keep coming while the workers decode.
    assert not virtual_waited
    assert realtime_waited


class LateStream:
    """A real recogniser whose finals reach the call `delay` samples after their end, as
    from one running far behind on a loaded machine, and which says it is decoding until
    then."""

    def __init__(self, inner: RecognizerStream, delay: int) -> None:
        self._inner = inner
        self._delay = delay
        self._held: list[Utterance] = []
        self._fed_until = 0

    def feed(self, frame: AudioFrame, sound: SoundContext | None = None) -> list[Utterance]:
        self._fed_until = frame.end
        self._held += self._inner.feed(frame, sound)
        ready = [u for u in self._held if frame.end >= u.end + self._delay]
        self._held = [u for u in self._held if u not in ready]
        return ready

    @property
    def decoding(self) -> bool:
        return bool(self._held) or self._inner.decoding

    async def settle(self) -> list[Utterance]:
        self._held += await self._inner.settle()
        return []

    async def finish(self, sound: SoundContext | None = None) -> list[Utterance]:
        rest = await self._inner.finish(sound)
        held, self._held = self._held, []
        return held + rest

    @property
    def pending(self) -> Span | None:
        return self._inner.pending

    def cut(self, speech_since: int | None) -> list[Utterance]:
        self._held += self._inner.cut(speech_since)
        return []

    async def verify(self, utterance: Utterance, candidates: Sequence[str]) -> list[Fit]:
        return await self._inner.verify(utterance, candidates)


class LateEngine:
    def __init__(self, inner: SpeechEngine, delay_s: float) -> None:
        self._inner = inner
        self._delay = round(delay_s * TELEPHONY_RATE)

    @property
    def name(self) -> str:
        return self._inner.name

    def wait_until_loaded(self) -> None:
        self._inner.wait_until_loaded()

    def stream(self, phrases: Sequence[str] | None = None) -> RecognizerStream:
        return LateStream(self._inner.stream(phrases), self._delay)


async def test_silence_before_the_text_is_in_is_not_dead_air(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    """In real time the menu's text comes 8 s of media after the menu ended, while the
    far end waits in silence for a key: the caller allows 5 s of dead air, but a silence
    it could not yet answer is not the far end's dead air. The key goes out once the text
    is in, and the call goes on as it would have."""
    path = tmp_path / "ivr.yaml"
    path.write_text(IVR)
    options = DialOptions(sandbox=SandboxOptions(realtime=True))
    late = LateEngine(engine, 8.0)
    settings = ListenSettings(dead_air_s=5.0)
    async with open_call(str(path), late, options=options, settings=settings) as caller:
        await caller.expect("for billing press one", within_s=30.0)
        silent_s = caller.session.silent_for_s
        await caller.press("1", after_prompt=True)
        await caller.expect_hangup(within_s=15.0)
    texts = [u.text for u in caller.session.transcript]
    assert len(texts) == 2, texts  # the menu, then the billing node the key led to
    assert caller.session.call.ended_by == "remote"
    assert silent_s < 5.0, "the silence counts from when the text came in"
    assert not caller.session.timeline.of_type(DeadAir)


class LoadingEngine(LateEngine):
    """A real recogniser whose model is still loading for `seconds` of wall time, as the
    speech workers' are for seconds after a shopper process starts on a busy machine."""

    def __init__(self, inner: SpeechEngine, seconds: float) -> None:
        super().__init__(inner, 0)
        self._seconds = seconds
        self.loaded_at: float | None = None

    def wait_until_loaded(self) -> None:
        time.sleep(self._seconds)
        self._inner.wait_until_loaded()
        self.loaded_at = time.monotonic()


async def test_a_call_is_dialled_once_the_speech_model_is_loaded(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    """A real-time far end does not wait for shopper's model to load: a call placed while it
    loaded heard its first menu's words only after the menu had stopped waiting for a key
    (a crawl over SIP on a loaded machine, the workers 18 s loading, mapped the menu as a
    message). The call is placed once the engine says it is loaded."""
    path = tmp_path / "ivr.yaml"
    path.write_text(IVR)
    loading = LoadingEngine(engine, 1.0)
    placed_at: list[float] = []
    options = DialOptions(sandbox=SandboxOptions(realtime=True))
    call = open_call(
        str(path), loading, options=options, on_placed=lambda _: placed_at.append(time.monotonic())
    )
    async with call:
        pass
    assert loading.loaded_at is not None, "the call was placed without asking"
    assert placed_at and placed_at[0] >= loading.loaded_at


class SlowScoringStream(LateStream):
    """A real recogniser whose scores take `seconds` of wall time, as behind other calls'
    readings on busy speech workers."""

    def __init__(self, inner: RecognizerStream, seconds: float) -> None:
        super().__init__(inner, 0)
        self._seconds = seconds

    async def verify(self, utterance: Utterance, candidates: Sequence[str]) -> list[Fit]:
        await asyncio.sleep(self._seconds)
        return await super().verify(utterance, candidates)


class SlowScoringEngine(LateEngine):
    def stream(self, phrases: Sequence[str] | None = None) -> RecognizerStream:
        return SlowScoringStream(self._inner.stream(phrases), 1.0)


async def test_the_call_goes_on_taking_frames_while_a_score_is_computed(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    """A score that takes a second of wall time: in real time the far end goes on for that
    second, and so must the session, or its frames wait in the carrier's queue (at forty
    calls this was the frame lag of over a second)."""
    path = tmp_path / "ivr.yaml"
    path.write_text(IVR)
    options = DialOptions(sandbox=SandboxOptions(realtime=True))
    patient = ListenSettings(dead_air_s=60.0)
    slow = SlowScoringEngine(engine, 0.0)
    async with open_call(str(path), slow, options=options, settings=patient) as caller:
        await caller.expect("for billing press one", within_s=15.0)
        session = caller.session
        menu = session.transcript[0]
        before = session.now
        fits = await session.verify(menu, [menu.text])
        taken_s = (session.now - before) / TELEPHONY_RATE
        await caller.press("1", after_prompt=True)
        await caller.expect_hangup(within_s=15.0)
    assert len(fits) == 1 and abs(fits[0].margin) < 1.0, fits  # its own reading fits
    assert taken_s >= 0.8, f"{taken_s:.2f} s of frames taken during a 1 s score"
