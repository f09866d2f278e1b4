"""`expect:` decided by text, then letters, then the audio, on real calls with real speech.

The phone system below speaks with espeak-ng, the worst voice for the recogniser: it hears
the company written "Oakbrook" on its website as "Oak Brook" and "billing" as "building". A
script written the way a QA engineer writes it must pass on that, and wrong expectations (a
wrong key digit, a sound-alike company, a department the menu does not offer) must still
fail. Each case checks first that the transcript alone does not decide it, so the test shows
the letters or the audio doing the deciding.
"""

import asyncio
from pathlib import Path

import pytest

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.asr.types import SpeechEngine
from shopper.bench.expect_bench import audio_agrees, heard
from shopper.engine.confirm import Confirmer
from shopper.results.writer import write_call
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script
from shopper.text.decide import ACCEPT_MARGIN_NATS, CONTRAST_NATS, Phrase, find_letters
from shopper.text.match import contains
from shopper.tts import synthesize

pytestmark = pytest.mark.slow

GREETING = "Thank you for calling Oakbrook Energy. For billing, press 1. For outages, press 2."
IVR = f"""\
name: Oakbrook Energy
voice: {{tts: espeak-ng, voice: en-us, speed: 165}}
start: main
nodes:
  main:
    say: "{GREETING}"
    menu: {{options: {{"1": billing, "2": outages}}, timeout: 8s}}
  billing: {{say: "Billing. Goodbye.", hangup: true}}
  outages: {{say: "Outages. Goodbye.", hangup: true}}
"""
EXPECT = """\
name: {name}
target: ivr.yaml
steps:
  - expect: "{phrase}"
    within: 15s
  - hangup: true
"""
CHOOSE = """\
name: choose
target: ivr.yaml
steps:
  - choose:
      - expect: "thank you for calling Oakwood Energy"
        then: [{hangup: true}]
      - expect: "thank you for calling Oakbrook Energy"
        then: [{hangup: true}]
    within: 15s
"""


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return MoonshineEngine()


def _run(folder: Path, engine: SpeechEngine, name: str, script: str) -> dict[str, object]:
    (folder / "ivr.yaml").write_text(IVR)
    path = folder / f"{name}.yaml"
    path.write_text(script)
    record = asyncio.run(run_script(load_script(path), engine))
    write_call(record, folder / name)
    return record.result


def _expect(folder: Path, engine: SpeechEngine, name: str, phrase: str) -> dict[str, object]:
    result = _run(folder, engine, name, EXPECT.format(name=name, phrase=phrase))
    heard_text = " ".join(str(u["text"]) for u in result["transcript"])  # type: ignore[attr-defined]
    assert not contains(phrase).match(heard_text).matched, "the transcript alone decides this"
    return result


def _first_step(result: dict[str, object]) -> dict[str, object]:
    steps = result["steps"]
    assert isinstance(steps, list)
    step = steps[0]
    assert isinstance(step, dict)
    return step


def test_a_company_name_split_in_two_passes_on_its_letters(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    result = _expect(tmp_path, engine, "split", "thank you for calling Oakbrook Energy")
    assert result["outcome"] == "passed", result["failure"]
    decision = _first_step(result)["decision"]
    assert decision == {
        "method": "letters",
        "score": 1.0,
        "margin": None,
        "contrast": None,
        "heard": "Thank you for calling Oak Brook Energy",
    }
    report = (tmp_path / "split" / "report.html").read_text()
    assert "<td>letters</td>" in report


def test_a_garbled_phrase_passes_on_the_audio(tmp_path: Path, engine: SpeechEngine) -> None:
    result = _expect(tmp_path, engine, "garbled", "for billing press 1")
    assert result["outcome"] == "passed", result["failure"]
    decision = _first_step(result)["decision"]
    assert isinstance(decision, dict)
    assert decision["method"] == "audio"
    assert decision["margin"] >= ACCEPT_MARGIN_NATS
    events = result["events"]
    assert isinstance(events, list)
    matched = [e for e in events if e["type"] == "expect-matched"]
    assert [e["method"] for e in matched] == ["audio"]
    report = (tmp_path / "garbled" / "report.html").read_text()
    assert f"audio, {decision['margin']:+.1f} nats" in report


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("wrong-digit", "for billing press 2"),
        ("wrong-company", "thank you for calling Oakwood Energy"),
        ("other-department", "for sales press 1"),
    ],
)
def test_wrong_expectations_still_fail(
    tmp_path: Path, engine: SpeechEngine, name: str, phrase: str
) -> None:
    result = _expect(tmp_path, engine, name, phrase)
    assert result["outcome"] == "failed"
    failure = result["failure"]
    assert isinstance(failure, dict)
    assert failure["kind"] == "expectation-mismatch"
    assert "audio check" in failure["message"], "the audio was asked and said no"
    assert _first_step(result)["decision"] is None


