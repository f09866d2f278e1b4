"""What is wrong with a phone system, judged from its crawl map alone.

Each finding kind is a rule a caller would recognise (docs/crawl-outputs.md states them
exactly): 0 that never reaches a person, circular transfers, calls that drop, menus with no
way to a person, long holds without a callback offer. The rules only read the map, so a
previous crawl's map.json can be re-judged with other thresholds without calling again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from shopper.crawl.map import FINDING_KINDS, CrawlMap, Finding, NodeKind
from shopper.crawl.mapgraph import AUTOMATIC, Edge, MapGraph, excerpt, key_name
from shopper.text.phrasebook import is_navigation

CALL_ENDINGS: frozenset[NodeKind] = frozenset({"dropped", "message", "tone", "dead-end"})
"""Kinds of node at which a key the caller mistyped ends the call."""

ZERO_OUT_GOALS: frozenset[NodeKind] = frozenset({"queue", "human"})
ZERO = "0"

ZeroOut = Literal["reaches-person", "fails", "untried"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Limits for the findings that depend on a figure; the policy file can change them."""

    long_hold_s: float = 120.0
    """A hold longer than this is a long-hold finding."""
    callback_hold_s: float = 60.0
    """A hold longer than this without a callback offer is a no-callback-offer finding."""
    max_human_menus: int = 3
    """A person only reachable through more menus than this is a deep-human finding."""


@dataclass(frozen=True, slots=True)
class Loop:
    """A cycle a caller can be caught in; `edges` leave each node of `nodes` in turn."""

    nodes: tuple[str, ...]
    edges: tuple[Edge, ...]
    automatic: bool
    """True when no key breaks it (a circular transfer); False for a key sent back."""


def find_problems(crawl_map: CrawlMap, thresholds: Thresholds | None = None) -> list[Finding]:
    """Every finding in the map, ordered by node (map order), then by finding kind."""
    limits = thresholds or Thresholds()
    graph = MapGraph(crawl_map)
    found: list[Finding] = []
    found += _zero_out(graph)
    found += [_loop_finding(graph, loop) for loop in find_loops(crawl_map)]
    found += _terminal_kinds(graph)
    found += _no_human_path(graph, crawl_map)
    found += _holds(graph, limits)
    found += _deep_humans(graph, limits)
    found += _invalid_key_drops(graph)
    return sorted(
        found,
        key=lambda finding: (
            graph.order.get(finding.node, len(graph.order)),
            FINDING_KINDS.index(finding.kind),
        ),
    )


def find_loops(crawl_map: CrawlMap) -> list[Loop]:
    """Cycles that are findings: automatic ones, and keys that lead back unasked."""
    graph = MapGraph(crawl_map)
    return _automatic_loops(graph) + _keyed_loops(graph)


def loop_edge_keys(crawl_map: CrawlMap) -> set[tuple[str, str, str]]:
    """(source, key, target) of every edge in a loop finding, for the pictures to colour."""
    return {
        (edge.source, edge.key, edge.target)
        for loop in find_loops(crawl_map)
        for edge in loop.edges
    }


def _quote(graph: MapGraph, node_id: str) -> str:
    return f"'{node_id}' (\u201c{excerpt(graph.nodes[node_id].prompt, 40)}\u201d)"


def _keys_text(keys: tuple[str, ...] | list[str]) -> str:
    return " ".join(keys) if keys else "no keys"


# --- zero-out -----------------------------------------------------------------------------


def zero_out(graph: MapGraph, menu_id: str) -> ZeroOut:
    """What pressing 0 at a menu does, following automatic transitions and further 0s: a
    caller who keeps pressing 0 should end up in a queue or with a person."""
    zero = _zero_edge(graph, menu_id)
    if zero is None:
        return "untried"
    reached = graph.follow([zero.target], frozenset({AUTOMATIC, ZERO}))
    if any(graph.nodes[node_id].kind in ZERO_OUT_GOALS for node_id in reached):
        return "reaches-person"
    return "fails"


def _zero_edge(graph: MapGraph, menu_id: str) -> Edge | None:
    return next((edge for edge in graph.edges_from[menu_id] if edge.key == ZERO), None)


def _zero_out(graph: MapGraph) -> list[Finding]:
    found = []
    for menu_id in graph.menus():
        zero = _zero_edge(graph, menu_id)
        if zero is None or zero_out(graph, menu_id) != "fails":
            continue
        if menu_id in graph.automatic_closure(zero.target):
            what = "0 only repeats this menu"
        else:
            target = graph.nodes[zero.target]
            what = f"0 leads to '{target.id}' ({target.kind})"
        found.append(
            Finding(
                "no-zero-out",
                menu_id,
                f"{what}; pressing 0 again never reaches a queue or a person",
            )
        )
    return found


