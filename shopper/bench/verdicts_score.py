"""Scoring the verdicts bench: shopper's answers against the design and the sandbox's truth.

Pure functions of what a run produced (call results, crawl maps, `sandbox-truth.json`
documents), so they can be checked on small hand-made inputs.

A crawl's nodes are named from what was heard, so they are matched to the designed places
through the truth of the calls that heard them: the sandbox node whose sounds fill most of
the node's first evidence span is where the node is (a node with an empty span, such as a
dropped line after a hold, is where the call was at that moment).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from shopper.bench.verdicts_design import PASS, CrawlDesign
from shopper.crawl.map import CrawlMap, Finding, MapNode

Truth = dict[str, Any]
"""A `sandbox-truth.json` document (shopper/sandbox/truth.py)."""
EMPTY_SPAN_S = 0.05


def verdict_of(result: dict[str, Any]) -> str:
    """`pass`, or the failure kind a call's result.json reports."""
    if result["outcome"] == "passed":
        return PASS
    failure = result.get("failure") or {}
    return str(failure.get("kind", result["outcome"]))


def truth_hold_s(truth: Truth) -> float:
    """Seconds the sandbox held the caller (every hold, until it ended or the call did)."""
    ended = (truth.get("end") or {}).get("at_s")
    total = 0.0
    for hold in truth.get("holds", []):
        end = hold["end_s"] if hold["end_s"] is not None else ended
        total += (end or hold["start_s"]) - hold["start_s"]
    return round(total, 3)


def truth_time_to_human_s(truth: Truth) -> float | None:
    """Seconds from answer to the agent's first word; None when no agent spoke."""
    spoke = truth.get("agent_first_spoke_s")
    answered = (truth.get("answer") or {}).get("answered_s")
    if spoke is None or answered is None:
        return None
    return round(float(spoke) - float(answered), 3)


@dataclass(frozen=True, slots=True)
class ScriptRun:
    ivr: str
    script: str
    voice: str
    expected: tuple[str, ...]
    got: str
    time_to_human_s: float | None
    truth_time_to_human_s: float | None
    hold_s: float
    truth_hold_s: float
    folder: str = ""
    """Where the call's evidence was written."""
    asks_for_human: bool = True
    """The script has a `human` step: only then does it measure the time to a person."""

    @property
    def wrong(self) -> bool:
        return self.got not in self.expected


@dataclass(frozen=True, slots=True)
class Errors:
    """Absolute errors of a measurement against the truth, over the calls that have both;
    `missing` counts calls where only one of the two exists (a person measured that never
    spoke, or one who spoke and was not measured)."""

    count: int
    missing: int
    max_s: float | None
    mean_s: float | None

    def render(self) -> str:
        if self.max_s is None or self.mean_s is None:
            return f"- ({self.missing} missing)" if self.missing else "-"
        missing = f", {self.missing} missing" if self.missing else ""
        return f"{self.max_s:.1f}/{self.mean_s:.1f} s ({self.count}{missing})"


def errors(pairs: Iterable[tuple[float | None, float | None]]) -> Errors:
    """`Errors` of (measured, truth) pairs; pairs where neither exists are not counted."""
    found: list[float] = []
    missing = 0
    for measured, truth in pairs:
        if measured is None and truth is None:
            continue
        if measured is None or truth is None:
            missing += 1
            continue
        found.append(abs(measured - truth))
    if not found:
        return Errors(0, missing, None, None)
    return Errors(len(found), missing, max(found), fmean(found))


def time_to_human_errors(runs: Sequence[ScriptRun]) -> Errors:
    """Over scripts that ask for a person (others hang up or fail before one could answer)."""
    return errors(
        (run.time_to_human_s, run.truth_time_to_human_s) for run in runs if run.asks_for_human
    )


def hold_errors(runs: Sequence[ScriptRun]) -> Errors:
    """Over calls with a hold, in truth or as measured."""
    return errors(
        (run.hold_s, run.truth_hold_s) for run in runs if run.hold_s > 0 or run.truth_hold_s > 0
    )


def node_place(node: MapNode, truth_of: Callable[[str], Truth], design: CrawlDesign) -> str | None:
    """The designed place a crawl node is, from the truth of the call that first heard it."""
    if not node.evidence:
        return None
    evidence = node.evidence[0]
    truth = truth_of(evidence.call_id)
    if evidence.end_s - evidence.start_s > EMPTY_SPAN_S:
        overlap: dict[tuple[str, str], float] = defaultdict(float)
        for sound in truth.get("sounds", []):
            if sound["node"] is None or sound["end_s"] is None:
                continue
            shared = min(evidence.end_s, sound["end_s"]) - max(evidence.start_s, sound["start_s"])
            if shared > 0:
                overlap[(sound["node"], sound["role"])] += shared
        if overlap:
            where, role = max(overlap, key=lambda k: overlap[k])
            return design.resolve(where, role)
    entered = [e["node"] for e in truth.get("nodes", []) if e["at_s"] <= evidence.start_s + 1e-6]
    if not entered:
        return None
    return design.resolve(entered[-1], _ending_role(truth, entered[-1], evidence.start_s))


