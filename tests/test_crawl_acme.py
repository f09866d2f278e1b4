"""Crawling Acme Bank (scripts/acme/ivr.yaml) from audio alone, in and out of opening hours.

The expectations are written down here by the test author from reading the IVR file (and
agree with the hand-written map in tests/crawl_maps.py); the explorer never reads it. Each
node is also checked against the sandbox truth of the path that first heard it. One crawl per
moment, two lines, shared by the tests of this module; in opening hours also a crawl that
dials every path afresh, to compare the map of calls that went on from a known menu with.
"""

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from crawl_walk import by_path, structure, truth_nodes

from shopper.asr.moonshine_engine import MoonshineEngine
from shopper.crawl.explorer import Attempt, CrawlSettings, crawl
from shopper.crawl.map import CrawlMap
from shopper.crawl.outputs import write_crawl_outputs
from shopper.crawl.pathcall import PathResult
from shopper.scripts.loader import load_script
from shopper.scripts.runner import run_script

pytestmark = pytest.mark.slow

ACME = Path(__file__).parent.parent / "scripts" / "acme" / "ivr.yaml"
MAP_SCHEMA = Path(__file__).parent.parent / "shopper" / "crawl" / "schema" / "map.schema.json"
TUESDAY_10 = datetime(2024, 5, 7, 10, 0)
SUNDAY_11 = datetime(2024, 5, 5, 11, 0)
SUBMENUS = {"billing", "cards", "loans"}
"""Acme's menus that offer "To return to the main menu, press 9"."""


@dataclass
class Crawled:
    map: CrawlMap
    out: Path
    paths: list[tuple[Attempt, PathResult]] = field(default_factory=list)
    """Every path as the crawl's progress reported it."""


def acme_crawl(out: Path, now: datetime, *, redial: bool = False) -> Crawled:
    crawled = Crawled(CrawlMap("", ""), out)
    settings = CrawlSettings(str(ACME), out, lines=2, engine="moonshine", now=now, redial=redial)
    crawled.map = crawl(settings, lambda attempt, path, _: crawled.paths.append((attempt, path)))
    return crawled


@pytest.fixture(scope="module")
def open_hours_crawl(tmp_path_factory: pytest.TempPathFactory) -> Crawled:
    return acme_crawl(tmp_path_factory.mktemp("acme-open"), TUESDAY_10)


@pytest.fixture(scope="module")
def open_hours(open_hours_crawl: Crawled) -> tuple[CrawlMap, Path]:
    return open_hours_crawl.map, open_hours_crawl.out


@pytest.fixture(scope="module")
def after_hours(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlMap, Path]:
    crawled = acme_crawl(tmp_path_factory.mktemp("acme-closed"), SUNDAY_11)
    return crawled.map, crawled.out


def sandbox_truth(out: Path, path: PathResult) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads((out / path.folder / "sandbox-truth.json").read_text())
    return truth