# --- loops --------------------------------------------------------------------------------


def _automatic_loops(graph: MapGraph) -> list[Loop]:
    """Cycles of automatic transitions that no key at any of their nodes leads out of."""
    loops = []
    claimed: set[str] = set()
    for node_id in sorted(graph.nodes, key=_route_order(graph)):
        if node_id in claimed:
            continue
        cycle = _automatic_cycle_through(graph, node_id)
        if cycle is None:
            continue
        members = set(cycle[0])
        claimed |= members
        exits = [
            option
            for member in members
            for option in graph.nodes[member].options
            if option.key != AUTOMATIC and option.to not in members
        ]
        if not exits:
            loops.append(Loop(tuple(cycle[0]), tuple(cycle[1]), automatic=True))
    return loops


def _automatic_cycle_through(graph: MapGraph, node_id: str) -> tuple[list[str], list[Edge]] | None:
    """The shortest cycle of automatic edges from `node_id` back to itself, if any."""
    parents: dict[str, Edge] = {}
    frontier = [node_id]
    while frontier:
        following = []
        for current in frontier:
            for edge in graph.automatic_edges(current):
                if edge.target == node_id:
                    edges = [edge]
                    while edges[0].source != node_id:
                        edges.insert(0, parents[edges[0].source])
                    return [item.source for item in edges], edges
                if edge.target not in parents:
                    parents[edge.target] = edge
                    following.append(edge.target)
        frontier = following
    return None


def _keyed_loops(graph: MapGraph) -> list[Loop]:
    """Offered keys that, by themselves or through automatic transitions, come back to a menu
    already on the caller's route — unless the key said it goes back, or the caller was told
    something (a message) before being returned. A key whose label no words were heard for
    (the recogniser ended the sentence before them: "press eight to hear these options again.
    press a pound key") said nothing that misleads: no finding rests on it."""
    loops = []
    for node_id in sorted(graph.nodes, key=_route_order(graph)):
        route = graph.routes.get(node_id)
        if route is None or graph.start is None:
            continue
        on_route = route.nodes(graph.start)
        for edge in graph.edges_from[node_id]:
            if edge.automatic or not edge.offered:
                continue
            if not edge.label or _says_it_goes_back(edge.label, edge.key):
                continue
            chain = _automatic_chain(graph, edge, set(on_route))
            if chain is None or _replayed_by_keypad_key(edge, chain):
                continue
            if any(graph.nodes[step.target].kind == "message" for step in chain[:-1]):
                continue
            back_to = chain[-1].target
            start = on_route.index(back_to)
            nodes = tuple(on_route[start:])
            loop_edges = (*route.edges[start:], *chain)
            loops.append(Loop(nodes + tuple(s.target for s in chain[:-1]), loop_edges, False))
    return loops


REPLAY_KEYS = frozenset({"*", "#"})
"""The keypad's navigation keys: by convention star goes back and pound repeats."""


def _replayed_by_keypad_key(edge: Edge, chain: list[Edge]) -> bool:
    """Whether star or pound played the very menu it was pressed in again: a repeat key, by
    what it did and by the keypad's convention, whatever its label was heard as (a voice
    the recogniser garbles turns "To replay these choices" into "To replete his choicest",
    which no reading of the words can call a way back). Only the same menu: star or pound
    leading to another menu on the route still needs its label to say so."""
    return edge.key in REPLAY_KEYS and chain[-1].target == edge.source


def _says_it_goes_back(label: str, key: str) -> bool:
    """Whether an option's label offers a way back, asked of the label and of it read as the
    option sentence it was cut from: the classifier learned whole IVR sentences, and a label
    the recogniser garbled keeps its sense only with them ("heal this man you again" alone is
    nothing to it, "To heal this man you again, press #." a way back)."""
    return is_navigation(label) or is_navigation(f"To {label}, press {key}.")


def _automatic_chain(graph: MapGraph, edge: Edge, on_route: set[str]) -> list[Edge] | None:
    """`edge` and the automatic edges after it up to the first node on the route, if any. A
    menu's automatic edge is where a caller who stays silent ends up, not where the phone
    system moves on by itself: the chain stops there."""
    chain = [edge]
    seen = {edge.target}
    while chain[-1].target not in on_route:
        if graph.nodes[chain[-1].target].kind == "menu":
            return None
        following = graph.automatic_edges(chain[-1].target)
        if not following or following[0].target in seen:
            return None
        chain.append(following[0])
        seen.add(following[0].target)
    return chain


RouteOrder = Callable[[str], tuple[int, tuple[str, ...], int, int]]