def _ending_role(truth: Truth, node: str, at_s: float) -> str:
    """What the node was doing when the call ended there: a menu that hung up after its last
    failure (`invalid` when that was a wrong key, `no-input` when nothing was pressed), or
    just ending (`end`)."""
    end = truth.get("end") or {}
    if end.get("reason") != "retries exhausted" or abs(end.get("at_s", 0.0) - at_s) > 1.0:
        return "end"
    prompted = max(
        (
            s["start_s"]
            for s in truth.get("sounds", [])
            if s["node"] == node and s["role"] == "prompt"
        ),
        default=0.0,
    )
    keys = truth.get("keys", [])
    wrong = any(
        k["node"] == node and k["action"] == "invalid" and k["start_s"] >= prompted for k in keys
    )
    return "invalid" if wrong else "no-input"


def same_kind(found: str, designed: str) -> bool:
    """A crawl node's kind is the designed one (a voicemail greeting heard as a message
    before the beep is the documented split of one voicemail place, not a wrong kind)."""
    return found == designed or (designed == "voicemail" and found == "message")


@dataclass(slots=True)
class CrawlScore:
    ivr: str = ""
    places: int = 0
    places_right: int = 0
    findings_right: int = 0
    findings_missed: int = 0
    findings_invented: int = 0
    keys_offered: int = 0
    keys_found: int = 0
    nodes: int = 0
    nodes_unplaced: int = 0
    calls: int = 0
    call_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    """What was missed or invented, one line each, for the report's details."""

    def add(self, other: CrawlScore) -> None:
        for name in (
            "places",
            "places_right",
            "findings_right",
            "findings_missed",
            "findings_invented",
            "keys_offered",
            "keys_found",
            "nodes",
            "nodes_unplaced",
            "calls",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.call_seconds += other.call_seconds
        self.notes += other.notes


def score_crawl(
    crawl_map: CrawlMap,
    findings: Sequence[Finding],
    truth_of: Callable[[str], Truth],
    design: CrawlDesign,
    label: str = "",
) -> CrawlScore:
    """How much of the designed map a crawl found, judged by the truth of its calls."""
    place_of = {node.id: node_place(node, truth_of, design) for node in crawl_map.nodes}
    score = CrawlScore(
        ivr=label.removesuffix(": "),
        places=len(design.places),
        nodes=len(crawl_map.nodes),
        nodes_unplaced=sum(1 for p in place_of.values() if p is None),
        calls=crawl_map.calls,
        call_seconds=crawl_map.call_seconds,
    )
    for place in design.places.values():
        nodes = [n for n in crawl_map.nodes if place_of[n.id] == place.name]
        if any(same_kind(n.kind, place.kind) for n in nodes):
            score.places_right += 1
        else:
            kinds = ", ".join(sorted({n.kind for n in nodes})) or "not found"
            score.notes.append(f"{label}place {place.name} ({place.kind}): {kinds}")
        found_keys = {o.key for n in nodes for o in n.options if o.offered and o.to is not None}
        score.keys_offered += len(place.keys)
        score.keys_found += len(set(place.keys) & found_keys)
        lost = sorted(set(place.keys) - found_keys)
        if lost:
            score.notes.append(f"{label}keys of {place.name} not found: {' '.join(lost)}")
    _score_findings(score, findings, place_of, design, label)
    return score


def _score_findings(
    score: CrawlScore,
    findings: Sequence[Finding],
    place_of: dict[str, str | None],
    design: CrawlDesign,
    label: str,
) -> None:
    matched: set[int] = set()
    for finding in findings:
        where = place_of.get(finding.node)
        hits = [
            i
            for i, expected in enumerate(design.findings)
            if expected.kind == finding.kind and where in expected.at
        ]
        if hits:
            score.findings_right += 1
            matched.update(hits)
        else:
            score.findings_invented += 1
            score.notes.append(f"{label}invented {finding.kind} at {finding.node} ({where})")
    for i, expected in enumerate(design.findings):
        if i not in matched:
            score.findings_missed += 1
            score.notes.append(f"{label}missed {expected.kind} at {'/'.join(sorted(expected.at))}")
