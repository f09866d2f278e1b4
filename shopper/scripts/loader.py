"""Reading a call script's YAML file into a `CallScript`, or saying in one line what is wrong.

A script is checked completely before any call is placed — its steps, durations, keys,
matchers, its target and whether that target may be called — because a mistake found an
hour into a hold, or a typo that dials the wrong number, costs far more than a refusal at
load time. Every problem is `FILE:LINE: message (how to fix)`, in the same style as the
sandbox loader, at the first problem found.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from shopper.carriers.safety import UnsafeNumberError, check_dialable, looks_like_phone_number
from shopper.carriers.sip.target import SipTargetError, parse_sip_target
from shopper.errors import ShopperError
from shopper.paths import PathError, resolve_reference
from shopper.scripts.model import (
    Branch,
    CallScript,
    CarrierName,
    ChooseStep,
    ExpectHangupStep,
    ExpectStep,
    HangupStep,
    HoldStep,
    HumanStep,
    Limits,
    PressStep,
    SayStep,
    Step,
    WaitStep,
)
from shopper.text.match import Matcher, MatcherSpecError, matcher_from_spec
from shopper.text.normalize import MishearingTableError, mishearing_entries
from shopper.yamlfile import (
    Where,
    YamlChecker,
    YamlFile,
    YamlFileError,
    closest,
    key_names,
    load_yaml,
)

TOP_KEYS = ("name", "target", "carrier", "at", "settings", "steps", "assert", "mishearings")
SETTINGS_KEYS = ("prompt_end_silence", "dead_air", "hold_dead_air", "ack", "max_duration")
ASSERT_KEYS = ("time_to_human", "hold", "duration", "answer")
VERBS = ("expect", "press", "say", "wait", "hold", "human", "hangup", "expect_hangup", "choose")
STEP_OPTIONS: dict[str, tuple[str, ...]] = {
    "within": ("expect", "choose"),
    "silence": ("expect",),
    "optional": ("expect",),
    "ack": ("press",),
}
"""Keys that sit beside a step's verb, and the verbs they belong to."""
STEP_KEYS = VERBS + tuple(STEP_OPTIONS)
CARRIERS: tuple[CarrierName, ...] = ("sandbox", "twilio", "sip")
PHONE_KEYS = "0123456789*#ABCD"

_EXAMPLES = {
    "settings": "{prompt_end_silence: 1.8s, dead_air: 12s, ack: 4s, max_duration: 30m}",
    "assert": "{time_to_human: {max: 3m}, hold: {max: 5m}}",
    "step": '{press: "1"}',
    "press": '"1" or {keys: "1", ack: 4s, tone: 100ms, gap: 100ms, after_prompt: false}',
    "hold": "{max: 5m, start_within: 60s} or true",
    "human": "{within: 10m, probe: true, courtesy: true} or true",
    "expect_hangup": "{within: 30s} or true",
    "branch": '{expect: "for billing", then: [{press: "1"}]}',
    "mishearings": '{acne: acme, oh: "0"}',
    "limit": "{max: 3m}",
}


class ScriptError(ShopperError):
    """A call script that cannot be used; the message is `FILE:LINE: problem (fix)`."""


def load_script(path: Path) -> CallScript:
    """The call script in `path`, fully checked, with its sandbox target as an absolute path."""
    try:
        document = load_yaml(path)
    except YamlFileError as error:
        raise ScriptError(str(error)) from None
    return _Builder(document).script()


def _default(model: type, name: str) -> Any:
    """A model field's default, so the loader never restates the model's numbers."""
    return {f.name: f.default for f in dataclasses.fields(model)}[name]


