"""index.html of a crawl: the map, the scorecard, the findings and the evidence on one page.

One self-contained file (inline CSS, no script, no network) that opens from the crawl's
folder: the map is a nested list a person can follow from the start, every node has its
transcript and links that play its stretch of the call recording, and every finding links to
its node. Everything the far end said is untrusted: this module only decides what the page
shows, and templates/page.html.j2 writes the markup with Jinja2's autoescaping, so every value
is escaped wherever it appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from shopper.crawl.changes import Change
from shopper.crawl.map import CrawlMap, Finding, MapNode, Unexplored
from shopper.crawl.mapgraph import MapGraph, excerpt
from shopper.crawl.policy import Verdict
from shopper.crawl.scorecard import Scorecard, format_duration
from shopper.crawl.style import FINDING_COLOUR, KIND_COLOURS, edge_text
from shopper.html_templates import load_template

TEMPLATE = "page.html.j2"
FILES = ("map.json", "map.mmd", "map.dot", "scorecard.json")
"""The crawl's other outputs, linked at the foot of the page."""


# --- what the page shows (plain values only: the template escapes every one) ---------------


@dataclass(frozen=True, slots=True)
class NodeLink:
    """A node's id as a link to its entry under Prompts."""

    anchor: str
    node_id: str


@dataclass(frozen=True, slots=True)
class Fact:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Header:
    target: str
    state: str
    """passed or failed."""
    reasons: list[str]
    facts: list[Fact]
    stopped: str | None
    """Why the crawl stopped before its end (the map is incomplete); None when it did not."""


@dataclass(frozen=True, slots=True)
class NodeRow:
    """A finding or a change: what kind, at which node, and what it says."""

    kind: str
    at: NodeLink
    message: str


@dataclass(frozen=True, slots=True)
class UnexploredRow:
    at: NodeLink
    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class TreeEdge:
    key: str
    """The key and its label, as the Mermaid and DOT pictures write it."""
    to: TreeItem | None
    """None when the key was not explored."""


@dataclass(frozen=True, slots=True)
class TreeItem:
    """A node in the nested list; `repeated` when it is already shown higher up."""

    link: NodeLink
    repeated: bool
    kind: str
    colour: str
    flagged: bool
    prompt: str
    edges: list[TreeEdge]


@dataclass(frozen=True, slots=True)
class Note:
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    call_id: str
    span: str
    """'1.0 to 4.5 s' into the call's recording."""
    player_src: str
    """The recording with a media fragment, so the player plays just this node's stretch."""
    recording: str


@dataclass(frozen=True, slots=True)
class NodeEntry:
    anchor: str
    node_id: str
    kind: str
    colour: str
    keys: str
    figures: str
    prompt: str
    notes: list[Note]
    evidence: list[EvidenceItem]


@dataclass(frozen=True, slots=True)
class LegendEntry:
    colour: str
    kind: str


@dataclass(frozen=True, slots=True)
class Page:
    header: Header
    scorecard: str
    findings: list[NodeRow]
    tree: list[TreeItem]
    """The start first, then every node no path from the start reaches; empty for no map."""
    legend: list[LegendEntry]
    nodes: list[NodeEntry]
    changes: list[NodeRow] | None
    """None when there was no previous crawl to compare with."""
    unexplored: list[UnexploredRow]
    files: tuple[str, ...]
    finding_colour: str


def render_page(
    crawl_map: CrawlMap,
    scorecard: Scorecard,
    verdict: Verdict,
    changes: list[Change] | None = None,
) -> str:
    page = Page(
        header=_header(crawl_map, verdict),
        scorecard=scorecard.render_text(),
        findings=_findings(crawl_map.findings),
        tree=_tree(crawl_map),
        legend=_legend(),
        nodes=[_node(node, crawl_map) for node in crawl_map.nodes],
        changes=None if changes is None else _changes(changes),
        unexplored=_unexplored(crawl_map.unexplored),
        files=FILES,
        finding_colour=FINDING_COLOUR,
    )
    return load_template("shopper.crawl", TEMPLATE).render(page=page)


