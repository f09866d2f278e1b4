"""A transfer into a number the network intercepts ends at the special information tone: the
place is a `tone`, with the transfer's words, and the intercept's recording, played again and
again with the tone, is no circle of departments. (Riverton Transit's paratransit line,
scripts/verdicts/fresh/, where the crawl reported a circular transfer.)

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
name: Eastbrook Library
voice: {tts: flite, voice: kal, speed: 160}
start: main
answer: {after: 1s}
nodes:
  main:
    say: "Eastbrook Library. For the branch in Millford, press 1."
    menu:
      options: {"1": millford}
      retries: 0
  millford:
    say: "The Millford branch has a new number. Please hold while your call is transferred."
    goto: intercepted
  intercepted:
    tone: {kind: sit-intercept, for: 8s}
    play: "asterisk:cannot-complete-as-dialed"
"""


@pytest.fixture(scope="module")
def eastbrook(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlMap, Path]:
    folder = tmp_path_factory.mktemp("eastbrook")
    (folder / "ivr.yaml").write_text(IVR)
    out = folder / "crawl"
    settings = CrawlSettings(str(folder / "ivr.yaml"), out, try_keys="", engine="moonshine")
    return crawl(settings), out


def test_an_intercepted_transfer_ends_at_the_tone(eastbrook: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = eastbrook
    millford = by_path(crawl_map, "1")
    assert millford.kind == "tone", (millford.kind, millford.prompt)
    assert "new number" in millford.prompt.lower(), millford.prompt
    assert truth_nodes(out, millford)[0] == "millford"
    assert not [o for o in millford.options if o.key == ""], "nothing follows the tone"
    assert not [f for f in find_problems(crawl_map) if f.kind == "loop"]
