"""The crawl's judgements on the audio of prompts heard on two calls.

Two spans that end with the same recording, and where it begins in each: a menu is first
heard after its greeting; later the phone system plays a message and comes back to the menu
alone. The recogniser hears the menu in other words each time (most of all in
a voice it reads badly), so only the audio can say where the menu begins. Real speech: the
prompts are rendered by espeak-ng and sent through a μ-law line with noise, each call's
recording written as shopper writes it (far end left, tester right).

And a key the menu ignored, judged by its audio however the crawl's calls finished: a menu
found to ignore keys on one call does not make a key pressed into its prompt on another call,
planned before that was known, count as taken.
"""

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from shopper.audio.files import write_wav
from shopper.audio.frame import TELEPHONY_RATE, Samples, silence
from shopper.audio.g711 import ulaw_round_trip
from shopper.crawl.audio_identity import shared_ending
from shopper.crawl.explorer import Attempt, CrawlSettings, _apart, _Crawl, _key_ignored
from shopper.crawl.identity import word_at
from shopper.crawl.map import CrawlMap, Evidence, MapNode, Option
from shopper.crawl.pathcall import HeardPrompt, PathResult, Press
from shopper.tts import synthesize

GREETING = "You have reached the Riverside Department of Motor Vehicles."
MENU = (
    "For driver licenses, press 1. For vehicle registration, press 2. "
    "For all other matters, please stay on the line."
)
MESSAGE = "To replace a lost license, visit any service center with two forms of identification."
OTHER_MENU = (
    "For new accounts, press 1. For an existing account, press 2. "
    "For all other matters, please stay on the line."
)
PAUSE_S = 0.4


def spoken(text: str) -> Samples:
    return synthesize(text, "en-us", speed=165)


@dataclass(frozen=True)
class Played:
    """When a prompt's speech began and ended on the call (seconds)."""

    start_s: float
    end_s: float

    def holds(self, at_s: float) -> bool:
        """Whether `at_s` lies in the quiet before this prompt or at its first words: where
        the shared stretch of two spans may begin (quiet on the line agrees too)."""
        return self.start_s - PAUSE_S - 0.5 <= at_s <= self.start_s + 0.3


def speech_of(samples: Samples) -> tuple[float, float]:
    """Where the synthesised speech begins and ends inside its own leading and trailing quiet."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 300)
    return loud[0] / TELEPHONY_RATE, loud[-1] / TELEPHONY_RATE


def call(out: Path, name: str, *prompts: str, seed: int) -> tuple[Evidence, list[Played]]:
    """A call's recording: ringing-free, the prompts one after another with a short pause;
    the span they fill and when each prompt's speech was played."""
    rng = np.random.default_rng(seed)
    parts, starts = [silence(1.0)], []
    for text in prompts:
        at_s = sum(len(part) for part in parts) / TELEPHONY_RATE
        speech = spoken(text)
        begins, ends = speech_of(speech)
        starts.append(Played(at_s + begins, at_s + ends))
        parts += [speech, silence(PAUSE_S)]
    far = np.concatenate(parts).astype(np.float64) + rng.normal(0.0, 8.0, sum(map(len, parts)))
    far_end = ulaw_round_trip(np.clip(far, -32768, 32767).astype(np.int16))
    stereo = np.stack([far_end, np.zeros_like(far_end)], axis=1)
    write_wav(out / name / "recording.wav", stereo)
    end_s = starts[-1].end_s
    return Evidence(name, starts[0].start_s, end_s, f"{name}/recording.wav"), starts


def test_a_menu_heard_after_a_greeting_and_after_a_message_begins_where_it_was_played(
    tmp_path: Path,
) -> None:
    first, first_starts = call(tmp_path, "first", GREETING, MENU, seed=1)
    later, later_starts = call(tmp_path, "later", MESSAGE, MENU, seed=2)
    ending = shared_ending(tmp_path, first, later)
    assert ending is not None
    assert first_starts[1].holds(ending.first_from_s), (ending, first_starts)
    assert later_starts[1].holds(ending.heard_from_s), (ending, later_starts)
    assert ending.first_head_s > 1.0 and ending.heard_head_s > 1.0


def test_the_menu_heard_alone_lies_at_the_end_of_its_first_hearing(tmp_path: Path) -> None:
    first, first_starts = call(tmp_path, "first", GREETING, MENU, seed=3)
    alone, _ = call(tmp_path, "alone", MENU, seed=4)
    ending = shared_ending(tmp_path, first, alone)
    assert ending is not None
    assert first_starts[1].holds(ending.first_from_s), (ending, first_starts)
    assert ending.heard_head_s < 0.5