def test_choose_takes_the_branch_the_letters_confirm(tmp_path: Path, engine: SpeechEngine) -> None:
    result = _run(tmp_path, engine, "choose", CHOOSE)
    assert result["outcome"] == "passed", result["failure"]
    step = _first_step(result)
    assert str(step["detail"]).startswith('took branch "thank you for calling Oakbrook Energy";')
    decision = step["decision"]
    assert isinstance(decision, dict) and decision["method"] == "letters"


async def test_what_letters_alone_accept_the_audio_accepts_too(engine: SpeechEngine) -> None:
    stream, finals = await heard(engine, synthesize(GREETING, "en-us", 165, "espeak-ng"))
    phrase = "thank you for calling Oakbrook Energy"
    exact = [f for u in finals if (f := find_letters(Phrase(phrase, "contains", ()), u.text))]
    assert any(f.exact for f in exact), "the recogniser no longer splits the name: pick another"
    assert await audio_agrees(stream, finals, phrase)


MENU = (
    "Thank you for calling Pinecrest Airlines. "
    "For technical support, press 3. For the pharmacy, press 7."
)


async def test_a_key_the_audio_names_over_every_other_passes_by_contrast(
    engine: SpeechEngine,
) -> None:
    """flite awb's "press 3" reads "press free": the phrase misses the margin but its key
    beats the eleven others; a wrong key, another department and a sound-alike company still
    fail on the same audio."""
    stream, finals = await heard(engine, synthesize(MENU, "awb", 165, "flite"))
    heard_text = " ".join(u.text for u in finals)
    right = "for technical support press three"
    assert not contains(right).match(heard_text).matched, "the transcript alone decides this"
    found = await Confirmer(stream, [contains(right)]).confirm(finals)
    assert found is not None, heard_text
    match = found[1]
    assert match.method == "contrast" and match.margin is not None and match.contrast is not None
    assert match.margin < ACCEPT_MARGIN_NATS and match.contrast >= CONTRAST_NATS
    for wrong in (
        "for technical support press four",
        "for the pharmacy press three",
        "thank you for calling Pinecroft Airlines",
    ):
        assert await Confirmer(stream, [contains(wrong)]).confirm(finals) is None, wrong


CLOSED = """\
name: Oakbrook Energy closed
voice: {tts: flite, voice: awb, speed: 165}
start: main
nodes:
  main: {say: "Our offices are closed for the holiday. Goodbye.", hangup: true}
"""


def test_a_far_end_that_hangs_up_after_saying_something_else_says_what(
    tmp_path: Path, engine: SpeechEngine
) -> None:
    """The step fails as the call ended (dropped), and its message says what was said before
    the hang-up and that it was not the phrase: a QA engineer reads the reason in one line."""
    (tmp_path / "ivr.yaml").write_text(CLOSED)
    path = tmp_path / "closed.yaml"
    path.write_text(EXPECT.format(name="closed", phrase="for billing press 1"))
    result = asyncio.run(run_script(load_script(path), engine)).result
    failure = result["failure"]
    assert isinstance(failure, dict)
    assert failure["kind"] == "dropped"
    message = str(failure["message"])
    assert message.startswith("the far end hung up at "), message
    said = [str(u["text"]) for u in result["transcript"]]  # type: ignore[attr-defined]
    assert f"after saying {' '.join(said)!r}, not the expected prompt" in message, message


async def test_a_web_address_said_with_dot_passes_and_a_wrong_ending_fails(
    engine: SpeechEngine,
) -> None:
    """flite awb reads "civiclink dot gov" as "civeclink.gov": the script's spoken form is
    written as the recogniser writes an address and passes on the audio; the same address
    with another ending does not."""
    spoken = "You can renew your license online at civiclink dot gov. Goodbye."
    stream, finals = await heard(engine, synthesize(spoken, "awb", 165, "flite"))
    heard_text = " ".join(u.text for u in finals)
    right = "civiclink dot gov"
    assert not contains(right).match(heard_text).matched, "the transcript alone decides this"
    found = await Confirmer(stream, [contains(right)]).confirm(finals)
    assert found is not None and found[1].method == "audio", heard_text
    for wrong in ("civiclink dot org", "civiclink.com"):
        assert await Confirmer(stream, [contains(wrong)]).confirm(finals) is None, wrong
