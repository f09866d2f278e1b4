"""A digit missing from a menu's run of offered keys counts as offered when it leads
somewhere, whatever order the crawl's calls finish in. The no-input option (key "") once
passed for such a digit and crashed the crawl when its call finished before a digit's."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from shopper.crawl.explorer import (
    Attempt,
    CrawlSettings,
    _after_run,
    _Crawl,
    _learn,
    _missed_offer,
    _offer,
    _skipped,
    _unread_way_back,
)
from shopper.crawl.findings import find_problems
from shopper.crawl.map import CrawlMap, MapNode, Option
from shopper.crawl.pathcall import NO_INPUT, HeardPrompt, PathResult


def _menu() -> MapNode:
    options = [
        Option("1", "billing", None, offered=True),
        Option("3", "sales", None, offered=True),
        Option("2", None, None, offered=False),
        Option("0", None, None, offered=False),
        Option(NO_INPUT, "no input", None, offered=False),
    ]
    return MapNode("main-menu", "press 1 for billing, press 3 for sales", "menu", [], options)


def test_skipped_ignores_the_no_input_key() -> None:
    assert _skipped(["1", "3", NO_INPUT]) == ["2"]
    assert _skipped([NO_INPUT]) == []
    assert _skipped(["*", "#", "10"]) == []


@pytest.mark.parametrize("order", list(itertools.permutations(["2", NO_INPUT, "0"])))
def test_missed_offer_in_any_order(order: tuple[str, ...]) -> None:
    menu = _menu()
    for key in order:
        _missed_offer(menu, key)
    offered = {option.key for option in menu.options if option.offered}
    assert offered == {"1", "2", "3"}


def test_a_person_after_a_hold_that_offered_a_callback_has_no_callback_finding() -> None:
    """The person reached after a long hold carries the hold (hold_s) and whether it offered
    a callback: a hold that did offer one is no no-callback-offer finding at the person."""
    state = _Crawl(CrawlSettings("ivr.yaml", Path(".")), CrawlMap("ivr.yaml", "2026-12-06T00:00Z"))
    menu = MapNode("main", "For bookings, press 1.", "menu", [], [Option("1", "bookings", None)])
    state.map.nodes.append(menu)
    state.routes["main"] = ()
    queue = HeardPrompt("Our bookings team will be right with you.", 8.0, 10.0, None)
    result = PathResult(
        "call", "moonshine", "calls/call", 95.0, "human", [queue], hold_s=75.0,
        human="Bookings, this is Sam.", human_at_s=90.0, callback_offered=True,
        callback_offer="To be called back instead, press 5.",
    )  # fmt: skip
    _learn(state, Attempt("main", "1"), result)
    person = next(node for node in state.map.nodes if node.kind == "human")
    assert person.hold_s == 75.0 and person.callback_offered is True
    assert not [f for f in find_problems(state.map) if f.kind == "no-callback-offer"]


def _probed(key: str, heard: list[HeardPrompt]) -> CrawlMap:
    state = _Crawl(CrawlSettings("ivr.yaml", Path(".")), CrawlMap("ivr.yaml", "2026-12-06T00:00Z"))
    menu = _menu()
    state.map.nodes.append(menu)
    state.routes[menu.id] = ()
    _learn(
        state, Attempt(menu.id, key), PathResult("c", "moonshine", "calls/c", 30.0, "known", heard)
    )
    return state.map


def test_new_words_between_a_probe_key_and_the_menu_again_are_its_wrong_key_notice() -> None:
    """espeak-ng Meadowvale: "Hmm, that number does not belong to any of the choices", heard
    "Hmm, at number 10, let me launch any unnotices", then the menu again: after a probe key
    the menu did not offer, the words are its notice, not a place; after a digit missing
    from the run of offered ones (a "press two" the recogniser may have missed) they stay a
    message, as a key that tells the caller something and returns does."""
    notice = HeardPrompt("Hmm, at number 10, let me launch any unnotices.", 20.0, 23.0, None)
    again = HeardPrompt("press 1 for billing, press 3 for sales", 23.5, 28.0, "main-menu")
    probed = _probed("0", [notice, again])
    assert [n.id for n in probed.nodes] == ["main-menu"]
    assert next(o.to for o in probed.nodes[0].options if o.key == "0") == "main-menu"
    skipped = _probed("2", [notice, again])
    assert [n.kind for n in skipped.nodes] == ["menu", "message"]


def test_a_menu_with_no_readable_key_is_tried_1_then_each_next_digit_while_it_leads_on() -> None:
    """espeak-ng Meadowvale's refills menu, "Dial 1 ... Dial 2 ..." heard "I'll want ... I'll
    do": a menu by what it does, with no key word left. Digits are tried as menus number
    them, the next only once the one before led somewhere; a queue's keys are its offers."""
    state = _Crawl(CrawlSettings("ivr.yaml", Path(".")), CrawlMap("ivr.yaml", "2026-12-06T00:00Z"))
    refills = MapNode("reveal", "Reveal. I'll want to reveal. I'll do if your doctor.", "menu", [])
    state.map.nodes.append(refills)
    state.routes[refills.id] = ()
    _offer(state, refills)
    assert [a.key for a in state.pending][:1] == ["1"]
    box = HeardPrompt("After the signal, record your prescription number.", 30.0, 34.0, None)
    _learn(state, Attempt("reveal", "1"), PathResult("c", "moonshine", "c", 40.0, "hangup", [box]))
    assert [o.key for o in refills.options if o.offered] == ["1"]
    assert "2" in [a.key for a in state.pending]
    queue = MapNode("queue", "Please hold.", "queue", [], [Option("1", "call back", None)])
    state.map.nodes.append(queue)
    state.routes[queue.id] = ()
    bye = HeardPrompt("We will call you back. Goodbye.", 50.0, 52.0, None)
    _learn(state, Attempt("queue", "1"), PathResult("d", "moonshine", "d", 60.0, "hangup", [bye]))
    assert [o.key for o in queue.options] == ["1"], "no digit run at a queue"


