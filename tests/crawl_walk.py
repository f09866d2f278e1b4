"""Walking a crawled map in tests: where a key path leads, and what the sandbox says it was."""

from __future__ import annotations

import json
import math
from collections import deque
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
    """Sandbox nodes entered on the path where the map node was first heard (ground truth the
    test reads from the call's evidence; the crawler never does). A call may serve several
    paths one after the other, so only the nodes entered between the last key pressed before
    that hearing and the first key pressed after it count: the keys of the next path, if any,
    come after this one's end."""
    evidence = node.evidence[0]
    truth = json.loads((out / "calls" / evidence.call_id / "sandbox-truth.json").read_text())
    keys = [key["start_s"] for key in truth["keys"]]
    since = max((at for at in keys if at <= evidence.start_s), default=0.0)
    until = min((at for at in keys if at >= evidence.end_s), default=math.inf)
    return [entry["node"] for entry in truth["nodes"] if since <= entry["at_s"] < until]


Edge = tuple[tuple[str, ...], str, tuple[str, ...] | None, str | None]


def structure(crawl_map: CrawlMap) -> set[Edge]:
    """Every option as (where it is, key, where it leads, that node's kind), places named by
    their shortest key path from the start (fewest options, then keys in order): what two
    crawls of one phone system must agree on, whatever ids their transcripts gave the nodes.
    Each node also appears as (its place, "", None, its kind)."""
    root = crawl_map.nodes[0]
    places: dict[str, tuple[str, ...]] = {root.id: ()}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for option in sorted(node.options, key=lambda o: o.key):
            if option.to is not None and option.to not in places:
                places[option.to] = (*places[node.id], option.key)
                queue.append(crawl_map.node(option.to))
    edges: set[Edge] = set()
    for node in crawl_map.nodes:
        here = places.get(node.id, ("unreachable", node.id))
        edges.add((here, "", None, node.kind))
        for option in node.options:
            target = crawl_map.node(option.to) if option.to is not None else None
            edges.add(
                (
                    here,
                    option.key,
                    None if target is None else places.get(target.id),
                    None if target is None else target.kind,
                )
            )
    return edges
