"""The map of a phone system as a crawl learned it from audio alone (schema shopper.map/1).

Everything a crawl produces — the map JSON, the pictures, the HTML page, the regression
scripts, the scorecard and the comparison with an earlier crawl — is a view of this one
structure, so they can never disagree. It is plain data: the crawler fills it in, the
renderers only read it, and `CrawlMap.from_json` reads a previous crawl's file back for an
incremental re-crawl.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

MAP_SCHEMA = "shopper.map/1"

NodeKind = Literal[
    "menu",
    "queue",
    "human",
    "voicemail",
    "closed",
    "message",
    "dropped",
    "dead-end",
    "tone",
    "limit",
]
NODE_KINDS: tuple[NodeKind, ...] = get_args(NodeKind)

FindingKind = Literal[
    "no-zero-out",
    "loop",
    "dead-end",
    "dropped",
    "no-human-path",
    "long-hold",
    "no-callback-offer",
    "deep-human",
    "invalid-key-drops",
]
FINDING_KINDS: tuple[FindingKind, ...] = get_args(FindingKind)


@dataclass(slots=True)
class Option:
    """One key tried at a menu: offered in the prompt (with the label heard) or probed."""

    key: str
    """The key pressed ("1", "*", "#"), or "" where the phone system moved on by itself
    without a key (a transfer announcement, a message followed by another prompt)."""
    label: str | None
    """What the prompt said the key is for ("billing"; at a queue, what its hold's callback
    offer said, pressed on hold after that offer); None for a key the prompt never offered
    (0, * and # are tried anyway, to test zero-out and invalid-key handling)."""
    to: str | None
    """Id of the node the key led to; None while unexplored (see CrawlMap.unexplored)."""
    offered: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "to": self.to, "offered": self.offered}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Option:
        return cls(data["key"], data.get("label"), data.get("to"), data.get("offered", True))


@dataclass(slots=True)
class Evidence:
    """Where a node was heard: the call's folder (relative to the crawl's --out) and when."""

    call_id: str
    start_s: float
    end_s: float
    recording: str
    """Path of the call's recording.wav relative to the crawl's output folder."""

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "recording": self.recording,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        return cls(data["call_id"], data["start_s"], data["end_s"], data["recording"])


@dataclass(slots=True)
class MapNode:
    id: str
    prompt: str
    """The prompt's transcript as heard (first hearing)."""
    kind: NodeKind
    path: list[str]
    """Keys pressed from the start of the call to reach this node, one string per press."""
    options: list[Option] = field(default_factory=list)
    time_to_human_s: float | None = None
    hold_s: float | None = None
    callback_offered: bool | None = None
    """For queues, and people reached after a hold: whether a callback was offered during
    the hold; None elsewhere."""
    evidence: list[Evidence] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "kind": self.kind,
            "options": [option.to_json() for option in self.options],
            "time_to_human_s": self.time_to_human_s,
            "hold_s": self.hold_s,
            "callback_offered": self.callback_offered,
            "path": list(self.path),
            "evidence": [item.to_json() for item in self.evidence],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MapNode:
        return cls(
            id=data["id"],
            prompt=data["prompt"],
            kind=data["kind"],
            path=list(data["path"]),
            options=[Option.from_json(item) for item in data.get("options", [])],
            time_to_human_s=data.get("time_to_human_s"),
            hold_s=data.get("hold_s"),
            callback_offered=data.get("callback_offered"),
            evidence=[Evidence.from_json(item) for item in data.get("evidence", [])],
        )


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    node: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "node": self.node, "message": self.message}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(data["kind"], data["node"], data["message"])


@dataclass(frozen=True, slots=True)
class Unexplored:
    """A key the crawl knew of but did not follow, and which budget stopped it."""

    node: str
    key: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "key": self.key, "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Unexplored:
        return cls(data["node"], data["key"], data["reason"])


@dataclass(slots=True)
class CrawlMap:
    target: str
    started_at: str
    """UTC, ISO 8601 with a Z."""
    nodes: list[MapNode] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unexplored: list[Unexplored] = field(default_factory=list)
    calls: int = 0
    """Calls dialled."""
    call_seconds: float = 0.0
    paths: int = 0
    """Key paths explored: one per call, and one more for each time a call went on from a
    known menu to serve another path instead of hanging up (docs/crawl.md)."""
    lower_bound_s: float = 0.0
    """Seconds needed to hear each distinct prompt once: the cost no crawl can go below."""
    wall_s: float = 0.0
    lines: int = 1
    """Concurrent calls the crawl used."""
    engine: str = ""
    at: str | None = None
    """The local moment (ISO 8601) the called phone system was told it is (`--at`), so that a
    re-crawl or a regression script takes the same opening-hours branch; None for its clock."""
    stopped: str | None = None
    """Why the crawl stopped before its end ("interrupted by SIGTERM"); None when it ran to
    its end (budgets included, see `unexplored`). A stopped crawl's map holds what the calls
    that finished learned: what it did not reach is unknown, not absent."""

    @property
    def complete(self) -> bool:
        return self.stopped is None

    def node(self, node_id: str) -> MapNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": MAP_SCHEMA,
            "target": self.target,
            "started_at": self.started_at,
            "engine": self.engine,
            "at": self.at,
            "nodes": [node.to_json() for node in self.nodes],
            "findings": [finding.to_json() for finding in self.findings],
            "unexplored": [item.to_json() for item in self.unexplored],
            "calls": self.calls,
            "paths": self.paths,
            "call_seconds": round(self.call_seconds, 3),
            "lower_bound_s": round(self.lower_bound_s, 3),
            "wall_s": round(self.wall_s, 3),
            "lines": self.lines,
            "complete": self.complete,
            "stopped": self.stopped,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CrawlMap:
        return cls(
            target=data["target"],
            started_at=data["started_at"],
            engine=data.get("engine", ""),
            at=data.get("at"),
            nodes=[MapNode.from_json(item) for item in data["nodes"]],
            findings=[Finding.from_json(item) for item in data.get("findings", [])],
            unexplored=[Unexplored.from_json(item) for item in data.get("unexplored", [])],
            calls=data.get("calls", 0),
            paths=data.get("paths", data.get("calls", 0)),
            call_seconds=data.get("call_seconds", 0.0),
            lower_bound_s=data.get("lower_bound_s", 0.0),
            wall_s=data.get("wall_s", 0.0),
            lines=data.get("lines", 1),
            stopped=data.get("stopped"),
        )
