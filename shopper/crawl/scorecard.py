"""The mystery shopper's grade of a phone system, in figures a manager reads at a glance.

Computed from the map and its findings only, so the terminal, scorecard.json, the HTML page
and the MQTT payload always show the same figures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from shopper.crawl.findings import Thresholds, ZeroOut, zero_out
from shopper.crawl.map import CrawlMap, Finding
from shopper.crawl.mapgraph import MapGraph


@dataclass(frozen=True, slots=True)
class MenuScore:
    node: str
    reaches_human: bool
    zero_out: ZeroOut
    """What pressing 0 (and 0 again) did: reached a queue or a person, did not, or was not
    tried (the crawl ran out of budget first)."""

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "reaches_human": self.reaches_human, "zero_out": self.zero_out}


@dataclass(frozen=True, slots=True)
class Scorecard:
    target: str
    menus: list[MenuScore]
    humans: int
    best_time_to_human_s: float | None
    worst_time_to_human_s: float | None
    deepest_human_menus: int | None
    """Menus passed on the way to the hardest-to-reach person (their shortest route)."""
    loops: int
    drops: int
    dead_ends: int
    callback_offered_any_queue: bool
    callback_offered_all_long_holds: bool | None
    """None when no hold was long enough to need a callback offer."""
    calls: int
    call_seconds: float
    lower_bound_s: float
    wall_s: float
    lines: int
    unexplored: int
    findings: dict[str, int] = field(default_factory=dict)
    """Number of findings of each kind that occurred."""

    @property
    def menus_reaching_human(self) -> int:
        return sum(1 for menu in self.menus if menu.reaches_human)

    @property
    def cost_ratio(self) -> float | None:
        """Call-seconds spent per second of the lower bound (1.0 is a perfect crawl)."""
        return self.call_seconds / self.lower_bound_s if self.lower_bound_s > 0 else None

    def to_json(self) -> dict[str, Any]:
        ratio = self.cost_ratio
        return {
            "target": self.target,
            "menus": len(self.menus),
            "menus_reaching_human": self.menus_reaching_human,
            "menu_scores": [menu.to_json() for menu in self.menus],
            "humans": self.humans,
            "best_time_to_human_s": _round(self.best_time_to_human_s),
            "worst_time_to_human_s": _round(self.worst_time_to_human_s),
            "deepest_human_menus": self.deepest_human_menus,
            "loops": self.loops,
            "drops": self.drops,
            "dead_ends": self.dead_ends,
            "callback_offered_any_queue": self.callback_offered_any_queue,
            "callback_offered_all_long_holds": self.callback_offered_all_long_holds,
            "calls": self.calls,
            "call_seconds": round(self.call_seconds, 3),
            "lower_bound_s": round(self.lower_bound_s, 3),
            "cost_ratio": None if ratio is None else round(ratio, 3),
            "wall_s": round(self.wall_s, 3),
            "lines": self.lines,
            "unexplored": self.unexplored,
            "findings": dict(self.findings),
        }

    def render_text(self) -> str:
        """Lines for the terminal, one figure per line."""
        menus = len(self.menus)
        zero_fails = [menu.node for menu in self.menus if menu.zero_out == "fails"]
        zero_ok = sum(1 for menu in self.menus if menu.zero_out == "reaches-person")
        zero_untried = sum(1 for menu in self.menus if menu.zero_out == "untried")
        zero_line = f"{zero_ok}/{menus} menus"
        if zero_fails:
            zero_line += f" (fails at {', '.join(zero_fails)})"
        if zero_untried:
            zero_line += f", {zero_untried} untried"
        ratio = self.cost_ratio
        cost = f"{self.calls} calls, {format_duration(self.call_seconds)} of calls"
        if ratio is not None:
            cost += f" ({ratio:.1f}\u00d7 the {format_duration(self.lower_bound_s)} lower bound)"
        deepest = (
            "—" if self.deepest_human_menus is None else f"{self.deepest_human_menus} menus deep"
        )
        lines = [
            f"Scorecard for {self.target}",
            f"  every menu reaches a human: {self.menus_reaching_human}/{menus}",
            f"  zero-out reaches a person:  {zero_line}",
            f"  people reached:             {self.humans}",
            f"  worst time to human:        {format_duration(self.worst_time_to_human_s)}",
            f"  deepest human:              {deepest}",
            f"  loops / drops / dead ends:  {self.loops} / {self.drops} / {self.dead_ends}",
            f"  callback offered:           {_callback_text(self)}",
            f"  cost:                       {cost}, {self.lines} line(s), "
            f"{format_duration(self.wall_s)} wall",
            f"  unexplored keys:            {self.unexplored}",
        ]
        return "\n".join(lines)


def build_scorecard(
    crawl_map: CrawlMap,
    findings: list[Finding] | None = None,
    thresholds: Thresholds | None = None,
) -> Scorecard:
    """The scorecard of `crawl_map`, counting `findings` (default: the map's own findings);
    `thresholds` says which holds are long enough to need a callback offer."""
    judged = crawl_map.findings if findings is None else findings
    limits = thresholds or Thresholds()
    graph = MapGraph(crawl_map)
    counts = Counter(finding.kind for finding in judged)
    times = [
        node.time_to_human_s
        for node in crawl_map.nodes
        if node.kind == "human" and node.time_to_human_s is not None
    ]
    depths = graph.menu_depths()
    human_depths = [depths[human] for human in graph.humans() if human in depths]
    queues = [node for node in crawl_map.nodes if node.kind == "queue"]
    long_holds = [
        node
        for node in crawl_map.nodes
        if node.hold_s is not None and node.hold_s > limits.callback_hold_s
    ]
    return Scorecard(
        target=crawl_map.target,
        menus=[
            MenuScore(menu, graph.reaches_human(menu), zero_out(graph, menu))
            for menu in graph.menus()
        ],
        humans=len(graph.humans()),
        best_time_to_human_s=min(times) if times else None,
        worst_time_to_human_s=max(times) if times else None,
        deepest_human_menus=max(human_depths) if human_depths else None,
        loops=counts["loop"],
        drops=counts["dropped"],
        dead_ends=counts["dead-end"],
        callback_offered_any_queue=any(queue.callback_offered for queue in queues),
        callback_offered_all_long_holds=(
            all(node.callback_offered for node in long_holds) if long_holds else None
        ),
        calls=crawl_map.calls,
        call_seconds=crawl_map.call_seconds,
        lower_bound_s=crawl_map.lower_bound_s,
        wall_s=crawl_map.wall_s,
        lines=crawl_map.lines,
        unexplored=len(crawl_map.unexplored),
        findings={kind: counts[kind] for kind in sorted(counts)},
    )


def _callback_text(card: Scorecard) -> str:
    any_queue = "yes" if card.callback_offered_any_queue else "no"
    if card.callback_offered_all_long_holds is None:
        return f"at some queue: {any_queue}; no hold was long enough to need one"
    every = "yes" if card.callback_offered_all_long_holds else "no"
    return f"at some queue: {any_queue}; on every long hold: {every}"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest:02d} s"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
