"""Change detection between a previous crawl's map.json and the current crawl."""

import json

from crawl_maps import acme_map, globex_map

from shopper.crawl.changes import compare_maps, text_similarity
from shopper.crawl.map import CrawlMap, MapNode, Option


def reread(crawl_map: CrawlMap) -> CrawlMap:
    """The map as an incremental crawl reads it back from map.json."""
    return CrawlMap.from_json(json.loads(json.dumps(crawl_map.to_json())))


def test_the_same_map_has_no_changes() -> None:
    assert compare_maps(reread(acme_map()), acme_map()) == []
    assert compare_maps(reread(globex_map()), globex_map()) == []


def test_a_recognition_slip_is_not_a_rewording() -> None:
    current = acme_map()
    current.node("cards").prompt = current.node("cards").prompt.replace("stolen", "stolan")
    assert compare_maps(acme_map(), current) == []
    assert text_similarity("Press 1 for billing.", "press one for billing") == 1.0


def test_reworded_prompt_keeps_its_place_under_a_new_id() -> None:
    current = acme_map()
    cards = current.node("cards")
    cards.id = "card-help"
    cards.prompt = "Card help. To freeze your card, press one. To return to the main menu, press 9."
    cards.options[0].label = "freeze your card"
    for node in current.nodes:
        for option in node.options:
            if option.to == "cards":
                option.to = "card-help"
    changes = compare_maps(acme_map(), current)
    assert [(c.kind, c.node) for c in changes] == [
        ("reworded", "card-help"),
        ("label-changed", "card-help"),
    ]
    assert changes[0].before is not None and "lost or stolen" in changes[0].before
    assert changes[0].after == cards.prompt


def test_routing_changes_new_and_missing_prompts() -> None:
    current = globex_map()
    current.node("billing").options = [Option("", None, "billing-queue")]
    current.nodes.insert(
        2,
        MapNode(
            "billing-queue",
            "Please hold for billing.",
            "queue",
            ["1"],
            hold_s=30.0,
            callback_offered=False,
        ),
    )
    current.nodes = [n for n in current.nodes if n.id not in {"customer-service", "outage"}]
    main = current.node("main")
    main.options = [option for option in main.options if option.key != "3"]
    main.options.append(Option("4", "pay a bill", "billing"))
    found = [(c.kind, c.node) for c in compare_maps(globex_map(), current)]
    assert ("new-prompt", "billing-queue") in found
    assert ("missing-prompt", "customer-service") in found
    assert ("option-added", "main") in found
    assert ("option-removed", "main") in found
    assert ("missing-prompt", "outage") in found
    route = next(c for c in compare_maps(globex_map(), current) if c.kind == "new-prompt")
    assert "after keys 1" in route.message
    assert ("route-changed", "billing") in found
    assert len(found) == 6, found


def test_a_destination_change_is_a_routing_change() -> None:
    current = globex_map()
    for option in current.node("support").options:
        if option.key == "2":
            option.to = "support-queue"
    current.nodes = [node for node in current.nodes if node.id != "phone-support"]
    changes = compare_maps(globex_map(), current)
    assert [(c.kind, c.node, c.before, c.after) for c in changes if c.kind != "missing-prompt"] == [
        ("route-changed", "support", "phone-support", "support-queue")
    ]
    assert [c.node for c in changes if c.kind == "missing-prompt"] == ["phone-support"]
    assert all(set(c.to_json()) == {"kind", "node", "message", "before", "after"} for c in changes)
