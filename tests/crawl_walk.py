"""Walking a crawled map in tests: where a key path leads, and what the sandbox says it was."""

from __future__ import annotations

import json
from pathlib import Path

from shopper.crawl.map import CrawlMap, MapNode


def by_path(crawl_map: CrawlMap, *keys: str) -> MapNode:
    """The node a key path leads to, following options (and automatic steps) from the root."""
    node = crawl_map.nodes[0]
    for key in keys:
        option = next(o for o in node.options if o.key == key)
        assert option.to is not None, (node.id, key)
        node = crawl_map.node(option.to)
    return node


def truth_nodes(out: Path, node: MapNode) -> list[str]:
    """Sandbox nodes entered on the call where the map node was first heard (ground truth
    the test reads from the call's evidence; the crawler never does)."""
    call = out / "calls" / node.evidence[0].call_id / "sandbox-truth.json"
    return [entry["node"] for entry in json.loads(call.read_text())["nodes"]]
