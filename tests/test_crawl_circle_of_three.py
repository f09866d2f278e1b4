"""Crawling a circular transfer of three departments whose third hands the caller back in
words no classifier takes for a transfer ("Just a moment."), run straight into the first
department's prompt: the circle is reported as a loop through all three departments, each a
node of its own (the third was lost when its prompt and the first department's second round
were taken, by their audio, for the first department heard again).

The IVR (tests/data/circle3/ivr.yaml) is written by the test author; each node is checked
against the sandbox truth of the call that first heard it (the crawler never reads either).
"""

import json
import shutil
from pathlib import Path

import pytest
from crawl_walk import by_path

from shopper.crawl.explorer import CrawlSettings, crawl
from shopper.crawl.findings import find_problems
from shopper.crawl.map import CrawlMap, MapNode

pytestmark = pytest.mark.slow

IVR = Path(__file__).parent / "data" / "circle3" / "ivr.yaml"


@pytest.fixture(scope="module")
def lakeside(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlMap, Path]:
    folder = tmp_path_factory.mktemp("lakeside")
    shutil.copy(IVR, folder / "ivr.yaml")
    out = folder / "crawl"
    settings = CrawlSettings(str(folder / "ivr.yaml"), out, try_keys="", engine="moonshine")
    return crawl(settings), out


def playing(out: Path, node: MapNode) -> str:
    """The sandbox node whose prompt was playing in the middle of the node's first evidence."""
    evidence = node.evidence[0]
    truth = json.loads((out / "calls" / evidence.call_id / "sandbox-truth.json").read_text())
    middle = (evidence.start_s + evidence.end_s) / 2
    return next(s["node"] for s in truth["sounds"] if s["start_s"] <= middle < s["end_s"])


def goes_on_to(crawl_map: CrawlMap, node: MapNode) -> MapNode:
    """The node a department passes the caller on to by itself (its option with no key)."""
    onward = [option.to for option in node.options if option.key == ""]
    assert len(onward) == 1 and onward[0] is not None, (node.id, node.options)
    return crawl_map.node(onward[0])


def test_the_circle_is_a_loop_of_its_three_departments(
    lakeside: tuple[CrawlMap, Path],
) -> None:
    crawl_map, out = lakeside
    first = by_path(crawl_map, "1")
    second = goes_on_to(crawl_map, first)
    third = goes_on_to(crawl_map, second)
    assert goes_on_to(crawl_map, third) is first, "the third hands back to the first"
    circle = [first, second, third]
    assert len({node.id for node in circle}) == 3, [node.id for node in circle]
    assert [playing(out, node) for node in circle] == ["lost", "station", "depot"], [
        node.prompt for node in circle
    ]
    findings = find_problems(crawl_map)
    assert [f.node for f in findings if f.kind == "loop"] == [first.id], findings
