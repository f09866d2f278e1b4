"""Crawling Super Awesome Company (scripts/awesome/ivr.yaml), Asterisk's own sample IVR built
from the real recorded Asterisk prompts, from audio alone.

Its traps for a crawler: the operator's queue and the customer advocate's queue open with the
same recording ("please hold while I try to connect you") but lead to different places (a
person after a short hold; an apology and voicemail after a longer one), and two branches end
in one voicemail greeting. The expectations are written here by the test author from reading
the IVR file; each is also checked against the sandbox truth of the call that heard it.
"""

from pathlib import Path

import pytest
from crawl_walk import by_path, truth_nodes

from shopper.crawl.explorer import CrawlSettings, crawl
from shopper.crawl.findings import find_problems
from shopper.crawl.map import CrawlMap

pytestmark = pytest.mark.slow

AWESOME = Path(__file__).parent.parent / "scripts" / "awesome" / "ivr.yaml"


@pytest.fixture(scope="module")
def awesome(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlMap, Path]:
    out = tmp_path_factory.mktemp("awesome")
    crawl_map = crawl(CrawlSettings(str(AWESOME), out, lines=2, engine="moonshine"))
    crawl_map.findings = find_problems(crawl_map)
    return crawl_map, out


def test_one_recording_before_two_queues_is_two_places(awesome: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = awesome
    operator, advocate = by_path(crawl_map, "0"), by_path(crawl_map, "2")
    assert operator.kind == advocate.kind == "queue"
    assert operator is not advocate, "same recording, different queues"
    assert "operator" in truth_nodes(out, operator)
    assert "advocate" not in truth_nodes(out, operator)
    assert "advocate" in truth_nodes(out, advocate)
    person = by_path(crawl_map, "0", "")
    assert person.kind == "human" and truth_nodes(out, person)[-1] == "operator_agent"
    assert operator.hold_s is not None and operator.hold_s < 15


def test_a_hold_that_ends_in_voicemail_is_not_a_drop(awesome: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = awesome
    advocate = by_path(crawl_map, "2")
    assert advocate.hold_s is not None and 15 < advocate.hold_s < 35
    apology = by_path(crawl_map, "2", "")
    assert apology.kind == "message" and "sorry" in apology.prompt.lower()
    assert "advocate_away" in truth_nodes(out, apology)
    voicemail = by_path(crawl_map, "2", "", "")
    assert voicemail.kind == "voicemail" and truth_nodes(out, voicemail)[-1] == "leave_message"
    assert all(finding.kind != "dropped" for finding in crawl_map.findings)


def test_two_branches_share_one_voicemail(awesome: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = awesome
    accounting = by_path(crawl_map, "3")
    assert accounting.kind == "message" and "accounting" in truth_nodes(out, accounting)
    assert by_path(crawl_map, "3", "") is by_path(crawl_map, "2", "", "")


def test_every_other_key(awesome: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = awesome
    main = crawl_map.nodes[0]
    assert main.kind == "menu" and truth_nodes(out, main) == ["main"]
    sales = by_path(crawl_map, "1")
    assert sales.kind == "queue" and "sales" in truth_nodes(out, sales)
    assert "sales" in sales.id, "named after the option's own clause"
    dana = by_path(crawl_map, "1", "")
    assert dana.kind == "human" and truth_nodes(out, dana)[-1] == "sales_agent"
    directory = by_path(crawl_map, "4")
    assert directory.kind == "message" and "directory" in truth_nodes(out, directory)
    assert by_path(crawl_map, "4", "") is main
    for key in ("*", "#"):
        assert by_path(crawl_map, key) is main, key
    goodbye = by_path(crawl_map, "")
    assert goodbye.kind == "message" and truth_nodes(out, goodbye)[-1] == "goodbye"
    assert [n.kind for n in crawl_map.nodes].count("menu") == 1
    assert [n.kind for n in crawl_map.nodes].count("human") == 2
    assert not any(f.kind == "no-zero-out" for f in crawl_map.findings)
