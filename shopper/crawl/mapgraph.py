"""The crawl map seen as a directed graph: which node leads where, by which key.

Findings, the scorecard, change detection and the regression scripts all ask the same
questions of a map — what can be reached from here, how a caller gets to a node, what
happens by itself after a prompt — so they are answered once, here, from the map alone.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from shopper.crawl.map import CrawlMap, MapNode

AUTOMATIC = ""
"""The key of an option the phone system took by itself (see map.Option.key)."""


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    key: str
    label: str | None
    target: str
    offered: bool

    @property
    def automatic(self) -> bool:
        return self.key == AUTOMATIC


@dataclass(frozen=True, slots=True)
class Route:
    """How a caller reaches a node from the start: the edges taken, in order."""

    edges: tuple[Edge, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(edge.key for edge in self.edges if not edge.automatic)

    @property
    def automatic_hops(self) -> int:
        """Automatic transitions since the last key press (0 right after a key)."""
        hops = 0
        for edge in reversed(self.edges):
            if not edge.automatic:
                break
            hops += 1
        return hops

    def nodes(self, start: str) -> list[str]:
        return [start, *(edge.target for edge in self.edges)]


class MapGraph:
    """Edges of a map whose options lead to known nodes; unexplored options are not edges."""

    def __init__(self, crawl_map: CrawlMap) -> None:
        self.nodes: dict[str, MapNode] = {node.id: node for node in crawl_map.nodes}
        self.order: dict[str, int] = {node.id: index for index, node in enumerate(crawl_map.nodes)}
        self.edges_from: dict[str, list[Edge]] = {node.id: [] for node in crawl_map.nodes}
        for node in crawl_map.nodes:
            for option in node.options:
                if option.to is not None and option.to in self.nodes:
                    self.edges_from[node.id].append(
                        Edge(node.id, option.key, option.label, option.to, option.offered)
                    )
        self.start = self._start(crawl_map)
        self.routes = self._routes()

    @staticmethod
    def _start(crawl_map: CrawlMap) -> str | None:
        for node in crawl_map.nodes:
            if not node.path:
                return node.id
        return crawl_map.nodes[0].id if crawl_map.nodes else None

    def automatic_edges(self, node_id: str) -> list[Edge]:
        return [edge for edge in self.edges_from[node_id] if edge.automatic]

    def follow(self, node_ids: Iterable[str], keys: frozenset[str]) -> list[str]:
        """Nodes reached from `node_ids` through edges with the given keys, in breadth order. A
        menu's automatic edge is its no-input path, where a caller who waited ends up, not where
        the phone system goes by itself after a key, so it is never followed."""
        queue = deque(node_ids)
        seen: list[str] = []
        while queue:
            current = queue.popleft()
            if current in seen:
                continue
            seen.append(current)
            waits = self.nodes[current].kind == "menu"
            queue.extend(
                edge.target
                for edge in self.edges_from[current]
                if edge.key in keys and not (waits and edge.key == AUTOMATIC)
            )
        return seen

    def automatic_closure(self, node_id: str) -> list[str]:
        """The node and everything the phone system moves on to by itself from it."""
        return self.follow([node_id], frozenset({AUTOMATIC}))

    def reachable(self, node_id: str) -> set[str]:
        seen = {node_id}
        queue = deque([node_id])
        while queue:
            for edge in self.edges_from[queue.popleft()]:
                if edge.target not in seen:
                    seen.add(edge.target)
                    queue.append(edge.target)
        return seen

    def _routes(self) -> dict[str, Route]:
        """Each node's route with the fewest key presses, then the fewest automatic hops.

        Ties go to the lower keys in order, so the same map always gives the same routes — the
        routes are node positions for change detection and the paths of regression scripts.
        """
        if self.start is None:
            return {}
        best: dict[str, Route] = {}
        counter = 0
        heap: list[tuple[int, tuple[str, ...], int, int, str, Route]] = [
            (0, (), 0, counter, self.start, Route(()))
        ]
        while heap:
            _, _, _, _, node_id, route = heapq.heappop(heap)
            if node_id in best:
                continue
            best[node_id] = route
            for edge in self.edges_from[node_id]:
                if edge.target in best:
                    continue
                longer = Route((*route.edges, edge))
                counter += 1
                heapq.heappush(
                    heap,
                    (
                        len(longer.keys),
                        longer.keys,
                        longer.automatic_hops,
                        counter,
                        edge.target,
                        longer,
                    ),
                )
        return best

    def menu_depths(self) -> dict[str, int]:
        """Fewest menus a caller must pass through to reach each node from the start."""
        if self.start is None:
            return {}
        depths: dict[str, int] = {}
        heap: list[tuple[int, int, str]] = [(0, 0, self.start)]
        while heap:
            depth, _, node_id = heapq.heappop(heap)
            if node_id in depths:
                continue
            depths[node_id] = depth
            step = 1 if self.nodes[node_id].kind == "menu" else 0
            for edge in self.edges_from[node_id]:
                if edge.target not in depths:
                    heapq.heappush(heap, (depth + step, self.order[edge.target], edge.target))
        return depths

    def humans(self) -> list[str]:
        return [node_id for node_id, node in self.nodes.items() if node.kind == "human"]

    def menus(self) -> list[str]:
        return [node_id for node_id, node in self.nodes.items() if node.kind == "menu"]

    def reaches_human(self, node_id: str) -> bool:
        return any(self.nodes[other].kind == "human" for other in self.reachable(node_id))


def excerpt(text: str, limit: int = 48) -> str:
    """The start of a prompt on one line, cut at a word with an ellipsis when too long."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut.rstrip(",.;:") + "…"


def key_name(key: str) -> str:
    """How a key reads in messages: '1', '*', '#', or 'automatic' for no key."""
    return key if key != AUTOMATIC else "automatic"