def spec_label(spec: object) -> str:
    """A short readable form of an `expect:` value, for step labels in reports."""
    if isinstance(spec, str):
        return f'"{spec}"'
    if isinstance(spec, Mapping):
        if "any" in spec and isinstance(spec["any"], list):
            return " or ".join(spec_label(item) for item in spec["any"])
        if "regex" in spec:
            return f"/{spec['regex']}/"
        minimum = f" (min {spec['min']})" if "min" in spec else ""
        if "fuzzy" in spec:
            return f'~"{spec["fuzzy"]}"{minimum}'
        if "contains" in spec:
            return f'"{spec["contains"]}"{minimum}'
    return repr(spec)


class _Builder(YamlChecker):
    """Builds the script while it checks it, so each value is judged where its line is known."""

    error = ScriptError
    document_label = "the script"
    examples = _EXAMPLES
    top_hint = " (start with name:, target: and steps:)"

    def __init__(self, document: YamlFile) -> None:
        super().__init__(document)
        self.base = document.path.resolve().parent
        self.mishearings: dict[str, str] = {}
        self._lines: list[str] | None = None

    # -- reporting ---------------------------------------------------------------------

    def source_text(self, at: Where) -> str | None:
        """The value at `at` as written on its line, e.g. `0123` that YAML read as 83."""
        if self._lines is None:
            self._lines = self.document.path.read_text(encoding="utf-8").splitlines()
        line = self._lines[self.document.line(*at) - 1]
        found = re.search(rf"\b{re.escape(str(at[-1]))}\s*:\s*([^\s,}}#]+)", line)
        return found[1] if found else None

    # -- generic shapes ----------------------------------------------------------------

    def duration(self, value: object, at: Where, *, positive: bool = True) -> float:
        """Every duration in a script is a wait or a limit, so zero is never meant."""
        return super().duration(value, at, positive=positive)

    def optional_duration(
        self, fields: Mapping[str, object], name: str, at: Where, default: float
    ) -> float:
        return self.duration(fields[name], (*at, name)) if name in fields else default

    # -- the file ----------------------------------------------------------------------

    def script(self) -> CallScript:
        if self.document.data is None:
            self.fail((), "the file is empty (see docs/scripts.md for the format)")
        if isinstance(self.document.data, dict) and "nodes" in self.document.data:
            self.fail(
                ("nodes",),
                "this is a sandbox IVR, not a call script: run a script whose target: names "
                "this file",
                key=True,
            )
        top = self.mapping(self.document.data, (), TOP_KEYS, required=("name", "target", "steps"))
        name = self.text(top["name"], ("name",))
        carrier = self.carrier(top.get("carrier", "sandbox"))
        target = self.target(top["target"], carrier)
        if "mishearings" in top:
            self.mishearings = self.mishearing_table(top["mishearings"])
        settings = (
            self.mapping(top["settings"], ("settings",), SETTINGS_KEYS) if "settings" in top else {}
        )
        at = ("settings",)
        return CallScript(
            name=name,
            target=target,
            steps=self.steps(top["steps"], ("steps",)),
            carrier=carrier,
            source=self.document.path.resolve(),
            limits=self.limits(top["assert"]) if "assert" in top else Limits(),
            prompt_end_silence_s=self.setting(settings, "prompt_end_silence"),
            dead_air_s=self.setting(settings, "dead_air"),
            hold_dead_air_s=self.setting(settings, "hold_dead_air"),
            ack_s=self.setting(settings, "ack"),
            max_duration_s=self.optional_duration(
                settings, "max_duration", at, _default(CallScript, "max_duration_s")
            ),
            sandbox_at=self.moment(top["at"]) if "at" in top else None,
        )

    def moment(self, value: object) -> datetime:
        at = ("at",)
        if isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
        written = value if isinstance(value, str) else self.source_text(at) or str(value)
        self.fail(
            at,
            f'at: {written!r} is not a date and time (write it like "2024-05-06T10:00", '
            'read on the IVR\'s own clock, or with an offset like "2024-05-06T10:00-04:00")',
        )

    def setting(self, settings: Mapping[str, object], name: str) -> float | None:
        return self.duration(settings[name], ("settings", name)) if name in settings else None

    def carrier(self, value: object) -> CarrierName:
        at = ("carrier",)
        if value not in CARRIERS:
            suggestion = closest(value, CARRIERS)
            hint = f"did you mean {suggestion}? " if suggestion else ""
            self.fail(at, f"unknown carrier {value!r} ({hint}valid: {', '.join(CARRIERS)})")
        return value

    def target(self, value: object, carrier: CarrierName) -> str:
        at = ("target",)
        if isinstance(value, int) and not isinstance(value, bool):
            written = self.source_text(at) or str(value)
            self.check_number(written, at)
            self.fail(at, f'target {written} must be quoted: write target: "{written}"')
        text = self.text(value, at)
        if carrier == "sip":
            return self.sip_target(text, at)
        if carrier == "twilio":
            if not looks_like_phone_number(text):
                self.fail(
                    at,
                    f"target {text!r} is not a phone number; carrier {carrier} dials numbers "
                    "like +15550100000",
                )
            self.check_number(text, at)
            return text.strip()
        if looks_like_phone_number(text):
            self.check_number(text, at)
            self.fail(
                at,
                f"target {text!r} is a phone number, but the carrier is sandbox (point target: "
                "at a sandbox IVR file, or write carrier: sip to call it over SIP)",
            )
        return self.sandbox_file(text, at)

    def sip_target(self, text: str, at: Where) -> str:
        """A SIP URI or a number for the trunk, checked as the SIP carrier will read it."""
        try:
            parse_sip_target(text)
        except (SipTargetError, UnsafeNumberError) as error:
            self.fail(at, str(error))
        return text.strip()

    def check_number(self, number: str, at: Where) -> None:
        try:
            check_dialable(number)
        except UnsafeNumberError as error:
            self.fail(at, str(error))

    def sandbox_file(self, reference: str, at: Where) -> str:
        try:
            path = resolve_reference(reference, self.base)
        except PathError as error:
            self.fail(at, f"target {error}")
        if not path.is_file():
            self.fail(
                at,
                f"target {reference!r} not found: looked for {path} "
                "(relative paths start at the script's folder)",
            )
        from shopper.sandbox.loader import SandboxDefinitionError, load_ivr

        try:
            load_ivr(path)
        except SandboxDefinitionError as error:
            raise ScriptError(str(error)) from None
        return str(path)

    def mishearing_table(self, value: object) -> dict[str, str]:
        at = ("mishearings",)
        if not isinstance(value, dict):
            self.fail(at, f"mishearings must be a mapping of heard: meant, like {_EXAMPLES[at[0]]}")
        for heard, meant in value.items():
            if not isinstance(heard, str) or not isinstance(meant, str):
                self.fail(
                    (*at, heard),
                    f"mishearings entry {heard!r}: {meant!r}: both sides must be text "
                    "(quote numbers)",
                    key=True,
                )
        table = cast(dict[str, str], value)
        try:
            mishearing_entries(table)
        except MishearingTableError as error:
            self.fail(at, str(error))
        return table

    def limits(self, value: object) -> Limits:
        at = ("assert",)
        fields = self.mapping(value, at, ASSERT_KEYS, label="assert")
        maxima: dict[str, float] = {}
        for name, limit in fields.items():
            inner = self.mapping(limit, (*at, name), ("max",), ("max",), example="limit")
            maxima[name] = self.duration(inner["max"], (*at, name, "max"), positive=False)
        return Limits(
            time_to_human_max_s=maxima.get("time_to_human"),
            hold_max_s=maxima.get("hold"),
            duration_max_s=maxima.get("duration"),
            answer_max_s=maxima.get("answer"),
        )

    # -- steps -------------------------------------------------------------------------

    def steps(self, value: object, at: Where) -> tuple[Step, ...]:
        if not isinstance(value, list) or not value:
            self.fail(
                at,
                f'{at[-1]} must be a non-empty list of steps, each a line like - press: "1"',
            )
        return tuple(self.step(item, (*at, index)) for index, item in enumerate(value))

    def step_name(self, at: Where) -> str:
        """`step 3`, or `step 2, branch 1, step 1` inside a choose."""
        parts = []
        for previous, part in itertools.pairwise(at):
            if isinstance(part, int):
                kind = "branch" if previous == "choose" else "step"
                parts.append(f"{kind} {part + 1}")
        return ", ".join(parts)

    def step(self, value: object, at: Where) -> Step:
        name = self.step_name(at)
        if isinstance(value, str) and value in VERBS:
            self.fail(at, f"{name} must be a mapping: write {value}: true, not just {value}")
        if not isinstance(value, dict):
            self.fail(at, f'{name} must be a mapping, like - press: "1" or - expect: welcome')
        fields = self.mapping(value, at, STEP_KEYS, label=name)
        verbs = [key for key in fields if key in VERBS]
        if not verbs:
            self.fail(at, f"{name} has no action (add one of {key_names(VERBS)})")
        if len(verbs) > 1:
            self.fail(
                (*at, verbs[1]),
                f"{name} has two actions, {verbs[0]}: and {verbs[1]}: "
                "(one action per step: split it into two steps)",
                key=True,
            )
        verb = verbs[0]
        for option in fields:
            owners = STEP_OPTIONS.get(option)
            if owners is not None and verb not in owners:
                self.fail(
                    (*at, option),
                    f"{option}: does not apply to {verb}: in {name} "
                    f"(it goes with {' or '.join(f'{owner}:' for owner in owners)})",
                    key=True,
                )
        line = self.document.key_line(*at, verb)
        value_at = (*at, verb)
        raw = fields[verb]
        match verb:
            case "expect":
                return ExpectStep(
                    matcher=self.matcher(raw, value_at),
                    label=f"expect {spec_label(raw)}",
                    within_s=self.optional_duration(
                        fields, "within", at, _default(ExpectStep, "within_s")
                    ),
                    silence_s=self.duration(fields["silence"], (*at, "silence"))
                    if "silence" in fields
                    else None,
                    optional=self.flag(fields["optional"], (*at, "optional"))
                    if "optional" in fields
                    else False,
                    line=line,
                )
            case "press":
                return self.press(raw, fields, at, line)
            case "say":
                return SayStep(text=self.spoken(raw, value_at), line=line)
            case "wait":
                return WaitStep(seconds=self.duration(raw, value_at), line=line)
            case "hold":
                hold = self.options(raw, value_at, ("max", "start_within"))
                return HoldStep(
                    max_s=self.optional_duration(
                        hold, "max", value_at, _default(HoldStep, "max_s")
                    ),
                    start_within_s=self.optional_duration(
                        hold, "start_within", value_at, _default(HoldStep, "start_within_s")
                    ),
                    line=line,
                )
            case "human":
                human = self.options(raw, value_at, ("within", "probe", "courtesy"))
                return HumanStep(
                    within_s=self.optional_duration(
                        human, "within", value_at, _default(HumanStep, "within_s")
                    ),
                    probe=self.flag(human["probe"], (*value_at, "probe"))
                    if "probe" in human
                    else _default(HumanStep, "probe"),
                    courtesy=self.flag(human["courtesy"], (*value_at, "courtesy"))
                    if "courtesy" in human
                    else _default(HumanStep, "courtesy"),
                    line=line,
                )
            case "hangup":
                if raw is not True:
                    self.fail(value_at, f"hangup must be true, not {raw!r} (or remove the step)")
                return HangupStep(line=line)
            case "expect_hangup":
                ending = self.options(raw, value_at, ("within",))
                return ExpectHangupStep(
                    within_s=self.optional_duration(
                        ending, "within", value_at, _default(ExpectHangupStep, "within_s")
                    ),
                    line=line,
                )
            case _:
                return self.choose(raw, fields, at, line)

    def options(self, value: object, at: Where, allowed: Sequence[str]) -> dict[str, object]:
        """A verb written `true` (all defaults) or as a mapping of its options."""
        if value is True:
            return {}
        if value is False or value is None:
            self.fail(
                at,
                f"{at[-1]}: {value} does nothing (write {at[-1]}: true for the defaults, "
                "or remove the step)",
            )
        return self.mapping(value, at, allowed)

    def matcher(self, spec: object, at: Where) -> Matcher:
        if spec is None:
            self.fail(at, f'{at[-1]}: needs the words to listen for, like {at[-1]}: "press one"')
        try:
            return matcher_from_spec(cast(str | dict[str, object], spec), self.mishearings)
        except MatcherSpecError as error:
            self.fail(at, f"{at[-1]}: {error} (see docs/matching.md)")

    def press(self, raw: object, fields: Mapping[str, object], at: Where, line: int) -> PressStep:
        value_at = (*at, "press")
        if isinstance(raw, dict):
            if "ack" in fields:
                self.fail(
                    (*at, "ack"),
                    "ack: beside the long form of press: (move it inside: "
                    'press: {keys: "1", ack: 4s})',
                    key=True,
                )
            long_form = self.mapping(
                raw, value_at, ("keys", "ack", "tone", "gap", "after_prompt"), ("keys",)
            )
            keys_at: Where = (*value_at, "keys")
            keys_raw = long_form["keys"]
            options: Mapping[str, object] = long_form
            options_at = value_at
        else:
            keys_at, keys_raw, options, options_at = value_at, raw, fields, at
        return PressStep(
            keys=self.keys(keys_raw, keys_at),
            ack_s=self.duration(options["ack"], (*options_at, "ack")) if "ack" in options else None,
            tone_s=self.optional_duration(
                options, "tone", options_at, _default(PressStep, "tone_s")
            ),
            gap_s=self.optional_duration(options, "gap", options_at, _default(PressStep, "gap_s")),
            after_prompt=self.flag(options["after_prompt"], (*options_at, "after_prompt"))
            if "after_prompt" in options
            else _default(PressStep, "after_prompt"),
            line=line,
        )

    def keys(self, value: object, at: Where) -> str:
        label = "press" if at[-1] == "press" else "keys"
        if isinstance(value, int | float) and not isinstance(value, bool):
            written = self.source_text(at) or str(value)
            self.fail(
                at,
                f"{label}: {written} is read by YAML as a number: quote the keys, "
                f'{label}: "{written}"',
            )
        if value is None:
            self.fail(
                at,
                f'{label}: has no keys (# starts a YAML comment: quote the keys, {label}: "#")',
            )
        if not isinstance(value, str) or not value:
            self.fail(at, f'{label}: must be keys in quotes, like {label}: "12#", not {value!r}')
        wrong = [key for key in value if key not in PHONE_KEYS]
        if wrong:
            self.fail(
                at,
                f"{wrong[0]!r} in {value!r} is not a phone key (use 0-9, *, # or A-D, "
                "with no spaces)",
            )
        return value

    def choose(self, raw: object, fields: Mapping[str, object], at: Where, line: int) -> ChooseStep:
        value_at = (*at, "choose")
        if not isinstance(raw, list) or len(raw) < 2:
            self.fail(
                value_at,
                "choose: needs a list of at least two alternatives, each like "
                f"{_EXAMPLES['branch']}",
            )
        branches = []
        for index, item in enumerate(raw):
            branch_at = (*value_at, index)
            branch = self.mapping(
                item, branch_at, ("expect", "then"), ("expect",), label=f"branch {index + 1}"
            )
            then = self.steps(branch["then"], (*branch_at, "then")) if "then" in branch else ()
            branches.append(
                Branch(
                    matcher=self.matcher(branch["expect"], (*branch_at, "expect")),
                    label=spec_label(branch["expect"]),
                    steps=then,
                )
            )
        return ChooseStep(
            branches=tuple(branches),
            within_s=self.optional_duration(fields, "within", at, _default(ChooseStep, "within_s")),
            line=line,
        )
