"""The template settings every HTML page is rendered with: escape everything, fail loudly."""

import jinja2
import pytest

from shopper.html_templates import template_environment


@pytest.mark.parametrize("package", ["shopper.results", "shopper.crawl"])
def test_values_are_escaped_and_a_missing_one_is_an_error(package: str) -> None:
    template = template_environment(package).from_string('<a title="{{ x }}">{{ x }}</a>')
    assert template.render(x="\"<b>'&") == (
        '<a title="&#34;&lt;b&gt;&#39;&amp;">&#34;&lt;b&gt;&#39;&amp;</a>'
    )
    with pytest.raises(jinja2.UndefinedError, match="'x' is undefined"):
        template.render()
