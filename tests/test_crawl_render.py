"""Every crawl output: pictures and page that survive hostile prompt text, the output folder
and its schema, and generated regression scripts that load and run against the sandbox."""

import asyncio
import html
import json
import re
from pathlib import Path

import jsonschema
import pytest
from crawl_maps import acme_map, globex_map
from page_parts import HOSTILE, page_parts, shown_whole

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.crawl.dot import render_dot
from shopper.crawl.findings import find_problems
from shopper.crawl.html_page import render_page
from shopper.crawl.map import CrawlMap, Evidence, MapNode, Option, Unexplored
from shopper.crawl.mapgraph import excerpt
from shopper.crawl.mermaid import render_mermaid
from shopper.crawl.outputs import (
    crawl_payload,
    crawl_target_id,
    judge,
    write_crawl_outputs,
)
from shopper.crawl.policy import Policy
from shopper.crawl.regression import distinctive_phrase
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

pytestmark = pytest.mark.slow

REPO = Path(__file__).parent.parent
SCHEMA = json.loads((REPO / "shopper/crawl/schema/map.schema.json").read_text())
NASTY = 'S"y" [n]|<i>&#1;{x}(y)`z`\n-->\\ <script>alert(1)</script>'
DOT_STRING = r'"(?:[^"\\]|\\.)*"'


def nasty_map() -> CrawlMap:
    return CrawlMap(
        target="ivr.yaml",
        started_at="2024-05-06T14:00:00Z",
        nodes=[
            MapNode(
                'main"1',
                NASTY,
                "menu",
                [],
                [Option("1", 'the "best" <deal> | x', "end"), Option("2", None, None)],
                evidence=[Evidence("call-1", 1.0, 4.5, "calls/call-1/recording.wav")],
            ),
            MapNode("end", "Bye [now]; {ok}", "message", ["1"]),
        ],
    )


def test_mermaid_quotes_every_special_character() -> None:
    text = render_mermaid(nasty_map())
    labels = re.findall(r'^  n\d+u?\d*[\[\(>{/\\]+"([^"]*)"[\]\)}/\\]+$', text, flags=re.M)
    assert len(labels) == 3, text
    decoded = re.sub(r"#(\d+);", lambda found: chr(int(found[1])), labels[0])
    assert decoded == f'main"1 · menu<br/>{excerpt(NASTY, 40)}'
    for label in labels:
        assert not set(label.replace("<br/>", "")) & set('"<>[]{}()|`\\')
    edge_labels = re.findall(r'\|"([^"]*)"\|', text)
    assert edge_labels[0] == "1 the #34;best#34; #60;deal#62; #124; x"


def test_dot_strings_cannot_be_broken_out_of() -> None:
    text = render_dot(nasty_map())
    statement = re.compile(rf"^  {DOT_STRING}( -> {DOT_STRING})? \[(.*)\];$")
    body = text.splitlines()[4:-1]
    assert body and all(statement.match(line) for line in body), text
    label = re.search(rf"label=({DOT_STRING})", body[0])
    assert label is not None
    unquoted = label[1][1:-1].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
    assert unquoted == f'main"1 (menu)\n{excerpt(NASTY, 40)}'


def test_html_page_escapes_and_links_evidence(tmp_path: Path) -> None:
    write_crawl_outputs(nasty_map(), tmp_path)
    page = (tmp_path / "index.html").read_text()
    assert "<script>" not in page
    assert html.escape("<script>alert(1)</script>") in page
    assert 'src="calls/call-1/recording.wav#t=1.00,4.50"' in page
    assert 'href="#node-main%221"' in page and 'id="node-main%221"' in page
    assert "http" not in page.replace('content="width', "")


def test_output_folder_for_globex(tmp_path: Path) -> None:
    previous = globex_map()
    current = globex_map()
    current.node(
        "support"
    ).prompt = "Tech help. For broadband press one. For the main menu press 9."
    outcome = write_crawl_outputs(current, tmp_path, previous=previous, policy=Policy())
    assert outcome.exit_code == 1
    names = {path.name for path in tmp_path.iterdir()}
    assert {
        "map.json",
        "map.mmd",
        "map.dot",
        "index.html",
        "scorecard.json",
        "changes.json",
    } <= names
    document = json.loads((tmp_path / "map.json").read_text())
    jsonschema.validate(document, SCHEMA)
    assert {(f["kind"], f["node"]) for f in document["findings"]} == {
        (f.kind, f.node) for f in find_problems(globex_map())
    }
    assert CrawlMap.from_json(document).findings == current.findings
    scorecard = json.loads((tmp_path / "scorecard.json").read_text())
    assert scorecard["menus_reaching_human"] == 0 and scorecard["verdict"]["passed"] is False
    changes = json.loads((tmp_path / "changes.json").read_text())
    assert [(c["kind"], c["node"]) for c in changes] == [("reworded", "support")]
    assert "reworded" in (tmp_path / "index.html").read_text()
    scripts = sorted(path.name for path in (tmp_path / "scripts").iterdir())
    assert scripts == ["2-1-support-drop.yaml", "2-2-phone-support.yaml", "3-outage.yaml"]
    for name in scripts:
        script = load_script(tmp_path / "scripts" / name)
        assert script.target == str((REPO / "scripts/failing/ivr.yaml").resolve())


