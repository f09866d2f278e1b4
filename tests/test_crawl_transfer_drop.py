"""A line that says it passes the call on and then hangs up dropped the caller: the prompt is
a message and a `dropped` place follows it, with its finding. A closing message that hangs up
after saying goodbye is no drop. (Cobalt Fiber's business line, scripts/verdicts/fresh/.)

The IVR is written here by the test author; the crawler never reads it.
"""

from pathlib import Path

import pytest
from crawl_walk import by_path, truth_nodes

from shopper.crawl.explorer import CrawlSettings, crawl
from shopper.crawl.findings import find_problems
from shopper.crawl.map import CrawlMap

pytestmark = pytest.mark.slow

IVR = """
name: Westgate Motors
voice: {tts: flite, voice: awb, speed: 160}
start: main
answer: {after: 1s}
nodes:
  main:
    say: "Westgate Motors. For sales, press 1. For our service hours, press 2."
    menu:
      options: {"1": sales, "2": hours}
      retries: 0
  sales:
    say: "Sales. Please hold while we connect you to a sales advisor."
    goto: gone
  gone: {drop: {after: 2s}}
  hours:
    say: "The service department is open on weekdays from eight to five. Goodbye."
    hangup: true
"""


@pytest.fixture(scope="module")
def westgate(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlMap, Path]:
    folder = tmp_path_factory.mktemp("westgate")
    (folder / "ivr.yaml").write_text(IVR)
    out = folder / "crawl"
    settings = CrawlSettings(str(folder / "ivr.yaml"), out, try_keys="", engine="moonshine")
    return crawl(settings), out


def test_a_transfer_that_hangs_up_is_a_drop_after_the_message(
    westgate: tuple[CrawlMap, Path],
) -> None:
    crawl_map, out = westgate
    sales = by_path(crawl_map, "1")
    assert sales.kind == "message", (sales.kind, sales.prompt)
    after = [crawl_map.node(o.to) for o in sales.options if o.key == "" and o.to]
    assert [node.kind for node in after] == ["dropped"], [(n.id, n.prompt) for n in after]
    assert truth_nodes(out, after[0])[-1] == "gone"
    drops = [f.node for f in find_problems(crawl_map) if f.kind == "dropped"]
    assert after[0].id in drops


def test_a_goodbye_that_hangs_up_is_no_drop(westgate: tuple[CrawlMap, Path]) -> None:
    crawl_map, _ = westgate
    hours = by_path(crawl_map, "2")
    assert hours.kind in ("message", "closed"), (hours.kind, hours.prompt)
    assert not [o for o in hours.options if o.key == ""]
