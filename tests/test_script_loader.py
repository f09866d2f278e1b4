"""Call scripts: every shipped script loads, and every mistake is one line with its FILE:LINE."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from shopper.carriers.safety import UnsafeNumberError, check_dialable
from shopper.errors import ShopperError
from shopper.scripts import load_script
from shopper.scripts.loader import ScriptError
from shopper.scripts.model import (
    ChooseStep,
    ExpectHangupStep,
    ExpectStep,
    HangupStep,
    HoldStep,
    HumanStep,
    PressStep,
    SayStep,
    WaitStep,
)

REPO = Path(__file__).resolve().parent.parent
SCRIPT_FOLDERS = (REPO / "scripts" / "acme", REPO / "scripts" / "failing")
FAILURE_KINDS = (
    "expectation-timeout",
    "expectation-mismatch",
    "dtmf-not-acknowledged",
    "dropped",
    "dead-air",
    "no-human",
    "hold-too-long",
    "busy",
    "no-answer",
    "sit-tone",
)

TINY_IVR = 'name: Tiny\nstart: main\nnodes:\n  main: {say: "Hello.", hangup: true}\n'


def shipped_scripts() -> list[Path]:
    """Every YAML under the example folders that is a call script (has steps:), not an IVR."""
    return sorted(
        path
        for folder in SCRIPT_FOLDERS
        for path in folder.glob("*.yaml")
        if "\nsteps:" in path.read_text(encoding="utf-8")
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "ivr.yaml").write_text(TINY_IVR, encoding="utf-8")
    return tmp_path


def write(folder: Path, text: str, name: str = "script.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_error(folder: Path, text: str) -> str:
    path = write(folder, text)
    with pytest.raises(ScriptError) as raised:
        load_script(path)
    message = str(raised.value)
    assert "\n" not in message
    return message.removeprefix(f"{path}:")


# -- shipped scripts -------------------------------------------------------------------------


@pytest.mark.parametrize("path", shipped_scripts(), ids=lambda path: path.stem)
def test_every_shipped_script_loads(path: Path) -> None:
    script = load_script(path)
    assert script.steps
    assert Path(script.target).is_absolute() and Path(script.target).is_file()
    assert script.source == path.resolve()


def test_a_failing_scenario_for_every_failure_kind() -> None:
    failing = {path.stem for path in shipped_scripts() if path.parent.name == "failing"}
    named = {kind for kind in FAILURE_KINDS if kind in failing or f"{kind}-call" in failing}
    assert named == set(FAILURE_KINDS)
    for path in shipped_scripts():
        if path.parent.name == "failing":
            header = path.read_text(encoding="utf-8").splitlines()[0]
            assert header.startswith("# Fails with: "), path


def test_the_issue_example_becomes_the_expected_steps() -> None:
    script = load_script(REPO / "scripts" / "acme" / "billing-human.yaml")
    kinds = [type(step) for step in script.steps]
    assert kinds == [ExpectStep, PressStep, ExpectStep, PressStep, HoldStep, HumanStep]
    assert script.target == str((REPO / "scripts" / "acme" / "ivr.yaml").resolve())
    assert script.limits.time_to_human_max_s == 180.0
    assert script.limits.hold_max_s == 120.0
    assert script.max_duration_s == 600.0
    assert script.sandbox_at == datetime(2024, 5, 6, 10, 0)
    first = script.steps[0]
    assert isinstance(first, ExpectStep) and first.within_s == 20.0 and first.line == 10
    assert first.matcher.match("thank you for calling acne bank").matched


# -- every step and option -------------------------------------------------------------------


def test_every_step_form(folder: Path) -> None:
    path = write(
        folder,
        """
        name: All steps
        target: ivr.yaml
        settings: {prompt_end_silence: 1.5s, dead_air: 20s, ack: 3s, max_duration: 15m}
        mishearings: {acne: acme}
        steps:
          - expect: "welcome to acme"
            within: 12s
            silence: 2s
            optional: true
          - press: "12#"
            ack: 5s
          - press: {keys: "A", ack: 2s, tone: 80ms, gap: 120ms}
          - say: "Hello there"
          - wait: 1m30s
          - hold: true
          - hold: {max: 5m, start_within: 2m}
          - human: true
          - human: {within: 10m, probe: false, courtesy: false}
          - expect_hangup: true
          - expect_hangup: {within: 45s}
          - choose:
              - expect: {regex: "press (one|two)"}
                then: [{press: "1"}]
              - expect: {any: ["closed", {fuzzy: "after hours", min: 0.7}]}
            within: 20s
          - hangup: true
        assert:
          time_to_human: {max: 3m}
          hold: {max: 2m}
          duration: {max: 10m}
          answer: {max: 10s}
        """,
    )
    script = load_script(path)
    (expect, press, long_press, say, wait, hold, hold_long, human, human_long) = script.steps[:9]
    expect_hangup, expect_hangup_long, choose, hangup = script.steps[9:]
    assert isinstance(expect, ExpectStep)
    assert (expect.within_s, expect.silence_s, expect.optional) == (12.0, 2.0, True)
    assert expect.matcher.match("welcome to acne").matched  # the script's mishearings apply
    assert press == PressStep(keys="12#", ack_s=5.0, line=10)
    assert long_press == PressStep(keys="A", ack_s=2.0, tone_s=0.08, gap_s=0.12, line=12)
    assert say == SayStep(text="Hello there", line=13)
    assert wait == WaitStep(seconds=90.0, line=14)
    assert hold == HoldStep(line=15)
    assert hold_long == HoldStep(max_s=300.0, start_within_s=120.0, line=16)
    assert human == HumanStep(line=17)
    assert human_long == HumanStep(within_s=600.0, probe=False, courtesy=False, line=18)
    assert expect_hangup == ExpectHangupStep(line=19)
    assert expect_hangup_long == ExpectHangupStep(within_s=45.0, line=20)
    assert isinstance(choose, ChooseStep) and choose.within_s == 20.0
    assert [len(branch.steps) for branch in choose.branches] == [1, 0]
    assert choose.branches[0].matcher.match("to pay press 2").matched
    assert choose.branches[1].matcher.match("we are closed").matched
    assert hangup == HangupStep(line=26)
    assert (script.prompt_end_silence_s, script.dead_air_s, script.ack_s) == (1.5, 20.0, 3.0)
    assert script.max_duration_s == 900.0
    assert script.limits.answer_max_s == 10.0 and script.limits.duration_max_s == 600.0
    assert script.carrier == "sandbox"


def test_defaults_come_from_the_model(folder: Path) -> None:
    path = write(folder, 'name: x\ntarget: ivr.yaml\nsteps: [{expect: hello}, {press: "1"}]\n')
    script = load_script(path)
    expect, press = script.steps
    assert isinstance(expect, ExpectStep) and expect.within_s == 10.0 and expect.silence_s is None
    assert press == PressStep(keys="1", line=3)
    assert script.prompt_end_silence_s is None and script.max_duration_s == 1800.0
    assert script.sandbox_at is None


# -- targets ---------------------------------------------------------------------------------


def test_relative_target_resolves_against_the_scripts_folder(
    folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (folder / "ivrs").mkdir()
    (folder / "ivrs" / "bank.yaml").write_text(TINY_IVR, encoding="utf-8")
    (folder / "calls").mkdir()
    path = write(folder / "calls", "name: x\ntarget: ../ivrs/bank.yaml\nsteps: [{hangup: true}]\n")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    script = load_script(path)
    assert script.target == str((folder / "ivrs" / "bank.yaml").resolve())


def test_missing_target_names_the_path_it_looked_for(folder: Path) -> None:
    message = load_error(folder, "name: x\ntarget: nowhere.yaml\nsteps: [{hangup: true}]\n")
    looked = (folder / "nowhere.yaml").resolve()
    assert message == (
        f"2: target 'nowhere.yaml' not found: looked for {looked} "
        "(relative paths start at the script's folder)"
    )


def test_a_broken_target_ivr_is_reported_in_the_ivr_file(folder: Path) -> None:
    (folder / "broken.yaml").write_text("name: B\nstrat: main\nnodes: {}\n", encoding="utf-8")
    path = write(folder, "name: x\ntarget: broken.yaml\nsteps: [{hangup: true}]\n")
    with pytest.raises(ScriptError, match=r"broken\.yaml:2: unknown key 'strat'"):
        load_script(path)


def test_a_twilio_script_keeps_its_number(folder: Path) -> None:
    path = write(
        folder, 'name: x\ntarget: "+1 555 010 0000"\ncarrier: twilio\nsteps: [{hangup: true}]\n'
    )
    script = load_script(path)
    assert (script.carrier, script.target) == ("twilio", "+1 555 010 0000")


def test_unknown_carrier_suggests_the_closest(folder: Path) -> None:
    message = load_error(folder, "name: x\ntarget: ivr.yaml\ncarrier: twillio\nsteps: []\n")
    assert (
        message == "3: unknown carrier 'twillio' (did you mean twilio? valid: sandbox, twilio, sip)"
    )


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ('"911"', "is an emergency number"),
        ('"112"', "is an emergency number"),
        ("999", "is an emergency number"),
        ("000", "is an emergency number"),
        ('"+1 900 555 0100"', "is a premium-rate number"),
        ('"+44 909 879 0000"', "is a premium-rate number"),
        ('"411"', "is a short code"),
        ('"5550100000"', "is not in international form"),
    ],
)
def test_unsafe_numbers_are_refused_at_load_time(folder: Path, target: str, reason: str) -> None:
    message = load_error(
        folder, f"name: x\ntarget: {target}\ncarrier: sip\nsteps: [{{hangup: true}}]\n"
    )
    assert message.startswith("2: ") and reason in message


def test_a_number_with_the_sandbox_carrier_is_explained(folder: Path) -> None:
    message = load_error(folder, 'name: x\ntarget: "+15550100000"\nsteps: [{hangup: true}]\n')
    assert message.startswith(
        "2: target '+15550100000' is a phone number, but the carrier is sandbox"
    )


def test_safety_rules_on_their_own() -> None:
    for number in ("+1 (555) 010-0000", "+44 20 7946 0000", "+49 30 1234567", "+61 2 9876 5432"):
        check_dialable(number)
    for number in ("+979 123456789", "988", "+44 70 1234 5678", "call-me"):
        with pytest.raises(UnsafeNumberError):
            check_dialable(number)
    assert issubclass(UnsafeNumberError, ShopperError)


# -- one-line errors with the right line -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'name: x\ntarget: ivr.yaml\nsteps: [{press: "1" ack: 2s}]\n',
            "3: YAML syntax error: while parsing a flow mapping expected ',' or '}', but got "
            "'<scalar>' (check indentation and quoting)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nstesp: []\n",
            "3: unknown key 'stesp' at the top level (did you mean steps:?)",
        ),
        ("target: ivr.yaml\nsteps: [{hangup: true}]\n", "1: the script is missing name: (add it)"),
        ("name: x\nsteps: [{hangup: true}]\n", "1: the script is missing target: (add it)"),
        ("name: x\ntarget: ivr.yaml\n", "1: the script is missing steps: (add it)"),
        (
            "name: x\ntarget: ivr.yaml\nsteps: []\n",
            '3: steps must be a non-empty list of steps, each a line like - press: "1"',
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - expekt: hello\n",
            "4: unknown key 'expekt' in step 1 (did you mean expect:?)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - {press: '1'}\n  - within: 5s\n",
            "5: step 2 has no action (add one of expect:, press:, say:, wait:, hold:, human:, "
            "hangup:, expect_hangup:, choose:)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - expect: hello\n    press: '1'\n",
            "5: step 1 has two actions, expect: and press: (one action per step: split it into "
            "two steps)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - hangup\n",
            "4: step 1 must be a mapping: write hangup: true, not just hangup",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - press: '1'\n    within: 5s\n",
            "5: within: does not apply to press: in step 1 (it goes with expect: or choose:)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - wait: soon\n",
            "4: wait: invalid duration 'soon': use seconds like 6s, 1.5s or 6, minutes like 5m "
            "or 1m30s, hours like 2h, or 250ms",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - expect: hi\n    within: 0s\n",
            "5: within must be longer than 0s, not '0s'",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsettings: {dead_air: 1x}\nsteps: [{hangup: true}]\n",
            "3: dead_air: invalid duration '1x': use seconds like 6s, 1.5s or 6, minutes like 5m "
            "or 1m30s, hours like 2h, or 250ms",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - press: 1\n",
            '4: press: 1 is read by YAML as a number: quote the keys, press: "1"',
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - press: 0123\n",
            '4: press: 0123 is read by YAML as a number: quote the keys, press: "0123"',
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - press: {keys: 12, ack: 2s}\n",
            '4: keys: 12 is read by YAML as a number: quote the keys, keys: "12"',
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - press: #\n",
            '4: press: has no keys (# starts a YAML comment: quote the keys, press: "#")',
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - press: '1E'\n",
            "4: 'E' in '1E' is not a phone key (use 0-9, *, # or A-D, with no spaces)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - expect: {fuzzy: acme, minimum: 0.8}\n",
            "4: expect: unknown key 'minimum' in fuzzy matcher; valid keys: fuzzy, min "
            "(see docs/matching.md)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - expect: {regex: 'press [12]'}\n",
            "4: expect: regex 'press [12]' contains digits, which normalised text never does: "
            "write numbers as words ('press one') (see docs/matching.md)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - choose:\n      - expect: a\n"
            "        then: [{press: 5}]\n      - expect: b\n",
            '6: press: 5 is read by YAML as a number: quote the keys, press: "5"',
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - choose:\n      - expect: a\n"
            "        then:\n          - {press: '1', within: 3s}\n      - expect: b\n",
            "7: within: does not apply to press: in step 1, branch 1, step 1 (it goes with "
            "expect: or choose:)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - choose: [{expect: a}]\n",
            "4: choose: needs a list of at least two alternatives, each like "
            '{expect: "for billing", then: [{press: "1"}]}',
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - hold: false\n",
            "4: hold: False does nothing (write hold: true for the defaults, or remove the step)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps:\n  - human: {within: 5m, probes: false}\n",
            "4: unknown key 'probes' in human (did you mean probe:?)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps: [{hangup: true}]\nassert:\n"
            "  time_to_humam: {max: 3m}\n",
            "5: unknown key 'time_to_humam' in assert (did you mean time_to_human:?)",
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps: [{hangup: true}]\nassert:\n  hold: 3m\n",
            "5: hold must be a mapping like {max: 3m}",
        ),
        (
            "name: x\ntarget: ivr.yaml\nat: next monday\nsteps: [{hangup: true}]\n",
            "3: at: 'next monday' is not a date and time (write it like \"2024-05-06T10:00\", "
            'read on the IVR\'s own clock, or with an offset like "2024-05-06T10:00-04:00")',
        ),
        (
            "name: x\ntarget: ivr.yaml\nat: 2024-05-06\nsteps: [{hangup: true}]\n",
            "3: at: '2024-05-06' is not a date and time (write it like \"2024-05-06T10:00\", "
            'read on the IVR\'s own clock, or with an offset like "2024-05-06T10:00-04:00")',
        ),
        (
            "name: x\ntarget: ivr.yaml\nsteps: [{wait: 99999999999h}]\n",
            "3: wait: duration '99999999999h' is longer than a day (24h): no call lasts that long",
        ),
        (
            "name: x\ntarget: ivr.yaml\nmishearings: {oh: 0}\nsteps: [{hangup: true}]\n",
            "3: mishearings entry 'oh': 0: both sides must be text (quote numbers)",
        ),
    ],
)
def test_mistakes_are_one_line_with_their_line(folder: Path, text: str, expected: str) -> None:
    assert load_error(folder, text) == expected


def test_a_missing_script_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match=r"missing\.yaml: file not found \(check the path\)"):
        load_script(tmp_path / "missing.yaml")


def test_an_ivr_file_is_not_mistaken_for_a_script() -> None:
    ivr = Path(__file__).parent.parent / "scripts" / "acme" / "ivr.yaml"
    with pytest.raises(ScriptError, match="this is a sandbox IVR, not a call script") as caught:
        load_script(ivr)
    assert str(caught.value).startswith(f"{ivr}:")