def node_anchor(node_id: str) -> str:
    return "node-" + quote(node_id, safe="")


def _header(crawl_map: CrawlMap, verdict: Verdict) -> Header:
    facts = [
        Fact("Started (UTC)", crawl_map.started_at),
        Fact("Engine", crawl_map.engine or "—"),
        Fact("Calls", str(crawl_map.calls)),
        Fact("Paths", str(crawl_map.paths)),
        Fact("Call time", format_duration(crawl_map.call_seconds)),
        Fact("Lines", str(crawl_map.lines)),
    ]
    state = "passed" if verdict.passed else "failed"
    return Header(crawl_map.target, state, list(verdict.reasons), facts, crawl_map.stopped)


def _findings(findings: list[Finding]) -> list[NodeRow]:
    return [
        NodeRow(finding.kind, _node_link(finding.node), finding.message) for finding in findings
    ]


def _tree(crawl_map: CrawlMap) -> list[TreeItem]:
    """The map as nested lists from the start; a node already shown is a link back to it."""
    graph = MapGraph(crawl_map)
    if graph.start is None:
        return []
    flagged = {finding.node for finding in crawl_map.findings}
    shown: set[str] = set()

    def item(node_id: str) -> TreeItem:
        node = graph.nodes[node_id]
        colour = KIND_COLOURS[node.kind]
        link = _node_link(node_id)
        if node_id in shown:
            return TreeItem(link, True, node.kind, colour, node_id in flagged, "", [])
        shown.add(node_id)
        edges = [
            TreeEdge(
                edge_text(option),
                None if option.to is None or option.to not in graph.nodes else item(option.to),
            )
            for option in node.options
        ]
        prompt = excerpt(node.prompt, 70)
        return TreeItem(link, False, node.kind, colour, node_id in flagged, prompt, edges)

    top = item(graph.start)
    return [top] + [item(node.id) for node in crawl_map.nodes if node.id not in shown]


def _node(node: MapNode, crawl_map: CrawlMap) -> NodeEntry:
    figures = []
    if node.hold_s is not None:
        figures.append(f"on hold {format_duration(node.hold_s)}")
    if node.time_to_human_s is not None:
        figures.append(f"time to human {format_duration(node.time_to_human_s)}")
    if node.callback_offered is not None:
        figures.append("callback offered" if node.callback_offered else "no callback offer")
    evidence = [
        EvidenceItem(
            call_id=item.call_id,
            span=f"{item.start_s:.1f} to {item.end_s:.1f} s",
            player_src=f"{item.recording}#t={item.start_s:.2f},{item.end_s:.2f}",
            recording=item.recording,
        )
        for item in node.evidence
    ]
    notes = [
        Note(finding.kind, finding.message)
        for finding in crawl_map.findings
        if finding.node == node.id
    ]
    return NodeEntry(
        anchor=node_anchor(node.id),
        node_id=node.id,
        kind=node.kind,
        colour=KIND_COLOURS[node.kind],
        keys=" ".join(node.path) if node.path else "none",
        figures=", ".join(figures),
        prompt=node.prompt,
        notes=notes,
        evidence=evidence,
    )


def _changes(changes: list[Change]) -> list[NodeRow]:
    return [NodeRow(change.kind, _node_link(change.node), change.message) for change in changes]


def _unexplored(unexplored: list[Unexplored]) -> list[UnexploredRow]:
    return [UnexploredRow(_node_link(item.node), item.key, item.reason) for item in unexplored]


def _legend() -> list[LegendEntry]:
    return [LegendEntry(colour, kind) for kind, colour in KIND_COLOURS.items()]


def _node_link(node_id: str) -> NodeLink:
    return NodeLink(node_anchor(node_id), node_id)
