"""Findings judged from crawl maps: the shipped IVRs as written down by the test author, and
small maps that each hold one problem (or one look-alike that is not a problem)."""

from crawl_maps import acme_map, globex_map

from shopper.crawl.findings import Thresholds, find_loops, find_problems
from shopper.crawl.map import CrawlMap, MapNode, Option


def kinds_at(crawl_map: CrawlMap, thresholds: Thresholds | None = None) -> set[tuple[str, str]]:
    return {(finding.kind, finding.node) for finding in find_problems(crawl_map, thresholds)}


def small_map(*nodes: MapNode) -> CrawlMap:
    return CrawlMap(target="ivr.yaml", started_at="2024-05-06T14:00:00Z", nodes=list(nodes))


def menu(node_id: str, path: list[str], *options: Option) -> MapNode:
    return MapNode(node_id, f"{node_id} menu, press one", "menu", path, list(options))


def test_globex_circular_transfer_missing_zero_out_and_drops() -> None:
    assert kinds_at(globex_map()) == {
        ("no-zero-out", "main"),
        ("no-human-path", "main"),
        ("loop", "billing"),
        ("no-zero-out", "support"),
        ("no-human-path", "support"),
        ("dropped", "support-drop"),
        ("dropped", "phone-support"),
    }


def test_the_circular_transfer_is_reported_once_naming_both_prompts() -> None:
    loops = [f for f in find_problems(globex_map()) if f.kind == "loop"]
    assert len(loops) == 1
    assert "'billing'" in loops[0].message and "'customer-service'" in loops[0].message
    assert "All billing rep" in loops[0].message
    (loop,) = find_loops(globex_map())
    assert loop.automatic and set(loop.nodes) == {"billing", "customer-service"}


def test_zero_that_repeats_the_menu_is_named_as_such() -> None:
    main = next(f for f in find_problems(globex_map()) if f.node == "main")
    assert main.kind == "no-zero-out" and "only repeats this menu" in main.message


def test_acme_only_lacks_zero_out_at_two_submenus() -> None:
    assert kinds_at(acme_map()) == {("no-zero-out", "cards"), ("no-zero-out", "loans")}


def test_findings_come_in_map_order_then_kind_order() -> None:
    found = find_problems(globex_map())
    assert [f.node for f in found][:2] == ["main", "main"]
    assert [f.kind for f in found][:2] == ["no-zero-out", "no-human-path"]


def test_a_key_sent_back_unasked_is_a_loop_but_main_menu_and_information_are_not() -> None:
    crawl_map = small_map(
        menu(
            "main",
            [],
            Option("1", "sales", "sales"),
            Option("2", "hours", "hours"),
            Option("0", "an operator", "agent"),
        ),
        menu(
            "sales",
            ["1"],
            Option("1", "new orders", "main"),
            Option("9", "return to the main menu", "main"),
            Option("0", "an operator", "agent"),
        ),
        MapNode("hours", "We are open nine to five.", "message", ["2"], [Option("", None, "main")]),
        MapNode("agent", "Hi, this is Ann.", "human", ["0"], time_to_human_s=20.0),
    )
    loops = [f for f in find_problems(crawl_map) if f.kind == "loop"]
    assert [(f.node, "new orders" in f.message) for f in loops] == [("sales", True)]
    assert not find_loops(crawl_map)[0].automatic


def test_a_key_whose_label_was_not_heard_is_no_loop() -> None:
    """Kestrel kal: "To hear these options again, press the pound key", its label left in the
    sentence before as the recogniser ended it: the key says nothing that misleads."""
    crawl_map = small_map(
        menu("main", [], Option("#", "", "main"), Option("1", "claims", "main")),
    )
    loops = [f for f in find_problems(crawl_map) if f.kind == "loop"]
    assert [(f.node, "claims" in f.message) for f in loops] == [("main", True)]


