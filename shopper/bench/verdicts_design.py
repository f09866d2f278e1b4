"""The right answers of the verdicts bench: what each IVR's design says a caller and a crawl
must find (scripts/verdicts/<half>/<ivr>/expected.yaml, docs/benchmarks.md "Verdicts").

The bench is the judge, so unlike the tester side it may read the IVR definition: every
place, key and finding named here is checked against it when the file loads, so a typo in
the answer key fails at once instead of scoring shopper against a wrong answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast, get_args

from shopper.crawl.map import FINDING_KINDS, NODE_KINDS, NodeKind
from shopper.engine.failures import FailureKind
from shopper.errors import ShopperError
from shopper.sandbox.loader import load_ivr
from shopper.sandbox.model import IvrDefinition, Menu, Queue
from shopper.scripts.loader import load_script
from shopper.scripts.model import CallScript, ChooseStep, HumanStep, Step
from shopper.yamlfile import PathPart, YamlFile, YamlFileError, load_yaml

VERDICTS_DIR = Path(__file__).resolve().parents[2] / "scripts" / "verdicts"
HALVES = ("dev", "heldout")
"""The bench's two halves (`--half both`)."""
FRESH = "fresh"
"""IVRs written later to find what the crawler was tuned to (scripts/verdicts/fresh/README.md):
development material once scored, kept out of `--half both`."""
PASS = "pass"
FAILURE_KINDS = (*(kind for kind in get_args(FailureKind) if kind != "error"), "voicemail")
"""What a script's right answer may be besides `pass`: the failure kinds of docs/scripts.md,
and `voicemail`, the outcome issue 10 gives a call that ends in a voicemail box."""
PLACE_ROLES = ("invalid", "no-input", "end")
"""`node:role` places: where a node's invalid-key or no-input notice leads when the call ends
there, and (`end`) the moment the node ends the call without a sound of its own (a hold
with nothing after it)."""
IVR_FILE = "ivr.yaml"
EXPECTED_FILE = "expected.yaml"


class VerdictsError(ShopperError):
    """An expected.yaml that does not fit its IVR; the message is `FILE:LINE: problem`."""


@dataclass(frozen=True, slots=True)
class Place:
    """A place a faithful crawl finds: a sandbox node (or `node:role`) and what it is."""

    name: str
    kind: NodeKind
    keys: tuple[str, ...] = ()
    """Keys the menu offers (its prompt says them)."""
    also: tuple[str, ...] = ()
    """Further sandbox nodes heard as part of this place (a transfer announcement and the
    busy tone after it)."""


@dataclass(frozen=True, slots=True)
class ExpectedFinding:
    kind: str
    at: frozenset[str]
    """Places where the finding is right (a circular transfer: any place of the circle)."""


@dataclass(frozen=True, slots=True)
class CrawlDesign:
    places: dict[str, Place]
    findings: tuple[ExpectedFinding, ...]
    at: datetime | None = None
    """The moment the crawl is placed at (opening hours), on the IVR's clock."""

    def resolve(self, node: str, *roles: str) -> str | None:
        """The place a sandbox node belongs to, if designed: `node:role` for the first of
        `roles` (what it was doing: playing an invalid-key notice, ending) designed so."""
        for role in roles:
            if f"{node}:{role}" in self.places:
                return f"{node}:{role}"
        if node in self.places:
            return node
        return next((p.name for p in self.places.values() if node in p.also), None)


@dataclass(frozen=True, slots=True)
class ScriptCase:
    script: CallScript
    path: Path
    expected: tuple[str, ...]
    """Right answers: `pass` or failure kinds (any one of them is right)."""

    @property
    def asks_for_human(self) -> bool:
        return _asks_for_human(self.script.steps)


@dataclass(frozen=True, slots=True)
class VerdictIvr:
    name: str
    """The IVR's folder name."""
    ivr: Path
    definition: IvrDefinition
    scripts: tuple[ScriptCase, ...]
    crawl: CrawlDesign


def load_half(half: str, root: Path = VERDICTS_DIR) -> list[VerdictIvr]:
    """Every IVR of one half (dev, heldout or fresh), in folder order."""
    folder = root / half
    if half not in (*HALVES, FRESH) or not folder.is_dir():
        names = ", ".join((*HALVES, FRESH))
        raise VerdictsError(f"no verdicts half {half!r} in {root} (use one of {names})")
    return [load_verdict_ivr(path) for path in sorted(folder.iterdir()) if path.is_dir()]


def load_verdict_ivr(folder: Path) -> VerdictIvr:
    """One IVR folder: ivr.yaml, its call scripts and expected.yaml, checked against each other."""
    definition = load_ivr(folder / IVR_FILE)
    try:
        document = load_yaml(folder / EXPECTED_FILE)
    except YamlFileError as error:
        raise VerdictsError(str(error)) from None
    reader = _Reader(document, definition)
    top = reader.mapping(document.data, (), ("scripts", "crawl"))
    scripts = reader.scripts(top.get("scripts"), folder)
    crawl = reader.crawl(top.get("crawl"))
    return VerdictIvr(folder.name, folder / IVR_FILE, definition, scripts, crawl)


