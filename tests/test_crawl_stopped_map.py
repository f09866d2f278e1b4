"""A stopped crawl's map says so everywhere it is read: map.json (and back), the page, and the
choice of the previous map to compare with. The stop itself, with real signals, is in
test_crawl_interrupts.py."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from crawl_maps import acme_map
from rich.console import Console

from shopper.cli.crawl import _previous_map
from shopper.crawl.map import CrawlMap
from shopper.crawl.outputs import write_crawl_outputs

SCHEMA = json.loads(
    (Path(__file__).parent.parent / "shopper/crawl/schema/map.schema.json").read_text()
)
REASON = "interrupted by SIGTERM"


def stopped_map() -> CrawlMap:
    crawl_map = acme_map()
    crawl_map.stopped = REASON
    return crawl_map


def test_map_json_says_stopped_and_reads_back() -> None:
    document = stopped_map().to_json()
    jsonschema.validate(document, SCHEMA)
    assert document["complete"] is False and document["stopped"] == REASON
    again = CrawlMap.from_json(json.loads(json.dumps(document)))
    assert not again.complete and again.stopped == REASON
    finished = acme_map().to_json()
    assert finished["complete"] is True and finished["stopped"] is None
    older = {key: value for key, value in finished.items() if key not in ("complete", "stopped")}
    assert CrawlMap.from_json(older).complete


def test_the_page_says_incomplete_and_why(tmp_path: Path) -> None:
    write_crawl_outputs(stopped_map(), tmp_path / "stopped")
    write_crawl_outputs(acme_map(), tmp_path / "finished")
    page = (tmp_path / "stopped" / "index.html").read_text()
    assert 'class="verdict incomplete"' in page and f"Incomplete: {REASON}." in page
    finished = (tmp_path / "finished" / "index.html").read_text()
    assert 'class="verdict incomplete"' not in finished and "Incomplete:" not in finished


def test_a_stopped_map_in_out_is_not_the_default_previous(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps(stopped_map().to_json()))
    console = Console(file=(tmp_path / "said.txt").open("w"), soft_wrap=True)
    assert _previous_map(path, given=False, console=console) is None
    given = _previous_map(path, given=True, console=console)
    assert given is not None and given.stopped == REASON
    path.write_text(json.dumps(acme_map().to_json()))
    assert _previous_map(path, given=False, console=console) is not None
    console.file.close()
    said = (tmp_path / "said.txt").read_text()
    assert said.count("not comparing") == 1 and REASON in said
