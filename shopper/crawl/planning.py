"""Which pending paths a crawl call may serve after its own, and from which menus.

A call that stops in a menu the crawl knows can go on with a pending path instead of hanging
up, when that is cheaper than dialling the path afresh: from the menu itself if the path's
route passes through it, or through a key of the menu that the map knows leads to a menu on
the route (a "return to the main menu"). The costs are means of what earlier calls measured
(`Press` records, media seconds):

- `dial_s(N)`: from placing a call to the key at its first menu N (ringing, answer and the
  greeting up to the point where the key cut it);
- `step_s(N)`: from the previous key to the key at N (N's prompt up to the key, or a hold up
  to its offer);
- `continue_s`: from recognising the menu a call waits in to the key pressed there.

Dialling a path afresh costs `dial_s(route[0])` plus `step_s` of every later step; entering
it at menu M on its route costs `continue_s` plus the steps after M; through a key of M to a
menu T on its route, `continue_s + step_s(T)` plus the steps after T. A way in is offered only
when it costs less than dialling: through a key to the first menu, only when waiting for a
pause in the menu the call is in costs less than the ringing and answer a new call pays
(`step_s` of the first menu, before a key has led to it, is its `dial_s` less the mean answer
time). Before anything is measured, a menu's first hearing stands in: its prompt's span for
`step_s`, the span's end for `dial_s`, and a pause wait for `continue_s`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from statistics import fmean
from typing import TypeVar

from shopper.crawl.map import CrawlMap, MapNode
from shopper.crawl.pathcall import (
    NO_INPUT,
    PAUSE_WAIT_S,
    REACTION_S,
    CallResult,
    Entry,
    FollowUp,
    RouteStep,
)

T = TypeVar("T")
MAX_FOLLOW_UPS = 8
"""Paths handed to one call besides its own: more than a call can usually serve within its
length budget is only taken away from the other lines."""


@dataclass(slots=True)
class CostModel:
    """Seconds spent reaching each menu's key, as measured on the calls so far."""

    dial: dict[str, list[float]] = field(default_factory=dict)
    step: dict[str, list[float]] = field(default_factory=dict)
    cont: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)

    def record(self, call: CallResult) -> None:
        if call.answer_s is not None:
            self.answers.append(call.answer_s)
        for leg in call.legs:
            for press in leg.presses:
                spent = press.at_s - press.since_s
                if press.kind == "continue":
                    self.cont.append(spent)
                else:
                    table = self.dial if press.kind == "dial" else self.step
                    table.setdefault(press.node, []).append(spent)

    def dial_s(self, node: MapNode) -> float:
        measured = self.dial.get(node.id)
        return fmean(measured) if measured else _heard_until(node)

    def step_s(self, node: MapNode) -> float:
        measured = self.step.get(node.id)
        if measured:
            return fmean(measured)
        dialled = self.dial.get(node.id)
        if dialled:
            return fmean(dialled) - self.answer_s() + REACTION_S
        return _heard_span(node) + REACTION_S

    def continue_s(self) -> float:
        return fmean(self.cont) if self.cont else PAUSE_WAIT_S

    def answer_s(self) -> float:
        return fmean(self.answers) if self.answers else 0.0


def entries(
    route: tuple[RouteStep, ...],
    crawl_map: CrawlMap,
    costs: CostModel,
    step: Callable[[MapNode, str], RouteStep],
) -> tuple[Entry, ...]:
    """The cheaper-than-dialling ways into the path `route` (from the first menu on), one per
    menu it can be entered from: its own menus, and menus with a key to one of them."""
    nodes = {node.id: node for node in crawl_map.nodes}
    spent = [
        costs.dial_s(nodes[s.node]) if index == 0 else costs.step_s(nodes[s.node])
        for index, s in enumerate(route)
    ]
    dialled = sum(spent)
    found: dict[str, tuple[float, Entry]] = {}
    for index, at in enumerate(route):
        menu = nodes[at.node]
        if menu.kind != "menu" or menu.id in found:
            continue
        cost = costs.continue_s() + sum(spent[index + 1 :])
        fresh_s = sum(spent[: index + 1]) - costs.answer_s()
        entry = Entry(menu.id, route[index:], 0, fresh_s, _offered(menu, at.key))
        found[menu.id] = (cost, entry)
    on_route = {at.node: index for index, at in reversed(list(enumerate(route)))}
    for menu in crawl_map.nodes:
        if menu.kind != "menu" or menu.id in on_route:
            continue
        for option in menu.options:
            target = nodes.get(option.to or "")
            if (
                not option.offered
                or option.key == NO_INPUT
                or target is None
                or target.kind != "menu"
                or target.id == menu.id
                or target.id not in on_route
            ):
                continue
            index = on_route[target.id]
            cost = costs.continue_s() + costs.step_s(target) + sum(spent[index + 1 :])
            if menu.id in found and found[menu.id][0] <= cost:
                continue
            fresh_s = sum(spent[: index + 1]) - costs.answer_s()
            entry = Entry(menu.id, (step(menu, option.key), *route[index:]), 1, fresh_s, True)
            found[menu.id] = (cost, entry)
    return tuple(entry for cost, entry in found.values() if cost < dialled)


def claim(
    pending: deque[T], share: int, follow_up: Callable[[T], FollowUp | None], skip: Collection[T]
) -> list[tuple[T, FollowUp]]:
    """Take up to `share` paths from the front of `pending` (not those in `skip`, nor those
    with no way in): the call serves them in this order, as it reaches them."""
    taken: list[tuple[T, FollowUp]] = []
    kept: deque[T] = deque()
    while pending:
        item = pending.popleft()
        plan = None if len(taken) >= share or item in skip else follow_up(item)
        if plan is None:
            kept.append(item)
        else:
            taken.append((item, plan))
    pending.extend(kept)
    return taken


def share_of(pending: int, free_lines: int) -> int:
    """Follow-ups for a call placed now: an even share of what is pending between the lines
    free now (the call's own path counts in it), so that none of them is left idle."""
    return max(0, min(MAX_FOLLOW_UPS, (pending + 1) // max(1, free_lines) - 1))


def _offered(menu: MapNode, key: str) -> bool:
    return any(option.key == key and option.offered for option in menu.options)


def _heard_span(node: MapNode) -> float:
    first = node.evidence[0] if node.evidence else None
    return 0.0 if first is None else first.end_s - first.start_s


def _heard_until(node: MapNode) -> float:
    first = node.evidence[0] if node.evidence else None
    return 0.0 if first is None else first.end_s