class _Reader:
    """Reads expected.yaml; every complaint names its line."""

    def __init__(self, document: YamlFile, definition: IvrDefinition) -> None:
        self.document = document
        self.definition = definition

    def fail(self, at: tuple[PathPart, ...], problem: str) -> VerdictsError:
        return VerdictsError(f"{self.document.path}:{self.document.line(*at)}: {problem}")

    def mapping(
        self, value: object, at: tuple[PathPart, ...], keys: tuple[str, ...]
    ) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.fail(at, f"expected a mapping with {', '.join(keys)}")
        unknown = [k for k in value if k not in keys]
        if unknown:
            raise self.fail(
                (*at, unknown[0]), f"unknown key {unknown[0]!r} (use {', '.join(keys)})"
            )
        return cast(dict[str, object], value)

    def strings(self, value: object, at: tuple[PathPart, ...]) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in items):
            raise self.fail(at, f"expected a name or a list of names, not {value!r}")
        return tuple(cast(list[str], items))

    def scripts(self, value: object, folder: Path) -> tuple[ScriptCase, ...]:
        answers = self.mapping(value, ("scripts",), _keys(value))
        files = {p.name for p in folder.glob("*.yaml")} - {IVR_FILE, EXPECTED_FILE}
        missing = sorted(files - answers.keys())
        if missing:
            raise self.fail(("scripts",), f"script {missing[0]} has no expected outcome (add it)")
        cases = []
        for name, answer in answers.items():
            at = ("scripts", name)
            if name not in files:
                raise self.fail(at, f"no script {name} in {folder}")
            expected = self.strings(answer, at)
            wrong = [e for e in expected if e != PASS and e not in FAILURE_KINDS]
            if wrong:
                raise self.fail(at, f"{wrong[0]!r} is not pass or a failure kind")
            script = load_script(folder / name)
            if script.target != str((folder / IVR_FILE).resolve()):
                raise self.fail(at, f"script {name} does not call {IVR_FILE} in its folder")
            cases.append(ScriptCase(script, folder / name, expected))
        return tuple(cases)

    def crawl(self, value: object) -> CrawlDesign:
        top = self.mapping(value, ("crawl",), ("at", "places", "findings"))
        raw_places = self.mapping(top.get("places"), ("crawl", "places"), _keys(top.get("places")))
        places = {name: self.place(name, raw) for name, raw in raw_places.items()}
        findings = tuple(
            self.finding(raw, index, places)
            for index, raw in enumerate(cast(list[object], top.get("findings") or []))
        )
        at = top.get("at")
        if at is not None and not isinstance(at, str):
            raise self.fail(
                ("crawl", "at"), 'at must be a quoted date and time, "2024-05-07T10:00"'
            )
        return CrawlDesign(places, findings, datetime.fromisoformat(at) if at else None)

    def place(self, name: str, value: object) -> Place:
        at: tuple[PathPart, ...] = ("crawl", "places", name)
        fields = self.mapping(value, at, ("kind", "keys", "also"))
        node, _, role = name.partition(":")
        if node not in self.definition.nodes or (role and role not in PLACE_ROLES):
            raise self.fail(
                at, f"{name!r} is not a node of the IVR (or node:{'|'.join(PLACE_ROLES)})"
            )
        kind = fields.get("kind")
        if kind not in NODE_KINDS:
            raise self.fail((*at, "kind"), f"kind {kind!r} is not one of {', '.join(NODE_KINDS)}")
        keys = self.strings(fields.get("keys", []), (*at, "keys"))
        behaviour = self.definition.nodes[node].behaviour
        offered = behaviour.options if isinstance(behaviour, Menu) else {}
        if isinstance(behaviour, Queue) and behaviour.callback_offer is not None:
            offered = {behaviour.callback_offer.digit: behaviour.callback_offer.goto}
        stray = [key for key in keys if key not in offered]
        if stray:
            raise self.fail((*at, "keys"), f"key {stray[0]!r} is not an option of node {node}")
        also = self.strings(fields.get("also", []), (*at, "also"))
        unknown = [n for n in also if n not in self.definition.nodes]
        if unknown:
            raise self.fail((*at, "also"), f"{unknown[0]!r} is not a node of the IVR")
        return Place(name, kind, keys, also)

    def finding(self, value: object, index: int, places: dict[str, Place]) -> ExpectedFinding:
        at: tuple[PathPart, ...] = ("crawl", "findings", index)
        fields = self.mapping(value, at, ("kind", "at"))
        kind = fields.get("kind")
        if kind not in FINDING_KINDS:
            raise self.fail(
                (*at, "kind"), f"{kind!r} is not a finding kind ({', '.join(FINDING_KINDS)})"
            )
        where = self.strings(fields.get("at"), (*at, "at"))
        unknown = [p for p in where if p not in places]
        if not where or unknown:
            raise self.fail((*at, "at"), f"finding at {where!r}: name places of crawl.places")
        return ExpectedFinding(cast(str, kind), frozenset(where))


def _keys(value: object) -> tuple[str, ...]:
    """The keys of a mapping whose keys are free names (script files, places)."""
    return tuple(str(key) for key in value) if isinstance(value, dict) else ()


def _asks_for_human(steps: tuple[Step, ...]) -> bool:
    return any(
        isinstance(step, HumanStep)
        or (isinstance(step, ChooseStep) and any(_asks_for_human(b.steps) for b in step.branches))
        for step in steps
    )