def test_acme_menus_are_found_once_each(open_hours: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = open_hours
    main = crawl_map.nodes[0]
    assert main.id == "main" and main.kind == "menu"
    assert {"1", "2", "3", "0"} <= {o.key for o in main.options}
    menus = {"billing": ("1",), "cards": ("2",), "loans": ("3",)}
    for truth, path in menus.items():
        menu = by_path(crawl_map, *path)
        assert menu.kind == "menu", (truth, menu)
        assert truth_nodes(out, menu)[-1] == truth
        assert by_path(crawl_map, *path, "9") is main, truth
    assert sorted(n.id for n in crawl_map.nodes if n.kind == "menu") == sorted(
        ["main", *(by_path(crawl_map, *p).id for p in menus.values())]
    ), "each menu is one node"
    # Ids come from the menu's own title as heard ("Billing and payments." is sometimes heard
    # "the willing and payments."), never from the cut prompt's leftover words.
    assert "payments" in by_path(crawl_map, "1").id
    assert by_path(crawl_map, "2").id.endswith("card-services")
    assert by_path(crawl_map, "*") is main and by_path(crawl_map, "#") is main


def test_acme_messages_return_to_their_menu(open_hours: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = open_hours
    billing, cards = by_path(crawl_map, "1"), by_path(crawl_map, "2")
    for path, menu, truth in (
        (("1", "1"), billing, "balance"),
        (("1", "2"), billing, "payment"),
        (("2", "2"), cards, "activation"),
    ):
        message = by_path(crawl_map, *path)
        assert message.kind == "message", (path, message)
        assert truth in truth_nodes(out, message)
        assert by_path(crawl_map, *path, "") is menu, path


def test_acme_every_way_to_a_person(open_hours: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = open_hours
    queue = by_path(crawl_map, "0")
    assert queue.kind == "queue" and queue.callback_offered is True
    assert "hold_intro" in truth_nodes(out, queue)
    for path in (("1", "0"), ("3", "2")):
        assert by_path(crawl_map, *path) is queue, f"{path} reaches the same queue"
    sam = by_path(crawl_map, "0", "")
    assert sam.kind == "human" and "agent" in truth_nodes(out, sam)
    assert sam.hold_s is not None and sam.hold_s > 30
    assert sam.time_to_human_s is not None and sam.time_to_human_s > sam.hold_s
    security = by_path(crawl_map, "2", "1")
    assert security.kind == "queue" and security is not queue
    priya = by_path(crawl_map, "2", "1", "")
    assert priya.kind == "human" and "security_agent" in truth_nodes(out, priya)
    assert priya.hold_s is not None and 10 < priya.hold_s < 40
    assert [n.kind for n in crawl_map.nodes].count("human") == 2


def test_acme_callback_offer_is_taken_on_hold(open_hours: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = open_hours
    queue = by_path(crawl_map, "0")
    offer = next(o for o in queue.options if o.key == "1")
    assert offer.offered and offer.label is not None and "call back" in offer.label
    callback = by_path(crawl_map, "0", "1")
    assert callback.kind == "message" and callback.path == ["0", "1"]
    assert "call you back" in callback.prompt.lower()
    assert truth_nodes(out, callback)[-2:] == ["callback", "goodbye"]


def test_acme_mortgage_line_takes_a_message(open_hours: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = open_hours
    away = by_path(crawl_map, "3", "1")
    assert away.kind == "message" and "away from their desks" in away.prompt.lower()
    assert truth_nodes(out, away)[-2:] == ["mortgage_voicemail", "leave_message"]
    voicemail = by_path(crawl_map, "3", "1", "")
    assert voicemail.kind == "voicemail"
    assert truth_nodes(out, voicemail)[-1] == "leave_message"


def test_acme_costs_are_counted(open_hours: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = open_hours
    assert crawl_map.calls == len(list((out / "calls").iterdir()))
    assert 0 < crawl_map.lower_bound_s < crawl_map.call_seconds
    assert crawl_map.at == "2024-05-07T10:00:00"


def test_acme_after_hours_offers_voicemail(after_hours: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = after_hours
    main = crawl_map.nodes[0]
    assert main.kind == "menu" and "closed" in main.prompt.lower()
    assert truth_nodes(out, main)[-1] == "after_hours"
    voicemail = by_path(crawl_map, "1")
    assert voicemail.kind == "voicemail"
    assert truth_nodes(out, voicemail)[-1] == "leave_message"
    assert all(node.kind != "human" for node in crawl_map.nodes)
    for key in ("0", "*", "#"):
        assert by_path(crawl_map, key) is main, f"{key} repeats the closed menu"


def test_acme_main_menu_without_input_says_goodbye(open_hours: tuple[CrawlMap, Path]) -> None:
    crawl_map, out = open_hours
    main = crawl_map.nodes[0]
    waited = next(o for o in main.options if o.key == "")
    assert waited.label == "no input"
    goodbye = by_path(crawl_map, "")
    assert goodbye.kind == "message", goodbye
    assert goodbye.path == [] and not goodbye.options
    assert truth_nodes(out, goodbye)[-1] == "goodbye"
    for menu in ("1", "2", "3"):
        option = next((o for o in by_path(crawl_map, menu).options if o.key == ""), None)
        assert option is None or option.to != by_path(crawl_map, menu).id, "no self-edge"


def test_acme_paths_go_on_from_a_known_menu_on_the_same_call(open_hours_crawl: Crawled) -> None:
    crawl_map, out = open_hours_crawl.map, open_hours_crawl.out
    assert crawl_map.paths == len(open_hours_crawl.paths)
    assert crawl_map.calls == len(list((out / "calls").iterdir()))
    legs = [path for _, path in open_hours_crawl.paths if path.leg > 0]
    assert legs and crawl_map.calls == crawl_map.paths - len(legs) < crawl_map.paths
    for leg in legs:
        truth = sandbox_truth(out, leg)
        assert leg.entered_at is not None
        waiting_in = truth_nodes(out, crawl_map.node(leg.entered_at))[-1]
        entered = [n["node"] for n in truth["nodes"] if n["at_s"] <= leg.started_s]
        assert entered[-1] == waiting_in, (leg, entered)
        pressed = [
            k["digit"] for k in truth["keys"] if leg.started_s <= k["start_s"] < leg.duration_s
        ]
        assert pressed == [p.key for p in leg.presses if p.key], (leg, pressed)
        assert leg.presses[0].kind == "continue"
        for node in crawl_map.nodes:
            for evidence in node.evidence:
                if evidence.call_id == leg.call_id:
                    assert evidence.recording == f"{leg.folder}/recording.wav"


def test_acme_return_to_the_main_menu_key_is_a_way_back(open_hours_crawl: Crawled) -> None:
    """A call waiting in a submenu goes back to the main menu with the 9 it offers, rather
    than hanging up and dialling again, to serve a path through another submenu."""
    out = open_hours_crawl.out
    via = [path for _, path in open_hours_crawl.paths if path.via is not None]
    assert via, "no path was served through a key back to the main menu"
    for path in via:
        assert path.via == "9"
        truth = sandbox_truth(out, path)
        back = next(k for k in truth["keys"] if k["start_s"] >= path.started_s)
        assert back["digit"] == "9" and back["action"] == "accepted"
        assert back["node"] in SUBMENUS
        then = next(n for n in truth["nodes"] if n["at_s"] >= back["start_s"])
        assert (then["node"], then["reason"]) == ("main", "key 9")


def test_acme_map_is_the_same_as_dialling_every_path(
    open_hours_crawl: Crawled, tmp_path: Path
) -> None:
    redialled = acme_crawl(tmp_path, TUESDAY_10, redial=True)
    assert redialled.map.calls == redialled.map.paths
    assert all(path.leg == 0 for _, path in redialled.paths)
    chained = open_hours_crawl.map
    assert chained.calls < redialled.map.calls
    assert chained.paths == redialled.map.paths
    assert structure(chained) == structure(redialled.map)


def test_acme_scripts_dial_afresh_to_ends_first_heard_on_a_leg(
    open_hours_crawl: Crawled, tmp_path: Path
) -> None:
    """The regression scripts describe each path from a fresh dial, however the crawl reached
    it: those for ends the crawl first heard on a later leg of a call pass on a new call."""
    crawl_map = CrawlMap.from_json(open_hours_crawl.map.to_json())
    jsonschema.validate(crawl_map.to_json(), json.loads(MAP_SCHEMA.read_text()))
    outcome = write_crawl_outputs(crawl_map, tmp_path, at=crawl_map.at)
    legs = [path for _, path in open_hours_crawl.paths if path.leg > 0]

    def on_a_leg(node_id: str) -> bool:
        first = crawl_map.node(node_id).evidence[0]
        return any(
            leg.call_id == first.call_id and leg.started_s <= first.start_s <= leg.duration_s
            for leg in legs
        )

    scripts = [script for script in outcome.scripts if on_a_leg(script.node)]
    assert scripts, [script.slug for script in outcome.scripts]
    for script in scripts[:2]:
        record = asyncio.run(
            run_script(load_script(tmp_path / "scripts" / f"{script.slug}.yaml"), MoonshineEngine())
        )
        expected = "passed" if script.expected_to_pass else "failed"
        assert record.result["outcome"] == expected, (script.slug, record.result.get("failure"))
        assert record.truth is not None
        pressed = [key["digit"] for key in record.truth["keys"]]
        assert pressed == crawl_map.node(script.node).path, script.slug
