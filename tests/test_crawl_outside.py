"""Crawling a phone system written outside the shipped four, whose traps come from the
issue's field report: a menu that ignores keys while its prompt plays, with a pause after its
greeting as long as the quiet that ends a prompt, and a key the transcript garbles (flite
rms at 180 words a minute: "press eight" is heard "press it").

The IVR is written here by the test author; the expectations come from its design and each
node is checked against the sandbox truth of the call that first heard it (the crawler never
reads either).
"""

import json
from pathlib import Path

import numpy as np
import pytest
from crawl_walk import by_path, truth_nodes

from shopper.audio.files import write_wav
from shopper.audio.frame import TELEPHONY_RATE
from shopper.crawl.explorer import CrawlSettings, crawl
from shopper.crawl.map import CrawlMap
from shopper.tts import synthesize

pytestmark = pytest.mark.slow

VOICE = ("rms", 180, "flite")
GREETING = "Welcome to Lakeside Power. Please listen closely, as our options have changed."
MENU = (
    "For billing, press 2. For repairs, press 5. For new service, press 8. "
    "For the operator, press 0."
)
PAUSE_S = 1.9
"""Quiet inside the menu's recording, after its greeting: longer than the 1.8 s that ends a
prompt, so a caller waiting for "the end" presses in it, and the key is dropped."""
IVR = """
name: Lakeside Power
voice: {tts: flite, voice: rms, speed: 180}
start: main
answer: {after: 1s}
nodes:
  main:
    play: menu.wav
    menu:
      options: {"2": billing, "5": repairs, "8": new_service, "0": operator}
      timeout: 4s
      barge_in: false
      no_input: "We did not get a selection."
  billing: {say: "Bills are mailed on the first of the month. Goodbye.", hangup: true}
  repairs: {say: "Our crews are out fixing lines in your area. Goodbye.", hangup: true}
  new_service: {say: "New service requests are taken on our website. Goodbye.", hangup: true}
  operator: {say: "All operators are busy right now. Goodbye.", hangup: true}
"""


@pytest.fixture(scope="module")
def lakeside(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlMap, Path]:
    folder = tmp_path_factory.mktemp("lakeside")
    voice, speed, tts = VOICE
    pause = np.zeros(round(PAUSE_S * TELEPHONY_RATE), dtype=np.int16)
    greeting, menu = synthesize(GREETING, voice, speed, tts), synthesize(MENU, voice, speed, tts)
    write_wav(folder / "menu.wav", np.concatenate([greeting, pause, menu]))
    (folder / "ivr.yaml").write_text(IVR)
    out = folder / "crawl"
    settings = CrawlSettings(str(folder / "ivr.yaml"), out, lines=2, engine="moonshine")
    return crawl(settings), out


def test_every_offered_key_leads_where_the_design_says(lakeside: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = lakeside
    main = crawl_map.nodes[0]
    assert main.kind == "menu" and main.path == [] and main.options
    offered = {option.key for option in main.options if option.offered}
    assert {"2", "5", "8"} <= offered, (main.prompt, offered)
    for key, designed in [("2", "billing"), ("5", "repairs"), ("8", "new_service")]:
        node = by_path(crawl_map, key)
        assert node.kind == "message", (key, node)
        assert truth_nodes(out, node)[-1] == designed, (key, node.prompt)
    assert truth_nodes(out, by_path(crawl_map, "0"))[-1] == "operator"


def test_the_menu_is_one_node_whatever_its_pause(lakeside: tuple[CrawlMap, Path]) -> None:
    """Keys pressed in the pause were dropped; the crawl saw the recording play on, pressed
    again after the prompt, and did not take the greeting for a prompt of its own."""
    crawl_map, out = lakeside
    truths = [json.loads(path.read_text()) for path in out.glob("calls/*/sandbox-truth.json")]
    assert any(key["action"] == "ignored" for truth in truths for key in truth["keys"])
    menus = [node for node in crawl_map.nodes if node.kind == "menu"]
    assert len(menus) == 1 and "lakeside" in menus[0].prompt.lower(), menus
    greetings = [n for n in crawl_map.nodes if "welcome" in n.prompt.lower() and n not in menus]
    assert greetings == [], "the greeting stays the menu's"