def test_a_way_back_the_recogniser_garbled_is_no_loop() -> None:
    """Alder Falls awb and kal: "To hear this menu again, press pound" heard "heal this man
    you again" and "till here this man you again"; another key sent back unasked still is."""
    crawl_map = small_map(
        menu(
            "waste",
            [],
            Option("#", "heal this man you again", "waste"),
            Option("*", "till here this man you again", "waste"),
            Option("1", "bulk item pickup", "waste"),
        ),
    )
    loops = [f for f in find_problems(crawl_map) if f.kind == "loop"]
    assert [(f.node, "bulk item" in f.message) for f in loops] == [("waste", True)]


def test_star_or_pound_that_replays_its_own_menu_is_no_loop_whatever_was_heard() -> None:
    """Riverton Transit awb: "To replay these choices, press pound" heard "To replete his
    choicest"; Hollisford espeak-ng: "hear this man you won more time". A star that leads to
    another menu still needs its label, and a digit that replays the menu is still a loop."""
    crawl_map = small_map(
        menu("main", [], Option("1", "schedules", "schedules"), Option("2", "fares", "fares")),
        menu(
            "schedules",
            ["1"],
            Option("#", "replete his choicest", "schedules"),
            Option("*", "hear this man you won more time", "schedules"),
            Option("2", "detours and service changes", "schedules"),
        ),
        menu("fares", ["2"], Option("*", "pull lost", "main")),
    )
    loops = [f for f in find_problems(crawl_map) if f.kind == "loop"]
    assert sorted((f.node, f.message.split()[1]) for f in loops) == [
        ("fares", "*"),
        ("schedules", "2"),
    ]


def test_a_submenu_that_returns_a_silent_caller_to_the_main_menu_is_no_loop() -> None:
    """Cobalt Fiber: a caller who presses nothing at a submenu is sent back to the main menu.
    Silence is the caller's choice, not a transfer after the key that led to the submenu."""
    crawl_map = small_map(
        menu("main", [], Option("1", "technical problem", "tech")),
        menu(
            "tech",
            ["1"],
            Option("*", "return to the main menu", "main"),
            Option("", "no input", "main", offered=False),
        ),
    )
    assert [f for f in find_problems(crawl_map) if f.kind == "loop"] == []


def test_an_automatic_cycle_with_a_key_out_is_not_a_loop() -> None:
    crawl_map = small_map(
        MapNode(
            "main",
            "Press one for sales.",
            "menu",
            [],
            [Option("", None, "main"), Option("1", "sales", "agent")],
        ),
        MapNode("agent", "Sales, this is Bo.", "human", ["1"], time_to_human_s=12.0),
    )
    assert kinds_at(crawl_map) == set()


def test_holds_depth_and_invalid_keys_against_thresholds() -> None:
    crawl_map = small_map(
        menu("main", [], Option("1", "a", "m1"), Option("#", None, "bye", offered=False)),
        menu("m1", ["1"], Option("1", "b", "m2")),
        menu("m2", ["1", "1"], Option("1", "c", "m3")),
        menu("m3", ["1", "1", "1"], Option("1", "d", "queue")),
        MapNode(
            "queue",
            "Please hold.",
            "queue",
            ["1", "1", "1", "1"],
            [Option("", None, "agent")],
            hold_s=150.0,
            callback_offered=False,
        ),
        MapNode("agent", "Hello, Cy here.", "human", ["1", "1", "1", "1"], time_to_human_s=200.0),
        MapNode("bye", "Invalid entry. Goodbye.", "message", ["#"]),
    )
    assert kinds_at(crawl_map) == {
        ("invalid-key-drops", "main"),
        ("long-hold", "queue"),
        ("no-callback-offer", "queue"),
        ("deep-human", "agent"),
    }
    relaxed = Thresholds(long_hold_s=600.0, callback_hold_s=600.0, max_human_menus=4)
    assert kinds_at(crawl_map, relaxed) == {("invalid-key-drops", "main")}


def test_dead_end_and_unexplored_keys_are_mentioned() -> None:
    crawl_map = small_map(
        menu("main", [], Option("1", "a", "stuck"), Option("2", "b", None)),
        MapNode("stuck", "Please wait.", "dead-end", ["1"]),
    )
    found = {f.kind: f for f in find_problems(crawl_map)}
    assert set(found) == {"dead-end", "no-human-path"}
    assert "1 keys beyond it were not explored" in found["no-human-path"].message