def test_a_probe_key_to_another_menu_is_the_key_the_prompt_garbled() -> None:
    """Alder Falls kal: "To return to the main menu, press star" heard "press her"; the probe
    key * led to the main menu, so it was the key the prompt named. A probe that led to a
    queue, or a menu whose every key was read, proves nothing of the kind."""
    main = MapNode("main", "For waste, press one.", "menu", [])
    queue = MapNode("operator", "Please hold.", "queue", ["0"])
    garbled = "To hear which day, press one. To return to the main man, you press her."
    for prompt, reached, key, offered in [
        (garbled, main, "*", True),
        (garbled, queue, "0", False),
        ("To hear which day, press one. Press star for the main menu.", main, "#", False),
    ]:
        waste = MapNode("waste", prompt, "menu", ["1"], [Option(key, None, None, offered=False)])
        _unread_way_back(waste, key, reached)
        assert waste.options[0].offered is offered, (prompt, key)


def test_the_digit_after_the_run_is_tried_where_a_key_was_not_read() -> None:
    """Alder Falls espeak-ng: "To request a bulk pickup, press 2" heard "press do", and no
    digit of the run was missing, so 2 was never tried. The digit after the run is, and
    counts as offered when it leads elsewhere."""
    assert _after_run(["1", "*", "#"]) == ["2"]
    assert _after_run(["*"]) == [] and _after_run([*"123456789"]) == []


def test_nine_is_the_digit_after_a_run_that_ends_at_eight() -> None:
    """Cobalt Fiber espeak-ng: "For more options, press 9" heard "press I" after keys 1 to 8:
    9 was never tried and the whole second page of the menu was lost. Nine is no digit of a
    run whose gaps are guessed (it is often "back"), but after an eight it is the next key."""
    assert _after_run([*"12345678", "0"]) == ["9"]
    prompt = "To hear which day, press one. To request a mull-cibing pickup, press do."
    waste = MapNode("waste", prompt, "menu", ["1"], [Option("1", "day", None, offered=True)])
    waste.options.append(Option("2", None, None, offered=False))
    _missed_offer(waste, "2")
    assert waste.options[-1].offered
    readable = MapNode("m", "Press one for a day.", "menu", [], [Option("1", "day", None, True)])
    readable.options.append(Option("2", None, None, offered=False))
    _missed_offer(readable, "2")
    assert not readable.options[-1].offered
