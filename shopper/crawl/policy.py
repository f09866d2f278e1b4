"""Whether a crawled phone system passes: a small YAML policy, or shopper's defaults.

Teams disagree about what is fatal — a missing zero-out may be a design choice, a dropped
call never is — so the verdict is a policy the user can write down and version, checked
line by line like every other hand-written file (see docs/crawl-outputs.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopper.crawl.findings import Thresholds
from shopper.crawl.map import FINDING_KINDS, Finding, FindingKind
from shopper.crawl.scorecard import Scorecard, format_duration
from shopper.errors import ShopperError
from shopper.yamlfile import YamlChecker, YamlFileError, closest, load_yaml

TOP_KEYS = ("fail_on", "max_time_to_human", "min_menus_reaching_human", "thresholds")
THRESHOLD_KEYS = ("long_hold", "callback_hold", "max_human_menus")
DEFAULT_FAIL_ON: tuple[FindingKind, ...] = (
    "loop",
    "dropped",
    "dead-end",
    "no-human-path",
    "invalid-key-drops",
)
"""Findings that fail a crawl unless a policy says otherwise: each one strands a caller."""

_EXAMPLES = {"thresholds": "{long_hold: 2m, callback_hold: 1m, max_human_menus: 3}"}
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


class PolicyError(ShopperError):
    """A policy file that cannot be used; the message is `FILE:LINE: problem (fix)`."""


@dataclass(frozen=True, slots=True)
class Policy:
    fail_on: tuple[FindingKind, ...] = DEFAULT_FAIL_ON
    max_time_to_human_s: float | None = None
    min_menus_reaching_human: float | None = None
    """Share of menus (0 to 1) from which a person must be reachable."""
    thresholds: Thresholds = field(default_factory=Thresholds)
    source: Path | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    reasons: list[str]
    """Why it failed, one line each; empty when it passed."""

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons)}


def evaluate(policy: Policy, scorecard: Scorecard, findings: list[Finding]) -> Verdict:
    reasons = []
    for kind in policy.fail_on:
        nodes = [finding.node for finding in findings if finding.kind == kind]
        if nodes:
            shown = ", ".join(dict.fromkeys(nodes))
            reasons.append(f"{len(nodes)} {kind} finding(s) at {shown} (fail_on: {kind})")
    limit = policy.max_time_to_human_s
    if limit is not None:
        worst = scorecard.worst_time_to_human_s
        if worst is None:
            reasons.append(f"no person was reached (max_time_to_human: {format_duration(limit)})")
        elif worst > limit:
            reasons.append(
                f"worst time to human {format_duration(worst)} is over max_time_to_human "
                f"{format_duration(limit)}"
            )
    share = policy.min_menus_reaching_human
    menus = len(scorecard.menus)
    if share is not None and menus:
        reaching = scorecard.menus_reaching_human
        if reaching / menus < share:
            reasons.append(
                f"menus reaching a human {reaching}/{menus} ({reaching / menus:.0%}) is under "
                f"min_menus_reaching_human {share:.0%}"
            )
    return Verdict(passed=not reasons, reasons=reasons)


def load_policy(path: Path) -> Policy:
    """The policy in `path`, fully checked; a missing key keeps its default."""
    try:
        document = load_yaml(path)
    except YamlFileError as error:
        raise PolicyError(str(error)) from None
    checker = _PolicyChecker(document)
    return checker.policy()


class _PolicyChecker(YamlChecker):
    error = PolicyError
    document_label = "the policy"
    examples = _EXAMPLES
    top_hint = " (start with fail_on: [loop, dropped, no-human-path])"

    def policy(self) -> Policy:
        if self.document.data is None:
            return Policy(source=self.document.path)
        top = self.mapping(self.document.data, (), TOP_KEYS)
        defaults = Thresholds()
        thresholds = defaults
        if "thresholds" in top:
            at = ("thresholds",)
            given = self.mapping(top["thresholds"], at, THRESHOLD_KEYS)
            thresholds = Thresholds(
                long_hold_s=self.optional(given, "long_hold", at, defaults.long_hold_s),
                callback_hold_s=self.optional(given, "callback_hold", at, defaults.callback_hold_s),
                max_human_menus=(
                    self.count(given["max_human_menus"], (*at, "max_human_menus"))
                    if "max_human_menus" in given
                    else defaults.max_human_menus
                ),
            )
        return Policy(
            fail_on=self.kinds(top["fail_on"]) if "fail_on" in top else DEFAULT_FAIL_ON,
            max_time_to_human_s=(
                self.duration(top["max_time_to_human"], ("max_time_to_human",), positive=True)
                if "max_time_to_human" in top
                else None
            ),
            min_menus_reaching_human=(
                self.percent(top["min_menus_reaching_human"], ("min_menus_reaching_human",))
                if "min_menus_reaching_human" in top
                else None
            ),
            thresholds=thresholds,
            source=self.document.path,
        )

    def optional(
        self, given: dict[str, object], name: str, at: tuple[str, ...], default: float
    ) -> float:
        return self.duration(given[name], (*at, name), positive=True) if name in given else default

    def kinds(self, value: object) -> tuple[FindingKind, ...]:
        at = ("fail_on",)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(at, f"fail_on must be a list like [loop, dropped], not {value!r}")
        kinds: list[FindingKind] = []
        for index, item in enumerate(value):
            known = next((kind for kind in FINDING_KINDS if kind == item), None)
            if known is None:
                suggestion = closest(item, FINDING_KINDS)
                fix = (
                    f"did you mean {suggestion}?"
                    if suggestion
                    else f"valid: {', '.join(FINDING_KINDS)}"
                )
                self.fail((*at, index), f"unknown finding kind {item!r} in fail_on ({fix})")
            kinds.append(known)
        return tuple(kinds)

    def percent(self, value: object, at: tuple[str, ...]) -> float:
        found = _PERCENT.fullmatch(value.strip()) if isinstance(value, str) else None
        if found is None or float(found[1]) > 100:
            self.fail(
                at,
                f"{at[-1]} must be a percentage from 0% to 100% like 100% or 80%, not {value!r}",
            )
        return float(found[1]) / 100

    def count(self, value: object, at: tuple[str, ...]) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(at, f"{at[-1]} must be a whole number of menus like 3, not {value!r}")
        return value
