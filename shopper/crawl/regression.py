"""Call scripts generated from a crawl: one per path from the start to each place a call ends.

Each script replays the path the crawl found — listening for a distinctive phrase of every
prompt where a key is pressed, then pressing it — and checks the end the crawl heard, so
`shopper run` on the folder tells at once when the phone system changes. Paths that end
badly (a drop, dead air, a tone) are written as a caller would want them — ending with a
person — and so fail until the phone system is fixed; their header says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from shopper.crawl.map import CrawlMap, MapNode, NodeKind
from shopper.crawl.mapgraph import AUTOMATIC, Edge, MapGraph, Route, key_name
from shopper.text.match import fuzzy
from shopper.text.normalize import normalize

PHRASE_WORDS = 4
"""Words in an expected phrase: enough to be distinctive, few enough to survive a mishearing."""
PHRASE_MIN_SCORE = 0.75
UNIQUE_MIN_SCORE = 0.75
"""A phrase that matches another prompt this well would not tell the two apart."""
FIRST_PROMPT_WITHIN = "30s"
PROMPT_WITHIN = "30s"
CHAIN_SILENCE = "4s"
"""Quiet that ends a prompt heard after other automatic prompts, which may pause between them."""
HOLD_START_WITHIN = "60s"
OFFER_SILENCE = "60s"
MIN_HOLD_MAX_S = 300.0
HUMAN_WITHIN = "10m"
HANGUP_WITHIN = "30s"
NO_INPUT_WITHIN = "3m"
NO_INPUT_SILENCE = "60s"
"""Quiet that ends a prompt heard after waiting through a menu without pressing: the menu's
own wait for input (and the pause before its re-prompt) is quiet that ends no prompt, and it
lasts as long as the phone system's input timeout, often longer than CHAIN_SILENCE."""
"""A prompt reached by waiting at a menu comes after the menu's re-prompts, a minute or more."""

HEALTHY_ENDS: frozenset[NodeKind] = frozenset({"human", "voicemail", "closed", "message"})
FAILING_ENDS: frozenset[NodeKind] = frozenset({"dropped", "dead-end", "tone"})
"""Ends a caller would not choose; `limit` is not an end but where the crawl stopped."""
LISTENED_PAST: frozenset[NodeKind] = frozenset({"queue", "human"})
"""Kinds whose words the hold and human steps listen to, not an expect step."""
KEY_WORDS = {"*": "star", "#": "pound"}
_CLAUSE_BREAK = re.compile(r"[.,;:!?]+")
_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class RegressionScript:
    slug: str
    """File name without .yaml: the keys pressed and the end node, e.g. 2-1-priya."""
    node: str
    """The end node the script's path leads to."""
    text: str
    """The script as YAML, loadable by shopper.scripts.loader.load_script."""
    expected_to_pass: bool


def regression_scripts(
    crawl_map: CrawlMap, target: str, at: str | None = None
) -> list[RegressionScript]:
    """A script per end node reachable from the start; `target` is written as the script's
    `target:` (a path relative to where the script will be saved, or a number), `at` as its
    `at:` so that an IVR with opening hours is called at the moment it was crawled."""
    graph = MapGraph(crawl_map)
    prompts = {node.id: node.prompt for node in crawl_map.nodes if node.prompt.strip()}
    scripts = []
    for node in crawl_map.nodes:
        route = graph.routes.get(node.id)
        if route is None or node.kind not in HEALTHY_ENDS | FAILING_ENDS:
            continue
        if node.options and node.kind not in {"closed", "voicemail"}:
            continue
        steps = _steps(graph, route, prompts)
        document: dict[str, Any] = {"name": _name(node, route), "target": target}
        if at is not None:
            document["at"] = at
        document["steps"] = steps
        body = yaml.safe_dump(
            document, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100
        )
        scripts.append(
            RegressionScript(
                slug=path_slug(route, node.id),
                node=node.id,
                text=_header(crawl_map, graph, route, node) + body,
                expected_to_pass=node.kind in HEALTHY_ENDS,
            )
        )
    return scripts


def path_slug(route: Route, node_id: str) -> str:
    parts = [KEY_WORDS.get(key, key) for key in route.keys]
    tail = _SLUG_CHARS.sub("-", node_id.lower()).strip("-") or "node"
    return "-".join([*parts, tail])


def distinctive_phrase(prompt: str, others: list[str]) -> str:
    """A few consecutive words of `prompt`, from one clause, that no other prompt contains
    (nearly): the earliest such window, so the script presses as soon as it is sure."""
    candidates = []
    for clause in _CLAUSE_BREAK.split(prompt):
        words = normalize(clause).split()
        if len(words) <= PHRASE_WORDS:
            if words:
                candidates.append(" ".join(words))
            continue
        candidates += [
            " ".join(words[start : start + PHRASE_WORDS])
            for start in range(len(words) - PHRASE_WORDS + 1)
        ]
    for candidate in candidates:
        if len(candidate.split()) < 2 and len(candidates) > 1:
            continue
        matcher = fuzzy(candidate, UNIQUE_MIN_SCORE)
        if not any(matcher.match(other).matched for other in others):
            return candidate
    whole = normalize(prompt).split()
    return " ".join(whole[: PHRASE_WORDS * 2])