def test_a_later_crawl_replaces_generated_scripts_but_keeps_hand_written_ones(
    tmp_path: Path,
) -> None:
    write_crawl_outputs(globex_map(), tmp_path)
    mine = tmp_path / "scripts" / "mine.yaml"
    mine.write_text("name: mine\n")
    smaller = globex_map()
    smaller.node("main").options = [o for o in smaller.node("main").options if o.key != "3"]
    smaller.nodes = [node for node in smaller.nodes if node.id != "outage"]
    write_crawl_outputs(smaller, tmp_path)
    assert sorted(path.name for path in (tmp_path / "scripts").iterdir()) == [
        "2-1-support-drop.yaml",
        "2-2-phone-support.yaml",
        "mine.yaml",
    ]


def test_mqtt_payload_and_topic(tmp_path: Path) -> None:
    crawl_map = acme_map()
    outcome = write_crawl_outputs(crawl_map, tmp_path)
    payload = crawl_payload(crawl_map, outcome)
    assert payload["target_id"] == "acme-ivr" and payload["passed"] is True
    assert payload["summary"].startswith("passed: 4/4 menus reach a human")
    assert [f["kind"] for f in payload["findings"]] == ["no-zero-out", "no-zero-out"]
    json.dumps(payload)
    assert crawl_target_id("scripts/acme/ivr.yaml") == "acme-ivr"
    assert crawl_target_id("+1 (555) 010-0000") == "tel-15550100000"
    assert crawl_target_id("sip:IVR@10.0.0.5:5080") == "sip-ivr-10-0-0-5-5080"


def test_distinctive_phrase_skips_words_other_prompts_share() -> None:
    acme = acme_map()
    others = [node.prompt for node in acme.nodes if node.id != "main"]
    assert distinctive_phrase(acme.node("main").prompt, others) == "four billion in payments"


@pytest.fixture(scope="module")
def acme_scripts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("acme-crawl")
    outcome = write_crawl_outputs(acme_map(), out, at="2024-05-06T10:00")
    assert [script.slug for script in outcome.scripts] == [
        "2-1-priya",
        "3-1-voicemail",
        "0-sam",
        "0-1-goodbye",
    ]
    return out / "scripts"


@pytest.mark.parametrize(
    "slug,sandbox_nodes",
    [
        ("3-1-voicemail", ["main", "loans", "mortgage_voicemail", "leave_message"]),
        ("2-1-priya", ["main", "cards", "card_security", "security_agent"]),
    ],
)
def test_generated_scripts_pass_against_the_ivr_they_were_generated_for(
    acme_scripts: Path, slug: str, sandbox_nodes: list[str]
) -> None:
    script = load_script(acme_scripts / f"{slug}.yaml")
    record = asyncio.run(run_script(script, MoonshineEngine()))
    assert record.result["outcome"] == "passed", record.result.get("failure")
    assert record.truth is not None
    visited = [entry["node"] for entry in record.truth["nodes"]]
    assert [node for node in visited if node in sandbox_nodes] == sandbox_nodes


def test_a_generated_script_for_a_drop_fails_as_the_crawl_found(tmp_path: Path) -> None:
    outcome = write_crawl_outputs(globex_map(), tmp_path)
    (dropped,) = [script for script in outcome.scripts if script.slug == "2-1-support-drop"]
    assert not dropped.expected_to_pass
    assert "Expected to fail today" in dropped.text
    script = load_script(tmp_path / "scripts" / "2-1-support-drop.yaml")
    record = asyncio.run(run_script(script, MoonshineEngine()))
    assert record.result["outcome"] == "failed"
    assert record.result["failure"]["kind"] == "dropped", record.result["failure"]


def hostile_map() -> tuple[CrawlMap, list[str]]:
    """globex's map with hostile markup added to every string it holds (ids consistently, so
    keys still lead where they did), and the strings the page must show."""
    crawl_map = globex_map()
    crawl_map.nodes[0].evidence.append(Evidence("call-9", 1.0, 2.0, "calls/call-9/rec.wav"))
    crawl_map.unexplored.append(Unexplored("main", "7", "max depth"))
    shown: list[str] = []

    def poison(text: str) -> str:
        shown.append(text + HOSTILE)
        return shown[-1]

    def node_id(text: str) -> str:
        return text + HOSTILE

    crawl_map.target, crawl_map.engine = poison(crawl_map.target), poison(crawl_map.engine)
    crawl_map.started_at = poison(crawl_map.started_at)
    for node in crawl_map.nodes:
        node.id, node.prompt = poison(node.id), poison(node.prompt)
        node.path = [poison(key) for key in node.path]
        for option in node.options:
            option.key = poison(option.key)
            option.label = None if option.label is None else poison(option.label)
            option.to = None if option.to is None else node_id(option.to)
        for index, item in enumerate(node.evidence):
            node.evidence[index] = Evidence(
                poison(item.call_id), item.start_s, item.end_s, poison(item.recording)
            )
    crawl_map.unexplored = [
        Unexplored(node_id(item.node), poison(item.key), poison(item.reason))
        for item in crawl_map.unexplored
    ]
    return crawl_map, shown


def test_html_page_shows_every_string_of_the_map_as_text_and_none_as_markup() -> None:
    crawl_map, shown = hostile_map()
    scorecard, verdict, changes = judge(crawl_map, previous=globex_map())
    parts = page_parts(render_page(crawl_map, scorecard, verdict, changes))
    clean_map = globex_map()
    clean = page_parts(render_page(clean_map, *judge(clean_map, previous=globex_map())))
    assert "script" not in parts.tags and "img" not in parts.tags
    assert parts.attribute_names == clean.attribute_names
    assert set(parts.tags) <= set(clean.tags)  # (nothing said) is no longer shown
    assert [text for text in shown if not shown_whole(text, parts)] == []
    assert crawl_map.findings and changes and verdict.reasons
    for message in [item.message for item in crawl_map.findings + changes] + verdict.reasons:
        assert shown_whole(message, parts)
