"""Crawling Northwind Insurance (scripts/bench/ivr.yaml), the phone system of the call-speed
benchmark, from audio alone.

Its traps for a crawler: a long welcome that ignores keys runs straight into the main menu
without a pause, so the first hearing is one prompt that turns out to be two recordings when
the claims message comes back to the menu alone; the policies menu's keys 1, 2, 4 and 9 all go
back to the main menu; two branches reach one queue with three minutes of hold. The
expectations are written here by the test author from reading the IVR file; each is also
checked against the sandbox truth of the call that heard it.
"""

from pathlib import Path

import pytest
from crawl_walk import by_path, truth_nodes

from shopper.crawl.explorer import CrawlSettings, crawl
from shopper.crawl.findings import find_problems
from shopper.crawl.map import CrawlMap

pytestmark = pytest.mark.slow

BENCH = Path(__file__).parent.parent / "scripts" / "bench" / "ivr.yaml"


@pytest.fixture(scope="module")
def northwind(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlMap, Path]:
    out = tmp_path_factory.mktemp("northwind")
    return crawl(CrawlSettings(str(BENCH), out, lines=2, engine="moonshine")), out


def test_the_welcome_is_a_node_of_its_own(northwind: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = northwind
    welcome = crawl_map.nodes[0]
    assert welcome.kind == "message" and "thank you for calling" in welcome.prompt.lower()
    assert welcome.path == [] and [o.key for o in welcome.options] == [""]
    main = by_path(crawl_map, "")
    assert main.kind == "menu" and main.path == []
    assert "thank you" not in main.prompt.lower()
    assert truth_nodes(out, main)[:2] == ["welcome", "main"]
    evidence = main.evidence[0]
    assert welcome.evidence[0].end_s <= evidence.start_s < evidence.end_s


def test_menus_and_their_keys(northwind: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = northwind
    main = by_path(crawl_map, "")
    policies, billing = by_path(crawl_map, "", "3"), by_path(crawl_map, "", "3", "3")
    assert policies.kind == billing.kind == "menu"
    assert truth_nodes(out, policies)[-1] == "policies"
    assert truth_nodes(out, billing)[-1] == "billing"
    assert sorted(n.id for n in crawl_map.nodes if n.kind == "menu") == sorted(
        [main.id, policies.id, billing.id]
    ), "each menu is one node"
    claims = by_path(crawl_map, "", "1")
    assert claims.kind == "message" and "claims" in truth_nodes(out, claims)
    assert by_path(crawl_map, "", "1", "") is main
    roadside = by_path(crawl_map, "", "2")
    assert roadside.kind == "message" and not roadside.options
    assert truth_nodes(out, roadside)[-1] == "roadside"
    for key in ("*", "0", "#"):
        assert by_path(crawl_map, "", key) is main, key
    for key in ("1", "2", "4", "9"):
        assert by_path(crawl_map, "", "3", key) is main, f"policies {key}"
    for key in ("1", "2"):
        assert by_path(crawl_map, "", "3", "3", key) is main, f"billing {key}"


def test_two_ways_to_one_queue_and_a_person(northwind: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = northwind
    queue = by_path(crawl_map, "", "4")
    assert queue.kind == "queue" and "queue_intro" in truth_nodes(out, queue)
    assert by_path(crawl_map, "", "3", "3", "0") is queue
    dana = by_path(crawl_map, "", "4", "")
    assert dana.kind == "human" and truth_nodes(out, dana)[-1] == "agent"
    assert queue.hold_s is not None and 170 < queue.hold_s < 190
    assert queue.callback_offered is False


def test_pressing_nothing_is_dropped(northwind: tuple[CrawlMap, Path]) -> None:
    crawl_map, _ = northwind
    assert by_path(crawl_map, "", "").kind == "dropped"


def test_a_missed_press_two_is_not_an_invalid_key(northwind: tuple[CrawlMap, Path]) -> None:
    """Moonshine hears "For roadside assistance, press 2" as "...breast-hoo!": 2 is tried as a
    digit missing from the offered run, and leads to the roadside message."""
    crawl_map, _ = northwind
    main = by_path(crawl_map, "")
    assert next(o for o in main.options if o.key == "2").offered
    findings = find_problems(crawl_map)
    assert not [f for f in findings if f.kind == "invalid-key-drops"], findings
    assert {(f.kind, f.node) for f in findings} >= {("no-zero-out", main.id)}
