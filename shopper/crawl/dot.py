"""The map as a Graphviz DOT graph (map.dot): `dot -Tsvg map.dot > map.svg` draws it.

Every id and label is a quoted DOT string with backslashes and quotes escaped, so a prompt
can never close a string or inject attributes.
"""

from __future__ import annotations

from shopper.crawl.findings import loop_edge_keys
from shopper.crawl.map import CrawlMap, MapNode, NodeKind
from shopper.crawl.mapgraph import excerpt
from shopper.crawl.style import FINDING_COLOUR, KIND_COLOURS, UNEXPLORED_COLOUR, edge_text

SHAPES: dict[NodeKind, str] = {
    "menu": "box",
    "queue": "parallelogram",
    "human": "ellipse",
    "voicemail": "cylinder",
    "closed": "box3d",
    "message": "note",
    "dropped": "octagon",
    "dead-end": "hexagon",
    "tone": "trapezium",
    "limit": "invtrapezium",
}


def render_dot(crawl_map: CrawlMap) -> str:
    loop_edges = loop_edge_keys(crawl_map)
    flagged = {finding.node for finding in crawl_map.findings}
    lines = [
        f"digraph {dot_string(crawl_map.target)} {{",
        '  graph [rankdir=TB, fontname="Helvetica"];',
        '  node [style="filled,rounded", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    known = {node.id for node in crawl_map.nodes}
    for node in crawl_map.nodes:
        attributes = [
            f"label={dot_string(node_label(node))}",
            f"shape={SHAPES[node.kind]}",
            f'fillcolor="{KIND_COLOURS[node.kind]}"',
        ]
        if node.id in flagged:
            attributes += [f'color="{FINDING_COLOUR}"', "penwidth=3"]
        lines.append(f"  {dot_string(node.id)} [{', '.join(attributes)}];")
    for node in crawl_map.nodes:
        for number, option in enumerate(node.options):
            label = f"label={dot_string(edge_text(option))}"
            if option.to is None or option.to not in known:
                placeholder = dot_string(f"{node.id} {number} not explored")
                lines.append(
                    f'  {placeholder} [label="not explored", shape=plaintext, style="", '
                    f'fontcolor="{UNEXPLORED_COLOUR}"];'
                )
                lines.append(
                    f"  {dot_string(node.id)} -> {placeholder} "
                    f'[{label}, style=dashed, color="{UNEXPLORED_COLOUR}"];'
                )
                continue
            attributes = [label]
            if not option.offered:
                attributes.append("style=dashed")
            if (node.id, option.key, option.to) in loop_edges:
                attributes += [f'color="{FINDING_COLOUR}"', "penwidth=2.5"]
            lines.append(
                f"  {dot_string(node.id)} -> {dot_string(option.to)} [{', '.join(attributes)}];"
            )
    lines.append("}")
    return "\n".join(lines) + "\n"


def node_label(node: MapNode) -> str:
    head = f"{node.id} ({node.kind})"
    return f"{head}\n{excerpt(node.prompt, 40)}" if node.prompt else head


def dot_string(text: str) -> str:
    """`text` as a quoted DOT string; a line break in it becomes DOT's centred \\n."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    lines = [" ".join(line.split()) for line in escaped.splitlines()] or [""]
    return '"' + "\\n".join(lines) + '"'
