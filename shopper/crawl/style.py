"""How each kind of node and edge looks, shared by the Mermaid, DOT and HTML renderings so a
reader who learns the colours in one picture can read the others."""

from __future__ import annotations

from shopper.crawl.map import NodeKind, Option
from shopper.crawl.mapgraph import AUTOMATIC

KIND_COLOURS: dict[NodeKind, str] = {
    "menu": "#dbeafe",
    "queue": "#fef3c7",
    "human": "#bbf7d0",
    "voicemail": "#e9d5ff",
    "closed": "#e5e7eb",
    "message": "#f3f4f6",
    "dropped": "#fecaca",
    "dead-end": "#fed7aa",
    "tone": "#fde68a",
    "limit": "#f5f5f4",
}
FINDING_COLOUR = "#dc2626"
UNEXPLORED_COLOUR = "#9ca3af"


def edge_text(option: Option) -> str:
    """'1 billing', '0' for a probed key, 'auto' where the phone system moved on by itself."""
    key = "auto" if option.key == AUTOMATIC else option.key
    return f"{key} {option.label}" if option.label else key