def test_two_menus_that_end_with_the_same_sentence_do_not_share_an_ending(
    tmp_path: Path,
) -> None:
    menu, _ = call(tmp_path, "menu", MENU, seed=5)
    other, _ = call(tmp_path, "other", OTHER_MENU, seed=6)
    assert shared_ending(tmp_path, menu, other) is None


def test_a_menu_followed_by_more_speech_does_not_end_with_it(tmp_path: Path) -> None:
    menu, _ = call(tmp_path, "menu", MENU, seed=7)
    then_more, _ = call(tmp_path, "more", MENU, MESSAGE, seed=8)
    assert shared_ending(tmp_path, menu, then_more) is None


def test_a_time_is_the_words_said_before_it_moved_to_a_sentence_start() -> None:
    text = "You have reached nothing with Link. For driver licensing press one."
    assert word_at(text, 0.0, 6.0, 2.9) == 6
    assert word_at(text, 0.0, 6.0, 2.0) == 6
    assert word_at(text, 0.0, 6.0, 0.0) == 0
    assert word_at(text, 0.0, 6.0, 6.0) == 10
    assert word_at("press one press two press three and four and five", 0.0, 5.0, 2.5) == 5


def test_the_crawl_cuts_a_message_and_a_greeting_off_a_menu_the_words_cannot_place(
    tmp_path: Path,
) -> None:
    """How the recogniser read espeak-ng's CivicLink in a crawl: the welcome and main menu
    on the first call, then, after a key, a message and the main menu again in other words.
    By words the second hearing is a new prompt that offers keys; by audio it is a message,
    then the menu, and the first hearing was a greeting, then the menu."""
    first, first_played = call(tmp_path, "first", GREETING, MENU, seed=9)
    later, later_played = call(tmp_path, "later", MESSAGE, MENU, seed=10)
    menu = MapNode(
        "main",
        "You have reached the Riverside Department of Mogar Miracle. For Rymer licenses, "
        "pressed one. For Miracle Registration, press two. Or all other matters, please stay.",
        "menu",
        [],
        [Option("1", "licenses", "licenses")],
        evidence=[first],
    )
    state = _Crawl(CrawlSettings("ivr.yaml", tmp_path), CrawlMap("ivr.yaml", "now", [menu]))
    state.routes["main"] = ()
    heard = HeardPrompt(
        "To replace her lost license, we'll identify with Riverside Service Center with two "
        "form the magnification. Primer licenses press one or vehicle registration press two "
        "for all other matters please stay on the line",
        later.start_s,
        later.end_s,
        None,
    )
    result = PathResult("later", "moonshine", "later", later.end_s, "hangup", prompts=[heard])
    kept, _ = _apart(state, result)
    assert [prompt.known for prompt in kept] == [None, "main"], kept
    assert kept[0].text.endswith("magnification."), kept[0].text
    assert abs(kept[1].start_s - later_played[1].start_s) < 1.0, kept
    greeting, split = state.map.nodes
    assert greeting.kind == "message" and greeting.options == [Option("", None, "main")]
    assert greeting.prompt.endswith("Mogar Miracle."), greeting.prompt
    assert split is menu and menu.prompt.startswith("For Rymer licenses"), menu.prompt
    assert abs(menu.evidence[0].start_s - first_played[1].start_s) < 1.0, menu.evidence


def test_a_key_pressed_into_a_menu_already_known_to_ignore_keys_is_ignored_too(
    tmp_path: Path,
) -> None:
    """The order calls finish in decides which attempt finds first that a menu ignores keys
    during its prompt; another attempt at it, dispatched before, pressed its key into the
    prompt as well and heard the prompt play on. Its key was ignored too, and it is tried
    again after the prompt, whichever came back first."""
    first, _ = call(tmp_path, "first", MENU, seed=11)
    later, played = call(tmp_path, "later", MENU, seed=12)
    menu = MapNode("main", "For driver licenses, press one.", "menu", [], evidence=[first])
    state = _Crawl(CrawlSettings("ivr.yaml", tmp_path), CrawlMap("ivr.yaml", "now", [menu]))
    state.late.add(menu.id)
    key_s = played[0].start_s + 2.0
    heard = HeardPrompt("vehicle registration press two", key_s, later.end_s, None)
    result = PathResult(
        "later",
        "moonshine",
        "later",
        later.end_s,
        "menu",
        prompts=[heard],
        menu_at_s=played[0].start_s,
        presses=[Press(menu.id, "1", "dial", 0.0, key_s)],
    )
    assert _key_ignored(state, menu, Attempt(menu.id, "1"), result)
    taken = replace(result, presses=[Press(menu.id, "1", "dial", 0.0, later.end_s + 1.8)])
    assert not _key_ignored(state, menu, Attempt(menu.id, "1"), taken)
