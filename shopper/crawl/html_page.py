"""index.html of a crawl: the map, the scorecard, the findings and the evidence on one page.

One self-contained file (inline CSS, no script, no network) that opens from the crawl's
folder: the map is a nested list a person can follow from the start, every node has its
transcript and links that play its stretch of the call recording, and every finding links to
its node. Everything the far end said is untrusted and escaped wherever it appears.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from shopper.crawl.changes import Change
from shopper.crawl.map import CrawlMap, Finding, MapNode
from shopper.crawl.mapgraph import MapGraph, excerpt
from shopper.crawl.policy import Verdict
from shopper.crawl.scorecard import Scorecard, format_duration
from shopper.crawl.style import FINDING_COLOUR, KIND_COLOURS, edge_text


def render_page(
    crawl_map: CrawlMap,
    scorecard: Scorecard,
    verdict: Verdict,
    changes: list[Change] | None = None,
) -> str:
    sections = [
        _header(crawl_map, verdict),
        _section("Scorecard", f"<pre>{_esc(scorecard.render_text())}</pre>"),
        _section("Findings", _findings(crawl_map.findings)),
        _section("Map", _tree(crawl_map) + _legend()),
        _section("Prompts", "".join(_node(node, crawl_map) for node in crawl_map.nodes)),
    ]
    if changes is not None:
        sections.append(_section("Changes since the previous crawl", _changes(changes)))
    if crawl_map.unexplored:
        rows = "".join(
            f"<tr><td>{_node_link(item.node)}</td><td>{_esc(item.key)}</td>"
            f"<td>{_esc(item.reason)}</td></tr>"
            for item in crawl_map.unexplored
        )
        sections.append(
            _section(
                "Not explored",
                f"<table><tr><th>At</th><th>Key</th><th>Why</th></tr>{rows}</table>",
            )
        )
    links = " · ".join(
        f'<a href="{name}">{name}</a>'
        for name in ("map.json", "map.mmd", "map.dot", "scorecard.json")
    )
    sections.append(f'<p class="links">Files: {links} · <a href="scripts/">scripts/</a></p>')
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Crawl of {_esc(crawl_map.target)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{''.join(sections)}\n</body>\n</html>\n"
    )


def node_anchor(node_id: str) -> str:
    return "node-" + quote(node_id, safe="")


def _header(crawl_map: CrawlMap, verdict: Verdict) -> str:
    state = "passed" if verdict.passed else "failed"
    reasons = "".join(f"<li>{_esc(reason)}</li>" for reason in verdict.reasons)
    facts = [
        ("Started (UTC)", crawl_map.started_at),
        ("Engine", crawl_map.engine or "—"),
        ("Calls", str(crawl_map.calls)),
        ("Paths", str(crawl_map.paths)),
        ("Call time", format_duration(crawl_map.call_seconds)),
        ("Lines", str(crawl_map.lines)),
    ]
    items = "".join(f"<div><dt>{_esc(k)}</dt><dd>{_esc(v)}</dd></div>" for k, v in facts)
    return (
        f'<header><h1>Crawl of {_esc(crawl_map.target)} <span class="verdict {state}">'
        f"{state}</span></h1>"
        f"{f'<ul class=reasons>{reasons}</ul>' if reasons else ''}"
        f'<dl class="facts">{items}</dl></header>'
    )


def _findings(findings: list[Finding]) -> str:
    if not findings:
        return "<p>No findings.</p>"
    rows = "".join(
        f'<tr><td><span class="kind">{_esc(finding.kind)}</span></td>'
        f"<td>{_node_link(finding.node)}</td><td>{_esc(finding.message)}</td></tr>"
        for finding in findings
    )
    return f"<table><tr><th>Finding</th><th>At</th><th>What</th></tr>{rows}</table>"


def _tree(crawl_map: CrawlMap) -> str:
    """The map as nested lists from the start; a node already shown is a link back to it."""
    graph = MapGraph(crawl_map)
    if graph.start is None:
        return "<p>The map is empty.</p>"
    flagged = {finding.node for finding in crawl_map.findings}
    shown: set[str] = set()

    def item(node_id: str) -> str:
        node = graph.nodes[node_id]
        if node_id in shown:
            return f"{_node_link(node_id)} <span class=again>(see above)</span>"
        shown.add(node_id)
        children = []
        for option in node.options:
            edge = f'<span class="key">{_esc(edge_text(option))}</span> → '
            if option.to is None or option.to not in graph.nodes:
                children.append(f"<li>{edge}<em>not explored</em></li>")
            else:
                children.append(f"<li>{edge}{item(option.to)}</li>")
        mark = " finding" if node_id in flagged else ""
        head = (
            f'<span class="node{mark}" style="background:{KIND_COLOURS[node.kind]}">'
            f"{_node_link(node_id)} <small>{_esc(node.kind)}</small></span> "
            f"{_esc(excerpt(node.prompt, 70))}"
        )
        nested = f"<ul>{''.join(children)}</ul>" if children else ""
        return head + nested

    top = item(graph.start)
    rest = [item(node.id) for node in crawl_map.nodes if node.id not in shown]
    return f'<ul class="tree"><li>{top}</li>{"".join(f"<li>{r}</li>" for r in rest)}</ul>'


def _node(node: MapNode, crawl_map: CrawlMap) -> str:
    findings = [finding for finding in crawl_map.findings if finding.node == node.id]
    figures = []
    if node.hold_s is not None:
        figures.append(f"on hold {format_duration(node.hold_s)}")
    if node.time_to_human_s is not None:
        figures.append(f"time to human {format_duration(node.time_to_human_s)}")
    if node.callback_offered is not None:
        figures.append("callback offered" if node.callback_offered else "no callback offer")
    evidence = "".join(
        f"<li>{_esc(item.call_id)} {item.start_s:.1f} to {item.end_s:.1f} s "
        f'<audio controls preload="none" '
        f'src="{_esc(item.recording)}#t={item.start_s:.2f},{item.end_s:.2f}"></audio>'
        f' <a href="{_esc(item.recording)}">recording</a></li>'
        for item in node.evidence
    )
    keys = " ".join(node.path) if node.path else "none"
    notes = "".join(
        f'<p class="finding-note"><span class="kind">{_esc(f.kind)}</span> {_esc(f.message)}</p>'
        for f in findings
    )
    return (
        f'<article id="{_esc(node_anchor(node.id))}">'
        f'<h3><span class="node" style="background:{KIND_COLOURS[node.kind]}">'
        f"{_esc(node.id)}</span> <small>{_esc(node.kind)} · keys {_esc(keys)}"
        f"{' · ' + _esc(', '.join(figures)) if figures else ''}</small></h3>"
        f'<p class="prompt">{_esc(node.prompt) or "<em>(nothing said)</em>"}</p>'
        f"{notes}{f'<ul class=evidence>{evidence}</ul>' if evidence else ''}</article>"
    )


def _changes(changes: list[Change]) -> str:
    if not changes:
        return "<p>Nothing changed.</p>"
    rows = "".join(
        f'<tr><td><span class="kind">{_esc(change.kind)}</span></td>'
        f"<td>{_node_link(change.node)}</td><td>{_esc(change.message)}</td></tr>"
        for change in changes
    )
    return f"<table><tr><th>Change</th><th>At</th><th>What</th></tr>{rows}</table>"


def _legend() -> str:
    items = "".join(
        f'<span><i style="background:{colour}"></i>{_esc(kind)}</span>'
        for kind, colour in KIND_COLOURS.items()
    )
    return f'<p class="legend">{items}</p>'


def _node_link(node_id: str) -> str:
    return f'<a href="#{_esc(node_anchor(node_id))}">{_esc(node_id)}</a>'


def _section(title: str, content: str) -> str:
    return f"<section><h2>{_esc(title)}</h2>{content}</section>"


def _esc(value: str) -> str:
    return html.escape(value, quote=True)


CSS = f"""
:root{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:#111827}}
body{{margin:0 auto;padding:16px 24px 48px;max-width:1280px;background:#f9fafb}}
h1{{font-size:22px;margin:4px 0 6px;display:flex;align-items:center;gap:12px;flex-wrap:wrap}}
h2{{font-size:16px;margin:22px 0 8px}}h3{{font-size:14px;margin:14px 0 4px}}
.verdict{{color:#fff;border-radius:4px;padding:2px 10px;font-size:14px;text-transform:uppercase}}
.verdict.passed{{background:#15803d}}.verdict.failed{{background:#b91c1c}}
.reasons{{background:#fef2f2;border-left:4px solid #b91c1c;padding:8px 12px 8px 28px}}
.facts{{display:flex;flex-wrap:wrap;gap:4px 22px;margin:8px 0}}
.facts div{{display:flex;gap:6px}}.facts dt{{color:#6b7280}}.facts dd{{margin:0}}
pre{{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:10px}}
table{{border-collapse:collapse;width:100%;background:#fff;font-size:13px}}
th,td{{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}}
th{{background:#f3f4f6}}.kind{{font-family:ui-monospace,monospace;font-weight:600}}
.tree,.tree ul{{list-style:none;padding-left:22px}}.tree li{{margin:3px 0}}
.node{{border:1px solid #9ca3af;border-radius:4px;padding:0 6px}}
.node.finding{{border:2px solid {FINDING_COLOUR}}}
.key{{font-family:ui-monospace,monospace;color:#1d4ed8}}.again{{color:#6b7280}}
article{{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:4px 12px;
margin:8px 0}}
.prompt{{white-space:pre-wrap}}.finding-note{{color:{FINDING_COLOUR};margin:4px 0}}
.evidence{{font-size:13px}}audio{{height:28px;vertical-align:middle;max-width:320px}}
.legend{{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px}}
.legend i{{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;
vertical-align:-2px;border:1px solid #9ca3af}}
.links{{font-size:13px;margin-top:22px}}
"""
