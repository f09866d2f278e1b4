"""What changed in a phone system since an earlier crawl: prompts and routing.

Nodes of the two maps are paired by position first — the keys a caller presses to get there
and the automatic transitions after them — because a reworded prompt may get a new id from
the explorer while it stays where it was; what is left is paired by id. Prompt text is
compared after normalisation with the spelling-tolerant fuzzy matcher, so a recognition slip
between two crawls of the same audio is not reported as a rewording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shopper.crawl.map import CrawlMap, MapNode, Option
from shopper.crawl.mapgraph import MapGraph, excerpt, key_name
from shopper.text.match import fuzzy
from shopper.text.normalize import normalize

ChangeKind = Literal[
    "new-prompt",
    "missing-prompt",
    "reworded",
    "kind-changed",
    "option-added",
    "option-removed",
    "route-changed",
    "label-changed",
]

SAME_TEXT_SIMILARITY = 0.8
"""Prompts at least this similar (1 = same words) count as unchanged."""

SAME_PLACE_SIMILARITY = 0.35
"""Below this, a prompt in the place of an earlier one with another id replaced it: the old
one is reported missing and the new one new, instead of one rewording."""

Position = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    node: str
    """The node's id in the current map (in the previous map for a missing prompt)."""
    message: str
    before: str | None = None
    after: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "node": self.node,
            "message": self.message,
            "before": self.before,
            "after": self.after,
        }


def compare_maps(
    previous: CrawlMap, current: CrawlMap, same_similarity: float = SAME_TEXT_SIMILARITY
) -> list[Change]:
    """Changes from `previous` to `current`, in the current map's node order."""
    old_graph, new_graph = MapGraph(previous), MapGraph(current)
    pairs = _pair_nodes(old_graph, new_graph)
    changes: list[Change] = []
    paired_new = set(pairs.values())
    for node in current.nodes:
        if node.id not in paired_new:
            changes.append(
                Change(
                    "new-prompt",
                    node.id,
                    f"new {node.kind} '{node.id}' after keys {_keys(new_graph, node)}: "
                    f"\u201c{excerpt(node.prompt)}\u201d",
                    after=node.prompt,
                )
            )
    by_new = {new: old for old, new in pairs.items()}
    for node in current.nodes:
        if node.id in by_new:
            old_node = previous.node(by_new[node.id])
            changes += _node_changes(old_node, node, pairs, same_similarity)
    for node in previous.nodes:
        if node.id not in pairs:
            changes.append(
                Change(
                    "missing-prompt",
                    node.id,
                    f"{node.kind} '{node.id}' after keys {_keys(old_graph, node)} is no longer "
                    f"heard: \u201c{excerpt(node.prompt)}\u201d",
                    before=node.prompt,
                )
            )
    return changes


def text_similarity(first: str, second: str) -> float:
    """1 for the same words once normalised, falling towards 0 as words differ; symmetric."""
    first_words, second_words = normalize(first), normalize(second)
    if not first_words or not second_words:
        return 1.0 if first_words == second_words else 0.0
    return min(
        fuzzy(first_words, 0.0).match(second_words).score,
        fuzzy(second_words, 0.0).match(first_words).score,
    )


def _pair_nodes(old_graph: MapGraph, new_graph: MapGraph) -> dict[str, str]:
    """Previous node id -> current node id: by position when the id or most of the words
    stayed, then by id."""
    new_by_position: dict[Position, str] = {}
    for node_id in new_graph.nodes:
        new_by_position.setdefault(_position(new_graph, node_id), node_id)
    pairs: dict[str, str] = {}
    for node_id in old_graph.nodes:
        found = new_by_position.get(_position(old_graph, node_id))
        if found is None or found in pairs.values():
            continue
        old_prompt, new_prompt = old_graph.nodes[node_id].prompt, new_graph.nodes[found].prompt
        if found == node_id or text_similarity(old_prompt, new_prompt) >= SAME_PLACE_SIMILARITY:
            pairs[node_id] = found
    taken = set(pairs.values())
    for node_id in old_graph.nodes:
        if node_id not in pairs and node_id in new_graph.nodes and node_id not in taken:
            pairs[node_id] = node_id
            taken.add(node_id)
    return pairs


def _position(graph: MapGraph, node_id: str) -> Position:
    route = graph.routes.get(node_id)
    if route is None:
        return ("unreachable", node_id)
    return (*route.keys, f"+{route.automatic_hops}")


def _keys(graph: MapGraph, node: MapNode) -> str:
    route = graph.routes.get(node.id)
    keys = list(route.keys) if route is not None else node.path
    return " ".join(keys) if keys else "none"


def _node_changes(
    old: MapNode, new: MapNode, pairs: dict[str, str], same_similarity: float
) -> list[Change]:
    changes = []
    similarity = text_similarity(old.prompt, new.prompt)
    if similarity < same_similarity:
        changes.append(
            Change(
                "reworded",
                new.id,
                f"'{new.id}' now says \u201c{excerpt(new.prompt)}\u201d, was \u201c"
                f"{excerpt(old.prompt)}\u201d (similarity {similarity:.2f})",
                before=old.prompt,
                after=new.prompt,
            )
        )
    if old.kind != new.kind:
        changes.append(
            Change(
                "kind-changed",
                new.id,
                f"'{new.id}' was a {old.kind}, is now a {new.kind}",
                before=old.kind,
                after=new.kind,
            )
        )
    return changes + _option_changes(old, new, pairs, same_similarity)


def _option_changes(
    old: MapNode, new: MapNode, pairs: dict[str, str], same_similarity: float
) -> list[Change]:
    changes: list[Change] = []
    old_options = _by_key(old.options)
    new_options = _by_key(new.options)
    changes += [
        Change(
            "option-added",
            new.id,
            f"'{new.id}' now offers {key_name(key)}{_label(option)}",
            after=_option_text(option),
        )
        for key, option in _offered_only(new_options, old_options)
    ]
    changes += [
        Change(
            "option-removed",
            new.id,
            f"'{new.id}' no longer offers {key_name(key)}{_label(option)}",
            before=_option_text(option),
        )
        for key, option in _offered_only(old_options, new_options)
    ]
    for key, option in new_options.items():
        before = old_options.get(key)
        if before is None:
            continue
        if before.to is not None and option.to is not None and pairs.get(before.to) != option.to:
            changes.append(
                Change(
                    "route-changed",
                    new.id,
                    f"{key_name(key)} at '{new.id}' now leads to '{option.to}', was '{before.to}'",
                    before=before.to,
                    after=option.to,
                )
            )
        if (
            before.label is not None
            and option.label is not None
            and text_similarity(before.label, option.label) < same_similarity
        ):
            changes.append(
                Change(
                    "label-changed",
                    new.id,
                    f"{key_name(key)} at '{new.id}' is now for \u201c{option.label}\u201d, was "
                    f"\u201c{before.label}\u201d",
                    before=before.label,
                    after=option.label,
                )
            )
    return changes


def _by_key(options: list[Option]) -> dict[str, Option]:
    found: dict[str, Option] = {}
    for option in options:
        found.setdefault(option.key, option)
    return found


def _offered_only(
    options: dict[str, Option], others: dict[str, Option]
) -> list[tuple[str, Option]]:
    """Keys offered in `options` that `others` does not offer."""
    return [
        (key, option)
        for key, option in options.items()
        if option.offered and not (key in others and others[key].offered)
    ]


def _label(option: Option) -> str:
    return f" (\u201c{option.label}\u201d)" if option.label else ""


def _option_text(option: Option) -> str:
    return f"{key_name(option.key)}: {option.label or ''} -> {option.to or '?'}"