def _route_order(graph: MapGraph) -> RouteOrder:
    """Sort key putting nodes in the order a caller first meets them."""

    def order(node_id: str) -> tuple[int, tuple[str, ...], int, int]:
        route = graph.routes.get(node_id)
        if route is None:
            return (1 << 30, (), 0, graph.order[node_id])
        return (len(route.keys), route.keys, route.automatic_hops, graph.order[node_id])

    return order


def _loop_finding(graph: MapGraph, loop: Loop) -> Finding:
    names = " \u2192 ".join(_quote(graph, node_id) for node_id in loop.nodes)
    if loop.automatic:
        message = (
            f"circular transfer: {names} \u2192 back to '{loop.nodes[0]}'; no key breaks the cycle"
        )
        return Finding("loop", loop.nodes[0], message)
    key_edge = next(edge for edge in reversed(loop.edges) if not edge.automatic)
    label = f" (\u201c{key_edge.label}\u201d)" if key_edge.label else ""
    message = (
        f"pressing {key_edge.key}{label} at '{key_edge.source}' leads back to "
        f"'{loop.nodes[0]}', already on the way here: {names}"
    )
    return Finding("loop", key_edge.source, message)


# --- where calls end ----------------------------------------------------------------------


def _terminal_kinds(graph: MapGraph) -> list[Finding]:
    found = []
    for node_id, node in graph.nodes.items():
        route = graph.routes.get(node_id)
        keys = _keys_text(route.keys if route else node.path)
        if node.kind == "dropped":
            hold = f" after {node.hold_s:.0f} s on hold" if node.hold_s else ""
            heard = f"; last heard: \u201c{excerpt(node.prompt, 60)}\u201d" if node.prompt else ""
            found.append(Finding("dropped", node_id, f"the call drops{hold} (keys {keys}){heard}"))
        elif node.kind == "dead-end":
            found.append(
                Finding(
                    "dead-end",
                    node_id,
                    f"dead end (keys {keys}): \u201c{excerpt(node.prompt, 60)}\u201d leads nowhere "
                    "new and accepts no useful input",
                )
            )
    return found


def _no_human_path(graph: MapGraph, crawl_map: CrawlMap) -> list[Finding]:
    found = []
    for menu_id in graph.menus():
        if graph.reaches_human(menu_id):
            continue
        reachable = graph.reachable(menu_id)
        pending = sum(1 for item in crawl_map.unexplored if item.node in reachable)
        untried = sum(
            1
            for node_id in reachable
            for option in graph.nodes[node_id].options
            if option.to is None
        )
        open_keys = max(pending, untried)
        caveat = f" ({open_keys} keys beyond it were not explored)" if open_keys else ""
        found.append(
            Finding("no-human-path", menu_id, f"no person is reachable from this menu{caveat}")
        )
    return found


def _holds(graph: MapGraph, limits: Thresholds) -> list[Finding]:
    found = []
    for node_id, node in graph.nodes.items():
        if node.hold_s is None:
            continue
        if node.hold_s > limits.long_hold_s:
            found.append(
                Finding(
                    "long-hold",
                    node_id,
                    f"hold of {node.hold_s:.0f} s is over {limits.long_hold_s:.0f} s",
                )
            )
        if node.hold_s > limits.callback_hold_s and node.callback_offered is not True:
            found.append(
                Finding(
                    "no-callback-offer",
                    node_id,
                    f"hold of {node.hold_s:.0f} s (over {limits.callback_hold_s:.0f} s) "
                    "without a callback offer",
                )
            )
    return found


def _deep_humans(graph: MapGraph, limits: Thresholds) -> list[Finding]:
    depths = graph.menu_depths()
    return [
        Finding(
            "deep-human",
            human_id,
            f"this person is only reachable through {depths[human_id]} menus "
            f"(more than {limits.max_human_menus})",
        )
        for human_id in graph.humans()
        if depths.get(human_id, 0) > limits.max_human_menus
    ]


def _invalid_key_drops(graph: MapGraph) -> list[Finding]:
    found = []
    for menu_id in graph.menus():
        for edge in graph.edges_from[menu_id]:
            if edge.offered or edge.automatic or edge.key == ZERO:
                continue
            ends = [
                node_id
                for node_id in graph.automatic_closure(edge.target)
                if not graph.edges_from[node_id] and graph.nodes[node_id].kind in CALL_ENDINGS
            ]
            if ends:
                end = graph.nodes[ends[0]]
                found.append(
                    Finding(
                        "invalid-key-drops",
                        menu_id,
                        f"{key_name(edge.key)}, which the menu does not offer, ends the call "
                        f"({end.kind} at '{end.id}')",
                    )
                )
    return found
