"""The verdicts bench's material and scoring, without running it (a run takes an hour).

The IVRs, scripts and answer keys of both halves must load and agree with each other, and the
scoring must count what it says on small hand-made inputs.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from shopper.bench.verdicts import VOICES, VerdictsReport, ivr_voice
from shopper.bench.verdicts_design import (
    FRESH,
    HALVES,
    PASS,
    CrawlDesign,
    ExpectedFinding,
    Place,
    VerdictIvr,
    VerdictsError,
    load_half,
    load_verdict_ivr,
)
from shopper.bench.verdicts_score import (
    ScriptRun,
    Truth,
    errors,
    node_place,
    score_crawl,
    time_to_human_errors,
    truth_hold_s,
    verdict_of,
)
from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions, SandboxOptions
from shopper.carriers.sandbox import SandboxCall
from shopper.crawl.findings import find_problems
from shopper.crawl.map import CrawlMap, Evidence, Finding, MapNode, Option
from shopper.sandbox.model import Goto, Menu, Queue

VERDICTS = Path(__file__).resolve().parents[1] / "scripts" / "verdicts"
SAMPLE = VERDICTS / "dev" / "brightwave"


@pytest.mark.parametrize("half", HALVES)
def test_each_half_has_six_ivrs_and_twenty_scripts_that_load(half: str) -> None:
    ivrs = load_half(half)
    assert len(ivrs) >= 6
    assert sum(len(ivr.scripts) for ivr in ivrs) >= 20
    for ivr in ivrs:
        assert ivr.definition.warnings == ()
        assert ivr.crawl.places, ivr.name
        assert all(case.expected for case in ivr.scripts)


def test_the_halves_share_no_phone_system() -> None:
    names = [{ivr.definition.name for ivr in load_half(half)} for half in (*HALVES, FRESH)]
    assert not names[0] & names[1]
    assert not (names[0] | names[1]) & names[2]


def copy_sample(tmp_path: Path) -> Path:
    folder = tmp_path / "sample"
    shutil.copytree(SAMPLE, folder)
    return folder


def test_a_script_without_an_expected_outcome_is_named(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    shutil.copy(folder / "outage-message.yaml", folder / "extra.yaml")
    with pytest.raises(
        VerdictsError, match=r"expected.yaml:\d+: script extra.yaml has no expected"
    ):
        load_verdict_ivr(folder)


def test_an_expected_place_that_is_no_node_is_named(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    expected = folder / "expected.yaml"
    expected.write_text(expected.read_text().replace("    outage: {", "    outtage: {"))
    with pytest.raises(VerdictsError, match=r"expected.yaml:\d+: 'outtage' is not a node"):
        load_verdict_ivr(folder)


def test_a_key_the_menu_does_not_offer_is_named(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    expected = folder / "expected.yaml"
    text = expected.read_text().replace('keys: ["1", "2", "9"]', 'keys: ["1", "2", "7"]')
    expected.write_text(text)
    with pytest.raises(VerdictsError, match="key '7' is not an option of node service"):
        load_verdict_ivr(folder)


def test_a_finding_must_name_designed_places(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    expected = folder / "expected.yaml"
    expected.write_text(expected.read_text().replace("at: service}", "at: nowhere}"))
    with pytest.raises(VerdictsError, match=r"name places of crawl\.places"):
        load_verdict_ivr(folder)


def test_the_voice_override_reaches_the_sandbox_and_keeps_the_speed() -> None:
    ivr = load_verdict_ivr(SAMPLE)
    voice = ivr_voice(ivr.definition, "espeak")
    assert (voice.tts, voice.voice, voice.speed) == ("espeak-ng", "en-us", 165)
    placed = asyncio.run(
        dial(str(ivr.ivr), "sandbox", DialOptions(sandbox=SandboxOptions(voice=voice)))
    )
    assert isinstance(placed.call, SandboxCall)
    assert placed.call._phone.definition.voice == voice
    assert set(VOICES) == {"awb", "slt", "rms", "kal", "espeak"}


def run(expected: tuple[str, ...], got: str, tth: float | None, truth: float | None) -> ScriptRun:
    return ScriptRun("ivr", "s.yaml", "awb", expected, got, tth, truth, 0.0, 0.0)


def test_a_wrong_verdict_is_counted_and_either_of_two_right_answers_is_right() -> None:
    runs = [
        run((PASS,), PASS, 30.0, 31.0),
        run(("no-human",), "expectation-mismatch", None, None),
        run(("no-human", "voicemail"), "voicemail", None, None),
    ]
    assert [r.wrong for r in runs] == [False, True, False]
    result = {"outcome": "failed", "failure": {"kind": "dead-air"}}
    assert verdict_of(result) == "dead-air"
    assert verdict_of({"outcome": "passed", "failure": None}) == PASS


def test_timing_errors_count_pairs_and_missing_measurements() -> None:
    stats = errors([(30.0, 31.0), (10.0, 13.0), (None, 20.0), (None, None)])
    assert (stats.count, stats.missing, stats.max_s, stats.mean_s) == (2, 1, 3.0, 2.0)
    assert time_to_human_errors([run((PASS,), PASS, None, 12.0)]).missing == 1


def test_hold_truth_counts_a_hold_the_call_ended_in() -> None:
    truth: Truth = {
        "holds": [
            {"start_s": 10.0, "end_s": 40.0},
            {"start_s": 50.0, "end_s": None},
        ],
        "end": {"at_s": 55.5},
    }
    assert truth_hold_s(truth) == 35.5


DESIGN = CrawlDesign(
    places={
        "main": Place("main", "menu", ("1", "2")),
        "billing": Place("billing", "message"),
        "accounts": Place("accounts", "message"),
        "queue": Place("queue", "queue"),
        "queue:end": Place("queue:end", "dropped"),
    },
    findings=(
        ExpectedFinding("loop", frozenset({"billing", "accounts"})),
        ExpectedFinding("dropped", frozenset({"queue:end"})),
    ),
)
TRUTH: Truth = {
    "nodes": [
        {"node": "main", "at_s": 1.0},
        {"node": "billing", "at_s": 12.0},
        {"node": "accounts", "at_s": 16.0},
        {"node": "queue", "at_s": 30.0},
    ],
    "sounds": [
        {"node": "main", "role": "prompt", "start_s": 1.0, "end_s": 10.0},
        {"node": "billing", "role": "prompt", "start_s": 12.0, "end_s": 15.0},
        {"node": "accounts", "role": "prompt", "start_s": 16.0, "end_s": 19.0},
        {"node": "queue", "role": "prompt", "start_s": 30.0, "end_s": 32.0},
        {"node": "queue", "role": "music", "start_s": 32.0, "end_s": 60.0},
    ],
}


def node(node_id: str, kind: str, start: float, end: float, *options: Option) -> MapNode:
    evidence = [Evidence("call-1", start, end, "calls/call-1/recording.wav")]
    return MapNode(node_id, node_id, kind, [], list(options), evidence=evidence)  # type: ignore[arg-type]


def crawl_map(*nodes: MapNode) -> CrawlMap:
    return CrawlMap(target="ivr.yaml", started_at="2024-05-06T14:00:00Z", nodes=list(nodes))


def test_a_node_is_the_place_whose_sounds_fill_its_span_or_where_the_call_was() -> None:
    def truth_of(call_id: str) -> Truth:
        return TRUTH

    # a span that catches the end of the menu but is mostly billing's prompt
    assert node_place(node("x", "message", 9.5, 15.0), truth_of, DESIGN) == "billing"
    # an empty span at the end of the hold: the queue's end, a designed place of its own
    assert node_place(node("y", "dropped", 60.0, 60.0), truth_of, DESIGN) == "queue:end"


def test_a_merged_circle_and_a_missed_drop_are_counted() -> None:
    found = crawl_map(
        node("main", "menu", 1.0, 10.0, Option("1", "billing", "billing"), Option("2", "x", None)),
        node("billing", "message", 12.0, 19.0, Option("", None, "billing")),
        node("queue", "queue", 30.0, 32.0),
    )
    findings = [
        Finding("loop", "billing", "circular transfer"),
        Finding("no-zero-out", "main", "0 only repeats this menu"),
    ]
    score = score_crawl(found, findings, lambda _: TRUTH, DESIGN)
    # billing and accounts heard as one node: accounts and the hold's drop are not found
    assert (score.places_right, score.places) == (3, 5)
    assert (score.findings_right, score.findings_missed, score.findings_invented) == (1, 1, 1)
    # key 2 was offered but never followed
    assert (score.keys_found, score.keys_offered) == (1, 2)
    assert any("missed dropped at queue:end" in note for note in score.notes)


def designed_map(ivr: VerdictIvr) -> CrawlMap:
    """The map a faithful crawl of `ivr` would draw, built from its definition and designed
    places: every key of every menu (offered or not, as the sandbox would handle it), what
    each node goes on to, and the holds. Keys that lead back to an earlier menu are
    labelled as their prompts say it ("go back to the main menu"): every such key of the
    verdicts IVRs says so."""
    design, nodes = ivr.crawl, ivr.definition.nodes
    built: dict[str, MapNode] = {
        name: MapNode(name, name, place.kind, []) for name, place in design.places.items()
    }

    def place(node_name: str, *roles: str) -> str:
        found = design.resolve(node_name, *roles)
        assert found is not None, f"{ivr.name}: node {node_name} belongs to no designed place"
        return found

    for name, map_node in built.items():
        node_name, _, role = name.partition(":")
        behaviour = nodes[node_name].behaviour
        if role:
            continue
        if isinstance(behaviour, Menu):
            after_failure = (
                name
                if behaviour.retries > 0
                else place(behaviour.on_exhausted)
                if behaviour.on_exhausted
                else place(node_name, "invalid")
            )
            for key in "0123456789*#":
                if key in behaviour.options:
                    target = place(behaviour.options[key])
                    label = "go back to the main menu" if built[target].kind == "menu" else "option"
                    map_node.options.append(Option(key, label, target))
                else:
                    map_node.options.append(Option(key, None, after_failure, offered=False))
            # a caller who presses nothing: on_exhausted, or the line hung up on them
            ended = (
                place(behaviour.on_exhausted)
                if behaviour.on_exhausted
                else place(node_name, "no-input")
            )
            map_node.options.append(Option("", "no input", ended))
        elif isinstance(behaviour, Goto) and place(behaviour.node) != name:
            map_node.options.append(Option("", None, place(behaviour.node)))
        elif isinstance(behaviour, Queue):
            map_node.hold_s = behaviour.hold_s
            map_node.callback_offered = behaviour.callback_offer is not None
            then = place(behaviour.then) if behaviour.then else place(node_name, "end")
            map_node.options.append(Option("", None, then))
            if built[then].kind == "human":
                built[then].hold_s = behaviour.hold_s
                built[then].callback_offered = map_node.callback_offered
            offer = behaviour.callback_offer
            if offer is not None:
                map_node.options.append(Option(offer.digit, "call back", place(offer.goto)))
    start = place(ivr.definition.start)
    ordered = [built[start], *(n for key, n in built.items() if key != start)]
    return CrawlMap(target=str(ivr.ivr), started_at="2024-05-07T10:00:00Z", nodes=ordered)


@pytest.mark.parametrize("half", (*HALVES, FRESH))
def test_expected_findings_are_the_rules_applied_to_the_designed_map(half: str) -> None:
    for ivr in load_half(half):
        produced = find_problems(designed_map(ivr))
        for finding in produced:
            assert any(
                e.kind == finding.kind and finding.node in e.at for e in ivr.crawl.findings
            ), f"{ivr.name}: the design gives {finding.kind} at {finding.node}: {finding.message}"
        for expected in ivr.crawl.findings:
            assert any(f.kind == expected.kind and f.node in expected.at for f in produced), (
                f"{ivr.name}: {expected.kind} at {sorted(expected.at)} does not follow from "
                "the design"
            )


def test_a_saved_report_renders_the_same_table() -> None:
    report = VerdictsReport("dev", 1, 2)
    report.runs["awb"] = [run((PASS,), PASS, 30.0, 31.0), run(("busy",), "no-human", None, None)]
    found = crawl_map(node("main", "menu", 1.0, 10.0, Option("1", "billing", "billing")))
    report.crawls["awb"] = [score_crawl(found, [], lambda _: TRUTH, DESIGN, label="ivr: ")]
    again = VerdictsReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again.render() == report.render()
    row = next(line for line in report.render().splitlines() if line.startswith("awb"))
    # 1 wrong of 2; time to human 1 s off; no hold; 1 of 5 places, no finding right and 2
    # missed; 1 of 2 keys; no calls; 1 IVR crawled
    expected = "awb 1/2 1.0/1.0 s (1) - 1/5 0/2/0 1/2 0/0 1"
    assert row.split() == expected.split()


def test_a_menu_that_hangs_up_on_silence_is_its_no_input_place() -> None:
    design = CrawlDesign(
        places={
            "main": Place("main", "menu", ("1",)),
            "main:no-input": Place("main:no-input", "dropped"),
            "main:invalid": Place("main:invalid", "message"),
        },
        findings=(),
    )
    truth: Truth = {
        "nodes": [{"node": "main", "at_s": 1.0}],
        "sounds": [
            {"node": "main", "role": "prompt", "start_s": 1.0, "end_s": 9.0},
            {"node": "main", "role": "prompt", "start_s": 15.0, "end_s": 23.0},
        ],
        "keys": [{"digit": "7", "start_s": 3.0, "node": "main", "action": "invalid"}],
        "end": {"at_s": 29.0, "reason": "retries exhausted"},
    }
    assert node_place(node("n", "dropped", 29.0, 29.0), lambda _: truth, design) == (
        "main:no-input"
    )
    truth["keys"].append({"digit": "7", "start_s": 16.0, "node": "main", "action": "invalid"})
    assert node_place(node("n", "dropped", 29.0, 29.0), lambda _: truth, design) == "main:invalid"


def test_show_of_a_missing_or_foreign_report_is_a_one_line_error(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from shopper.cli.main import app

    missing = tmp_path / "nowhere" / "report.json"
    foreign = tmp_path / "report.json"
    foreign.write_text(json.dumps({"half": "dev"}))
    for report, says in ((missing, "cannot read it"), (foreign, "not a `bench verdicts` report")):
        shown = CliRunner().invoke(app, ["bench", "verdicts", "--show", str(report)])
        assert shown.exit_code == 2, shown.output
        assert shown.stderr.count("\n") == 1, shown.stderr
        assert str(report) in shown.stderr and says in shown.stderr
