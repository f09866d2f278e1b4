"""A call in real time never waits for speech to be decoded, and hears what the virtual clock
hears: the same utterances at the same media times, the verb waiting for the text.

One short IVR, called once on each clock (about 10 s of wall time in real time, little CPU).
Its menu waits 60 s for the key, and the caller 60 s before calling silence dead air: far
longer than the text of a prompt takes to come back even on a loaded machine, so the
real-time call goes the same way as the virtual one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine
from shopper.audio.frame import AudioFrame
from shopper.carriers.options import DialOptions, SandboxOptions
from shopper.engine.session import ListenSettings
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
