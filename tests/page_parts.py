"""What a browser would make of an HTML page: its elements, their attributes and its text.

Tests that feed hostile text into a page check two things with it: no element or attribute
came from the text (only the page's own markup), and the text itself is shown whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

HOSTILE = "\"'><img src=x onerror=alert(1)></title></svg></pre><script>alert(2)</script>&amp;"
"""Breaks out of an attribute, an SVG title, the SVG, a <pre> and into a script if unescaped."""


@dataclass
class PageParts:
    tags: list[str] = field(default_factory=list)
    attribute_names: set[str] = field(default_factory=set)
    values: list[str] = field(default_factory=list)
    """Every text run and attribute value, decoded as a browser decodes them."""


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts = PageParts()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.tags.append(tag)
        for name, value in attrs:
            self.parts.attribute_names.add(name)
            self.parts.values.append(value or "")

    def handle_data(self, data: str) -> None:
        self.parts.values.append(data)


def page_parts(page: str) -> PageParts:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return reader.parts


def shown_whole(text: str, parts: PageParts) -> bool:
    """`text` appears in one text run or attribute value, decoded back to what it was."""
    return any(text in value for value in parts.values)