def _steps(graph: MapGraph, route: Route, prompts: dict[str, str]) -> list[dict[str, Any]]:
    start = graph.start
    assert start is not None, "a route exists only when the map has a start"
    nodes = route.nodes(start)
    end = graph.nodes[nodes[-1]]
    steps: list[dict[str, Any]] = []
    segment: list[str] = []
    for index, node_id in enumerate(nodes):
        segment.append(node_id)
        leaving = route.edges[index] if index < len(route.edges) else None
        if leaving is not None and leaving.key == AUTOMATIC:
            continue
        expect = _expect(graph, segment, prompts, first=not steps)
        if expect is not None:
            steps.append(expect)
        if leaving is not None and graph.nodes[node_id].kind == "queue" and node_id in prompts:
            steps.append(_offer_on_hold(graph.nodes[node_id], leaving, prompts))
        if leaving is not None:
            steps.append({"press": leaving.key})
            segment = []
    steps += _ending(graph, end, segment)
    return steps


def _expect(
    graph: MapGraph, segment: list[str], prompts: dict[str, str], *, first: bool
) -> dict[str, Any] | None:
    """One expect step for a run of automatic prompts: the last one's phrase, because prompts
    that follow each other closely may reach the recogniser as one utterance."""
    speaking = [
        node_id
        for node_id in segment
        if node_id in prompts and graph.nodes[node_id].kind not in LISTENED_PAST
    ]
    if not speaking:
        return None
    node_id = speaking[-1]
    others = [text for other, text in prompts.items() if other != node_id]
    step: dict[str, Any] = {
        "expect": {
            "fuzzy": distinctive_phrase(prompts[node_id], others),
            "min": PHRASE_MIN_SCORE,
        },
        "within": FIRST_PROMPT_WITHIN if first else PROMPT_WITHIN,
    }
    if len(speaking) > 1 or segment.index(node_id) > 0:
        step["silence"] = CHAIN_SILENCE
    if any(graph.nodes[waited].kind == "menu" for waited in segment[:-1]):
        step["within"] = NO_INPUT_WITHIN
        step["silence"] = NO_INPUT_SILENCE
    return step


def _offer_on_hold(queue: MapNode, leaving: Edge, prompts: dict[str, str]) -> dict[str, Any]:
    """Listen through the hold music for the offer a key answers (a callback offer, named by
    the key's label as heard in it): quiet between announcements must not end the step."""
    others = [text for other, text in prompts.items() if other != queue.id]
    return {
        "expect": {
            "fuzzy": distinctive_phrase(leaving.label or queue.prompt, others),
            "min": PHRASE_MIN_SCORE,
        },
        "within": f"{max(MIN_HOLD_MAX_S, 3 * (queue.hold_s or 0.0)):.0f}s",
        "silence": OFFER_SILENCE,
    }


def _ending(graph: MapGraph, end: MapNode, segment: list[str]) -> list[dict[str, Any]]:
    queues = [graph.nodes[node_id] for node_id in segment if graph.nodes[node_id].kind == "queue"]
    if end.kind in {"human", *FAILING_ENDS}:
        steps: list[dict[str, Any]] = []
        if queues:
            hold_s = max((queue.hold_s or 0.0 for queue in queues), default=0.0)
            steps.append(
                {
                    "hold": {
                        "max": f"{max(MIN_HOLD_MAX_S, 3 * hold_s):.0f}s",
                        "start_within": HOLD_START_WITHIN,
                    }
                }
            )
        steps.append({"human": {"within": HUMAN_WITHIN}})
        return steps
    if end.kind == "voicemail" or end.options:
        return [{"hangup": True}]
    return [{"expect_hangup": {"within": HANGUP_WITHIN}}]


def _name(node: MapNode, route: Route) -> str:
    keys = " ".join(route.keys) if route.keys else "no keys"
    return f"Keys {keys} reach {node.kind} '{node.id}'"


def _header(crawl_map: CrawlMap, graph: MapGraph, route: Route, node: MapNode) -> str:
    start = graph.start or node.id
    hops = [start]
    for edge in route.edges:
        hops.append(f"-{key_name(edge.key)}-> {edge.target}")
    lines = [
        f"# Generated by shopper crawl from the map of {crawl_map.target} "
        f"(crawled {crawl_map.started_at}).",
        f"# Path: {' '.join(hops)} ({node.kind}).",
    ]
    if node.kind in FAILING_ENDS:
        lines += [
            f"# Expected to fail today: the crawl found this path ends in {node.kind}.",
            "# It asks for a person, as a caller would, and passes once the phone system is fixed.",
        ]
    return "\n".join(" ".join(line.split()) for line in lines) + "\n"
