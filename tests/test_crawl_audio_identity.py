"""Prompts the crawl heard are identified by their audio where their words differ too much.

Real calls to the shipped Northwind IVR (scripts/bench/ivr.yaml): a welcome, then the main
menu, chained without a pause for a key. The first call listens; the second presses 1 at the
first pause, which falls in the welcome and is ignored, so it hears the end of the welcome and
the whole main menu again: the same recording as the first call's, transcribed without its
first three sentences ("Please listen carefully..."), 0.62 alike in words. Which sandbox sounds
played when is read from the calls' sandbox-truth.json, the ground truth the crawler never sees.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shopper.audio.files import read_channel
from shopper.audio.fingerprint import HOP_SAMPLES, envelope
from shopper.audio.frame import TELEPHONY_RATE
from shopper.crawl.audio_identity import (
    WORTH_HEARING_SIMILARITY,
    same_recording,
    span_envelope,
)
from shopper.crawl.explorer import Attempt, Budgets, CrawlSettings, crawl
from shopper.crawl.identity import SAME_PROMPT_SIMILARITY, similarity
from shopper.crawl.map import CrawlMap, Evidence
from shopper.crawl.pathcall import PathResult

pytestmark = pytest.mark.slow

NORTHWIND = Path(__file__).parent.parent / "scripts" / "bench" / "ivr.yaml"


@dataclass(frozen=True)
class Crawled:
    out: Path
    map: CrawlMap
    results: list[PathResult]


@pytest.fixture(scope="module")
def northwind(tmp_path_factory: pytest.TempPathFactory) -> Crawled:
    out = tmp_path_factory.mktemp("northwind")
    results: list[PathResult] = []

    def heard(_attempt: Attempt, result: PathResult, _new: list[str]) -> None:
        results.append(result)

    settings = CrawlSettings(str(NORTHWIND), out, Budgets(max_calls=2), lines=1, engine="moonshine")
    return Crawled(out, crawl(settings, heard), results)


def sounds(out: Path, result: PathResult) -> list[dict[str, Any]]:
    truth = json.loads((out / result.folder / "sandbox-truth.json").read_text())
    played: list[dict[str, Any]] = truth["sounds"]
    return played


def sound_of(out: Path, result: PathResult, node: str) -> dict[str, Any]:
    return next(s for s in sounds(out, result) if s["node"] == node and s["role"] == "prompt")


def heard_again(crawled: Crawled) -> Evidence:
    """Where the second call heard the main menu again (after its ignored key)."""
    second = crawled.results[1]
    again = second.prompts[0]
    return Evidence(second.call_id, again.start_s, again.end_s, f"{second.folder}/recording.wav")


def test_the_main_menu_heard_again_is_the_same_recording_by_its_audio(northwind: Crawled) -> None:
    first, second = northwind.results
    main = northwind.map.nodes[0]
    assert [node.id for node in northwind.map.nodes if node.prompt] == [main.id]
    assert main.evidence[0].call_id == first.call_id
    again = similarity(main.prompt, second.prompts[0].text)
    assert WORTH_HEARING_SIMILARITY <= again < SAME_PROMPT_SIMILARITY, "words alone: a new node"
    assert same_recording(northwind.out, main.evidence[0], heard_again(northwind))
    span = heard_again(northwind)
    menu = sound_of(northwind.out, second, "main")
    assert span.start_s < menu["start_s"] < menu["end_s"] <= span.end_s + 0.1
    assert [
        key["action"]
        for key in json.loads((northwind.out / second.folder / "sandbox-truth.json").read_text())[
            "keys"
        ]
    ] == ["ignored"], "the key fell in the welcome: the menu played again"
    assert second.key_ignored, "the crawl tries the key again after the prompt"


def test_two_calls_spans_of_one_recording_are_the_same(northwind: Crawled) -> None:
    """Different leading audio: the whole welcome on one call, its last sentence on the other."""
    first, second = northwind.map.nodes[0].evidence[0], heard_again(northwind)
    assert second.start_s - first.start_s > 8
    assert same_recording(northwind.out, first, second)
    assert same_recording(northwind.out, second, first)


def test_two_prompts_of_one_voice_and_length_are_not(northwind: Crawled) -> None:
    """The welcome (13.6 s) and the main menu (13.0 s): one flite voice, on two calls."""
    first, second = northwind.results
    welcome, menu = (
        sound_of(northwind.out, first, "welcome"),
        sound_of(northwind.out, second, "main"),
    )
    assert abs((welcome["end_s"] - welcome["start_s"]) - (menu["end_s"] - menu["start_s"])) < 1
    one = Evidence(
        first.call_id, welcome["start_s"], welcome["end_s"], f"{first.folder}/recording.wav"
    )
    other = Evidence(
        second.call_id, menu["start_s"], menu["end_s"], f"{second.folder}/recording.wav"
    )
    assert not same_recording(northwind.out, one, other)
    menu_first = sound_of(northwind.out, first, "main")
    same_menu = Evidence(
        first.call_id, menu_first["start_s"], menu_first["end_s"], f"{first.folder}/recording.wav"
    )
    assert same_recording(northwind.out, same_menu, other), "the control: the menu is the menu"


def test_pieces_of_one_utterance_are_not_judged_by_their_shared_span(northwind: Crawled) -> None:
    """Prompts cut from one utterance share its span: the audio cannot tell them apart."""
    span = northwind.map.nodes[0].evidence[0]
    piece = Evidence(span.call_id, span.start_s + 1.0, span.end_s, span.recording)
    assert not same_recording(northwind.out, span, piece)


def test_only_the_phone_systems_side_is_compared(northwind: Crawled) -> None:
    span = heard_again(northwind)
    recording = northwind.out / span.recording
    far = read_channel(recording, 0)[
        round(span.start_s * TELEPHONY_RATE) : round(span.end_s * TELEPHONY_RATE)
    ]
    assert np.array_equal(span_envelope(northwind.out, span).bands, envelope(far).bands)


def test_a_span_is_compared_from_the_last_key_pressed_in_it(northwind: Crawled) -> None:
    """What played before the key is the prompt the key interrupted: the tester's channel
    (right) says where the key was."""
    _, second = northwind.results
    truth = json.loads((northwind.out / second.folder / "sandbox-truth.json").read_text())
    key = truth["keys"][0]
    recording = northwind.out / second.folder / "recording.wav"
    tester = read_channel(recording, 1)
    pressed = tester[round(key["start_s"] * TELEPHONY_RATE) : round(key["end_s"] * TELEPHONY_RATE)]
    assert np.abs(pressed).max() > 1000, "the key's tone is in the tester's channel"
    over_the_key = Evidence(
        second.call_id, key["start_s"] - 4.0, 30.0, f"{second.folder}/recording.wav"
    )
    compared_s = span_envelope(northwind.out, over_the_key).frames * HOP_SAMPLES / TELEPHONY_RATE
    assert compared_s == pytest.approx(30.0 - key["end_s"], abs=0.06)
