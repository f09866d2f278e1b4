"""A menu waits for a key only once all that was said before the quiet after it is
recognised: the crawl never takes a menu as waiting from the sound alone while the text of
its last sentence is still to come (before, "For anything else, press 2" was lost here, the
menu judged waiting by 1.8 s of quiet after it while its text was not in yet; CareBridge awb
lost "To speak with a nurse, press 3" so, the sound runs quiet inside that sentence).

The recogniser here is the real one, its finals reaching the call 3 s of media after their
speech ended (as from a recogniser running behind): more than the quiet that ends a prompt.
On the virtual clock and in real time (about 15 s of wall time). The IVR is written here by
the test author; the crawler never reads it.
"""

from pathlib import Path

import pytest
from test_realtime_engine import LateEngine

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine
from shopper.audio.frame import TELEPHONY_RATE
from shopper.carriers.options import DialOptions, SandboxOptions
from shopper.crawl.options import parse_options
from shopper.crawl.pathcall import MenuHeard, PathJob, _observe
from shopper.engine.session import ListenSettings
from shopper.scripts.runner import open_call

pytestmark = pytest.mark.slow

IVR = """
name: Harbor Water
voice: {tts: flite, voice: awb, speed: 165}
start: main
nodes:
  main:
    say: "Thank you for calling Harbor Water. For billing, press 1. For anything else, press 2."
    menu: {options: {"1": done, "2": done}, timeout: 60s}
  done: {say: "Goodbye.", hangup: true}
"""


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return MoonshineEngine()


@pytest.mark.parametrize("realtime", [False, True], ids=["virtual-clock", "real-time"])
async def test_a_menu_waits_once_its_last_sentence_is_recognised(
    tmp_path: Path, engine: SpeechEngine, realtime: bool
) -> None:
    path = tmp_path / "ivr.yaml"
    path.write_text(IVR)
    options = DialOptions(sandbox=SandboxOptions(realtime=realtime))
    late = LateEngine(engine, 3.0)
    job = PathJob(target="", route=(), known=(), out_dir=tmp_path)
    async with open_call(str(path), late, options=options, settings=ListenSettings()) as caller:
        outcome = await _observe(caller, job, MenuHeard(0, 0))
        session = caller.session
        last_said = session.transcript[-1].end
        decided = session.now
    assert outcome.ending == "menu", outcome
    menu = outcome.prompts[-1].text
    assert "else" in menu.lower(), menu
    assert {option.key for option in parse_options(menu)} >= {"2"}, menu
    # Decided in media time: no sooner than the last sentence's text came in.
    assert (decided - last_said) / TELEPHONY_RATE >= 3.0
