"""Crawling a circular transfer of two departments read by espeak-ng, the worst voice: the
circle is reported as a loop of its two departments, although the recogniser hears the first
department's prompt in other words each round (then only its audio tells it is the same),
and a key whose next prompt espeak-ng runs straight on still leads to that prompt.

The IVR is written here by the test author; each node is checked against the sandbox truth
of the call that first heard it (the crawler never reads either).
"""

import json
from pathlib import Path

import pytest
from crawl_walk import by_path, truth_nodes

from shopper.crawl.explorer import CrawlSettings, crawl
from shopper.crawl.findings import find_problems
from shopper.crawl.map import CrawlMap, MapNode

pytestmark = pytest.mark.slow

IVR = """
name: Harbour Water
voice: {tts: espeak-ng, voice: en-us, speed: 165}
start: main
answer: {after: 1s}
nodes:
  main:
    say: "Harbour Water. For water quality, press 1. For meter readings, press 2."
    menu:
      options: {"1": quality, "2": meters}
  quality:
    say: "The quality team is away today. We are transferring you to meter readings."
    goto: readings
  readings:
    say: >-
      Meter readings. Quality questions belong to the quality team. Please hold while we
      transfer you back.
    goto: quality
  meters: {say: "Meters are read every second month. Goodbye.", hangup: true}
"""


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlMap, Path]:
    folder = tmp_path_factory.mktemp("harbour")
    (folder / "ivr.yaml").write_text(IVR)
    out = folder / "crawl"
    settings = CrawlSettings(str(folder / "ivr.yaml"), out, try_keys="", engine="moonshine")
    return crawl(settings), out


def playing(out: Path, node: MapNode) -> str:
    """The sandbox node whose prompt was playing in the middle of the node's first evidence
    (a department's prompt is heard in one utterance with the next one's)."""
    evidence = node.evidence[0]
    truth = json.loads((out / "calls" / evidence.call_id / "sandbox-truth.json").read_text())
    middle = (evidence.start_s + evidence.end_s) / 2
    return next(s["node"] for s in truth["sounds"] if s["start_s"] <= middle < s["end_s"])


def test_the_circle_is_a_loop_of_its_two_departments(harbour: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = harbour
    first = by_path(crawl_map, "1")
    second = crawl_map.node(next(o.to for o in first.options if o.key == "") or "")
    assert [o.to for o in second.options if o.key == ""] == [first.id], "back to the first"
    assert playing(out, first) == "quality", first.prompt
    assert playing(out, second) == "readings", second.prompt
    findings = find_problems(crawl_map)
    assert [f.node for f in findings if f.kind == "loop"] == [first.id], findings


def test_the_key_to_a_message_leads_to_it(harbour: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = harbour
    meters = by_path(crawl_map, "2")
    assert meters.kind == "message" and truth_nodes(out, meters)[-1] == "meters", meters
