"""The map as a Mermaid flowchart (map.mmd), for Markdown viewers and documentation.

Prompts are what a far end said, so they are untrusted text: every character Mermaid gives a
meaning to is written as a Mermaid entity code, and line breaks are the renderer's own.
"""

from __future__ import annotations

from shopper.crawl.findings import loop_edge_keys
from shopper.crawl.map import CrawlMap, MapNode, NodeKind
from shopper.crawl.mapgraph import excerpt
from shopper.crawl.style import FINDING_COLOUR, KIND_COLOURS, UNEXPLORED_COLOUR, edge_text

SHAPES: dict[NodeKind, tuple[str, str]] = {
    "menu": ("[", "]"),
    "queue": ("[/", "/]"),
    "human": ("([", "])"),
    "voicemail": ("[(", ")]"),
    "closed": ("[[", "]]"),
    "message": (">", "]"),
    "dropped": ("((", "))"),
    "dead-end": ("{{", "}}"),
    "tone": ("[/", "\\]"),
    "limit": ("[\\", "/]"),
}
_SPECIAL = set('"#&<>|[](){}`;\\')


def render_mermaid(crawl_map: CrawlMap) -> str:
    ids = {node.id: f"n{index}" for index, node in enumerate(crawl_map.nodes)}
    loop_edges = loop_edge_keys(crawl_map)
    flagged = {finding.node for finding in crawl_map.findings}
    lines = ["flowchart TD"]
    for node in crawl_map.nodes:
        opening, closing = SHAPES[node.kind]
        lines.append(f'  {ids[node.id]}{opening}"{node_label(node)}"{closing}')
    red_links: list[int] = []
    grey_links: list[int] = []
    link = 0
    for node in crawl_map.nodes:
        for number, option in enumerate(node.options):
            text = mermaid_text(edge_text(option))
            if option.to is None or option.to not in ids:
                placeholder = f"{ids[node.id]}u{number}"
                lines.append(f'  {placeholder}(("not explored"))')
                lines.append(f'  {ids[node.id]} -.->|"{text}"| {placeholder}')
                grey_links.append(link)
            else:
                arrow = "-.->" if not option.offered else "-->"
                lines.append(f'  {ids[node.id]} {arrow}|"{text}"| {ids[option.to]}')
                if (node.id, option.key, option.to) in loop_edges:
                    red_links.append(link)
            link += 1
    for kind, colour in KIND_COLOURS.items():
        lines.append(f"  classDef {_class(kind)} fill:{colour},stroke:#374151,color:#111827")
    lines.append(f"  classDef finding stroke:{FINDING_COLOUR},stroke-width:3px")
    for node in crawl_map.nodes:
        lines.append(f"  class {ids[node.id]} {_class(node.kind)}")
    if flagged:
        lines.append(f"  class {','.join(ids[n] for n in ids if n in flagged)} finding")
    if red_links:
        indexes = ",".join(str(index) for index in red_links)
        lines.append(f"  linkStyle {indexes} stroke:{FINDING_COLOUR},stroke-width:3px")
    if grey_links:
        indexes = ",".join(str(index) for index in grey_links)
        lines.append(f"  linkStyle {indexes} stroke:{UNEXPLORED_COLOUR}")
    return "\n".join(lines) + "\n"


def node_label(node: MapNode) -> str:
    head = mermaid_text(f"{node.id} · {node.kind}")
    return f"{head}<br/>{mermaid_text(excerpt(node.prompt, 40))}" if node.prompt else head


def mermaid_text(text: str) -> str:
    """`text` on one line with Mermaid's special characters as entity codes (#34; for ")."""
    flat = " ".join(text.split())
    return "".join(f"#{ord(char)};" if char in _SPECIAL else char for char in flat)


def _class(kind: NodeKind) -> str:
    return "k_" + kind.replace("-", "_")
