"""A digit missing from a menu's run of offered keys counts as offered when it leads
somewhere, whatever order the crawl's calls finish in. The no-input option (key "") once
passed for such a digit and crashed the crawl when its call finished before a digit's."""

from __future__ import annotations

import itertools

import pytest

from shopper.crawl.explorer import _missed_offer, _skipped
from shopper.crawl.map import MapNode, Option
from shopper.crawl.pathcall import NO_INPUT


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
