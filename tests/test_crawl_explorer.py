"""Crawling the shipped failing IVR (Globex) from audio alone, on two lines.

The expected map is written down here by the test author from reading
scripts/failing/ivr.yaml; the explorer itself never reads it. Each map node is also checked
against the sandbox truth of the calls that heard it.
"""

from pathlib import Path

import pytest
from crawl_walk import by_path, truth_nodes

from shopper.crawl.explorer import CrawlSettings, crawl
from shopper.crawl.map import CrawlMap
from shopper.crawl.outputs import write_crawl_outputs

pytestmark = pytest.mark.slow

GLOBEX = Path(__file__).parent.parent / "scripts" / "failing" / "ivr.yaml"


@pytest.fixture(scope="module")
def globex(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlMap, Path]:
    out = tmp_path_factory.mktemp("globex")
    return crawl(CrawlSettings(str(GLOBEX), out, lines=2, engine="moonshine")), out


def test_globex_menus_and_edges(globex: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = globex
    main = crawl_map.nodes[0]
    assert main.kind == "menu" and main.path == []
    assert {o.key for o in main.options} == {"1", "2", "3", "0", "*", "#", ""}
    hung_up = by_path(crawl_map, "")
    assert hung_up.kind == "dropped", "no input: the menu repeats once, then hangs up silently"
    assert hung_up.path == [] and truth_nodes(out, hung_up)[-1] == "main"
    assert by_path(crawl_map, "0") is main, "0 only repeats the main menu"
    assert by_path(crawl_map, "*") is main and by_path(crawl_map, "#") is main
    support = by_path(crawl_map, "2")
    assert support.kind == "menu"
    assert {o.key for o in support.options} >= {"1", "2", "9"}
    assert by_path(crawl_map, "2", "9") is main
    assert truth_nodes(out, support)[-1] == "support"
    assert crawl_map.unexplored == []


def test_globex_circular_transfer_is_two_nodes_in_a_cycle(globex: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = globex
    billing = by_path(crawl_map, "1")
    service = by_path(crawl_map, "1", "")
    assert billing is not service
    assert by_path(crawl_map, "1", "", "") is billing
    assert "billing" in truth_nodes(out, billing)
    assert "customer_service" in truth_nodes(out, service)


def test_globex_terminals_are_classified(globex: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = globex
    outage = by_path(crawl_map, "3")
    assert outage.kind == "tone"
    assert truth_nodes(out, outage)[-1] == "outage"
    phone = by_path(crawl_map, "2", "2")
    assert phone.kind == "dropped", "dead air after 'connecting you'"
    assert truth_nodes(out, phone)[-1] == "phone_support"
    queue = by_path(crawl_map, "2", "1")
    assert queue.kind == "queue" and queue.hold_s is not None and queue.hold_s > 20
    assert queue.callback_offered is False
    assert by_path(crawl_map, "2", "1", "").kind == "dropped"


def test_globex_costs_are_counted(globex: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = globex
    assert crawl_map.calls == len(list((out / "calls").iterdir()))
    assert crawl_map.lower_bound_s < crawl_map.call_seconds
    assert crawl_map.engine.startswith("moonshine")
    for node in crawl_map.nodes:
        for evidence in node.evidence:
            assert (out / evidence.recording).is_file()


def test_globex_findings_name_the_loop_the_missing_zero_out_and_the_drop(
    globex: tuple[CrawlMap, Path], tmp_path: Path
) -> None:
    crawl_map, _ = globex
    judged = CrawlMap.from_json(crawl_map.to_json())
    outcome = write_crawl_outputs(judged, tmp_path)
    found = {(finding.kind, finding.node) for finding in outcome.findings}
    billing, service = by_path(judged, "1"), by_path(judged, "1", "")
    assert ("loop", billing.id) in found or ("loop", service.id) in found, found
    assert ("no-zero-out", judged.nodes[0].id) in found, found
    drop = by_path(judged, "2", "1", "")
    dropped_at = {node for kind, node in found if kind == "dropped"}
    assert dropped_at & {drop.id, by_path(judged, "2", "1").id}, found
    assert by_path(judged, "2", "2").id in dropped_at, found
    assert not outcome.verdict.passed and outcome.exit_code == 1
    assert (tmp_path / "map.json").is_file() and (tmp_path / "index.html").is_file()
