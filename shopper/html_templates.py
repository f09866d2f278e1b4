"""The one way shopper's HTML pages are made: Jinja2 templates that escape every value.

A report shows text the far end said and names a user typed, so nothing may reach the page
unescaped by accident. Autoescaping is on for every template (they are all HTML; the CSS and
script they include are template source, never values), and a value a template names but
the renderer did not give fails loudly instead of printing as empty text.
"""

from __future__ import annotations

from functools import cache

import jinja2


@cache
def template_environment(package: str) -> jinja2.Environment:
    """The settings every page is rendered with, loading from `package`'s templates/ folder."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def load_template(package: str, name: str) -> jinja2.Template:
    """`name` from `package`'s templates/ folder, shipped as package data."""
    return template_environment(package).get_template(name)
