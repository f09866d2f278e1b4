"""A voicemail box is told by its beep and the quiet of the recording, not by the greeting's
wording: greetings that never say "leave a message" (the classifier does not take them for
one) are voicemail places, reached by a key or at the end of a hold. Before, both were drops.

The IVR is written here by the test author; the crawler never reads it.
"""

from pathlib import Path

import pytest
from crawl_walk import by_path, truth_nodes

from shopper.crawl.explorer import CrawlSettings, crawl
from shopper.crawl.map import CrawlMap
from shopper.text.phrasebook import is_voicemail_greeting

pytestmark = pytest.mark.slow

REPORT = "Spell your surname and read out your claim number at the tone."
AWAY = "Our adjusters are out on site today. Read out your claim number at the tone."
IVR = f"""
name: Lakeside Claims
voice: {{tts: flite, voice: awb, speed: 160}}
start: main
answer: {{after: 1s}}
nodes:
  main:
    say: "Lakeside Claims. To report a claim, press 1. To speak with an adjuster, press 2."
    menu:
      options: {{"1": report, "2": adjusters}}
  report: {{say: "{REPORT}", voicemail: {{max: 8s}}}}
  adjusters: {{queue: {{hold: 10s, then: away}}}}
  away: {{say: "{AWAY}", voicemail: {{max: 8s}}}}
"""


@pytest.fixture(scope="module")
def lakeside(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlMap, Path]:
    folder = tmp_path_factory.mktemp("lakeside")
    (folder / "ivr.yaml").write_text(IVR)
    out = folder / "crawl"
    settings = CrawlSettings(str(folder / "ivr.yaml"), out, try_keys="", engine="moonshine")
    return crawl(settings), out


def test_the_greetings_do_not_ask_for_a_message_in_the_classifier_s_words() -> None:
    assert not is_voicemail_greeting(REPORT) and not is_voicemail_greeting(AWAY)


def test_a_key_to_a_box_leads_to_voicemail(lakeside: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = lakeside
    box = by_path(crawl_map, "1")
    assert box.kind == "voicemail", (box.kind, box.prompt)
    assert truth_nodes(out, box)[-1] == "report"


def test_a_hold_that_ends_in_a_box_leads_to_voicemail(lakeside: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = lakeside
    queue = by_path(crawl_map, "2")
    assert queue.kind == "queue"
    after = [crawl_map.node(o.to) for o in queue.options if o.key == "" and o.to]
    assert [node.kind for node in after] == ["voicemail"], [(n.id, n.prompt) for n in after]
    assert truth_nodes(out, after[0])[-1] == "away"
