from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from shopper.audio.callprogress import TONE_KINDS
from shopper.errors import ShopperError
from shopper.sandbox.loader import SandboxDefinitionError, load_ivr
from shopper.sandbox.model import (
    Agent,
    Answer,
    Drop,
    Goto,
    Hangup,
    IvrDefinition,
    Menu,
    Queue,
    Silence,
    Tone,
    Voicemail,
)
from shopper.sandbox.sounds import MOH_DIR, PROMPTS_DIR
from shopper.yamlfile import YamlFileError, load_yaml

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
EXAMPLES = sorted(
    path for path in SCRIPTS.rglob("*.yaml") if "\nnodes:" in path.read_text(encoding="utf-8")
)
"""The shipped IVRs (call scripts live beside them and have steps:, not nodes:)."""


def write(folder: Path, text: str) -> Path:
    path = folder / "ivr.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(folder: Path, text: str) -> IvrDefinition:
    return load_ivr(write(folder, text))


def error(folder: Path, text: str) -> tuple[int, str]:
    """(line, message) of the one-line error loading `text` gives."""
    path = write(folder, text)
    with pytest.raises(SandboxDefinitionError) as caught:
        load_ivr(path)
    message = str(caught.value)
    assert "\n" not in message
    prefix = f"{path}:"
    assert message.startswith(prefix), message
    line, _, rest = message.removeprefix(prefix).partition(": ")
    return int(line), rest


def test_every_example_ivr_loads_without_warnings() -> None:
    assert len(EXAMPLES) >= 4
    for path in EXAMPLES:
        definition = load_ivr(path)
        assert definition.warnings == (), path
        assert definition.start in definition.nodes


def test_acme_has_the_features_the_scenarios_rely_on() -> None:
    acme = load_ivr(SCRIPTS / "acme" / "ivr.yaml")
    assert acme.name == "Acme Bank"
    assert acme.hours is not None and acme.hours.closed == "after_hours"
    assert acme.answer == Answer(mode="answer", after_s=4.0)
    main = acme.nodes["main"].behaviour
    assert isinstance(main, Menu) and main.options["0"] == "hold_intro"
    billing = acme.nodes["billing"].behaviour
    assert isinstance(billing, Menu) and billing.options["9"] == "main"
    queue = acme.nodes["queue"].behaviour
    assert isinstance(queue, Queue) and queue.music is None and queue.then == "agent"
    assert queue.announce is not None and queue.announce.sound.play is not None
    assert queue.callback_offer is not None and queue.callback_offer.goto == "callback"
    assert 10 <= queue.hold_s <= 120
    agent = acme.nodes["agent"].behaviour
    assert isinstance(agent, Agent) and agent.voice is not None
    assert agent.voice.voice != acme.voice.voice
    assert isinstance(acme.nodes["leave_message"].behaviour, Voicemail)
    goodbye = acme.nodes["goodbye"]
    assert goodbye.sound is not None and goodbye.sound.play == PROMPTS_DIR / "goodbye.wav"
    assert isinstance(goodbye.behaviour, Hangup)


def test_failing_ivr_has_each_failure() -> None:
    failing = load_ivr(SCRIPTS / "failing" / "ivr.yaml")
    nodes = failing.nodes
    assert nodes["billing"].behaviour == Goto("customer_service")
    assert nodes["customer_service"].behaviour == Goto("billing")
    main = nodes["main"].behaviour
    assert isinstance(main, Menu) and main.options["0"] == "main" and main.on_exhausted is None
    queue = nodes["support_queue"].behaviour
    assert isinstance(queue, Queue) and queue.music == MOH_DIR / "reno_project-system.wav"
    assert queue.then is not None and isinstance(nodes[queue.then].behaviour, Drop)
    assert isinstance(nodes["phone_support"].behaviour, Silence)
    assert nodes["outage"].behaviour == Tone(kind="sit-vacant", seconds=3.0)
    assert load_ivr(SCRIPTS / "failing" / "busy.yaml").answer.mode == "busy"
    assert load_ivr(SCRIPTS / "failing" / "no-answer.yaml").answer.mode == "no-answer"


def test_node_lines_and_defaults(tmp_path: Path) -> None:
    definition = load(
        tmp_path,
        """
        name: T
        start: main

        nodes:
          main:
            say: Hello
            menu: {options: {"1": bye, "#": main}}
          bye: {say: Bye, hangup: true}
        """,
    )
    assert definition.nodes["main"].line == 5
    assert definition.nodes["bye"].line == 8
    menu = definition.nodes["main"].behaviour
    assert menu == Menu(options={"1": "bye", "#": "main"})
    assert definition.source == (tmp_path / "ivr.yaml").resolve()


def test_play_paths_resolve_against_the_yaml_folder(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    shutil.copy(PROMPTS_DIR / "hello.wav", tmp_path / "prompts" / "hi.wav")
    shutil.copy(MOH_DIR / "macroform-cold_day.wav", tmp_path / "music.wav")
    definition = load(
        tmp_path,
        """
        name: T
        start: main
        nodes:
          main: {play: prompts/hi.wav, queue: {hold: 10s, music: music.wav}}
        """,
    )
    main = definition.nodes["main"]
    assert main.sound is not None and main.sound.play == tmp_path.resolve() / "prompts" / "hi.wav"
    assert isinstance(main.behaviour, Queue) and main.behaviour.music == (
        tmp_path.resolve() / "music.wav"
    )


def test_tone_long_form_and_answer_modes(tmp_path: Path) -> None:
    definition = load(
        tmp_path,
        """
        name: T
        start: main
        answer: {after: 1m}
        nodes:
          main: {tone: {kind: reorder, for: 5s}}
        """,
    )
    assert definition.nodes["main"].behaviour == Tone(kind="reorder", seconds=5.0)
    assert definition.answer == Answer(mode="answer", after_s=60.0)


def test_unreachable_nodes_are_warnings_with_their_line(tmp_path: Path) -> None:
    definition = load(
        tmp_path,
        """
        name: T
        start: main
        hours: {tz: UTC, open: "Mon-Fri 09:00-17:00", closed: closed}
        nodes:
          main: {say: Hi, goto: next}
          next: {say: There}
          closed: {say: Closed}
          orphan: {say: Nobody hears this}
        """,
    )
    assert definition.warnings == (
        f"{tmp_path / 'ivr.yaml'}:8: warning: node 'orphan' cannot be reached from 'main' or "
        "'closed' (link it from a menu option or goto:, or delete it)",
    )


HEADER = "name: T\nstart: main\nnodes:\n"


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ('  main: {say: "x"\n  other: 1\n', 5, "YAML syntax error"),
        ("  main: {say: x}\n  main: {say: y}\n", 5, "duplicate key 'main' (also on line 4"),
        ("  main: {sya: x}\n", 4, "unknown key 'sya' in main (did you mean say:?)"),
        (
            "  main:\n    say: x\n    menu: {options: {'1': main}}\n    goto: main\n",
            7,
            "node 'main' has two behaviours, menu: and goto:",
        ),
        ("  main: {say: x, play: 'asterisk:hello'}\n", 4, "say: and play: together"),
        ("  main: {}\n", 4, "node 'main' does nothing"),
        (
            "  main: {menu: {options: {'1': biling}}}\n  billing: {say: b}\n",
            4,
            "unknown node 'biling' in menu option \"1\" (did you mean billing?)",
        ),
        ("  main: {goto: nowhere}\n", 4, "unknown node 'nowhere' in goto (define it under nodes:)"),
        (
            "  main: {queue: {hold: 5s, then: agnet}}\n  agent: {agent: {greeting: hi}}\n",
            4,
            "unknown node 'agnet' in then (did you mean agent?)",
        ),
        (
            "  main:\n    menu:\n      options: {'1': main}\n      on_exhausted: bye\n",
            7,
            "unknown node 'bye' in on_exhausted",
        ),
        (
            "  main:\n    queue:\n      hold: 30s\n"
            "      callback_offer: {every: 10s, say: x, digit: '1', goto: cb}\n",
            7,
            "unknown node 'cb' in callback_offer goto",
        ),
        ("  main:\n    queue: {then: main}\n", 5, "queue is missing hold: (add it)"),
        ("  main: {agent: {replies: true}}\n", 4, "agent is missing greeting: (add it)"),
        ("  main: {queue: {hold: abc}}\n", 4, "hold: invalid duration 'abc': use seconds like 6s"),
        ("  main: {silence: 0s}\n", 4, "silence must be longer than 0s"),
        (
            "  main:\n    menu:\n      options: {'1': main}\n      retries: -1\n",
            7,
            "retries must be a whole number 0 or more, not -1",
        ),
        (
            "  main:\n    menu:\n      options:\n        1: main\n",
            7,
            'phone key 1 must be quoted: write "1"',
        ),
        ("  main:\n    menu:\n      options:\n        '12': main\n", 7, "'12' is not a phone key"),
        (
            "  main:\n    queue:\n      hold: 30s\n"
            "      callback_offer: {every: 10s, say: x, digit: 1, goto: main}\n",
            7,
            'phone key 1 must be quoted: write "1"',
        ),
        ("  main: {menu: {options: {}}}\n", 4, "options must map keys to nodes"),
        ("  main: {queue: 30s}\n", 4, "queue must be a mapping like {hold: 95s"),
        ("  main: {play: missing.wav}\n", 4, "file 'missing.wav' not found: looked for /"),
        (
            "  main: {play: 'asterisk:goodby'}\n",
            4,
            "no recording 'asterisk:goodby' (did you mean asterisk:goodbye?)",
        ),
        (
            "  main: {queue: {hold: 5s, music: 'asterisk-moh:cold_day'}}\n",
            4,
            "did you mean asterisk-moh:macroform-cold_day?",
        ),
        (
            "  main: {tone: sit-vacan}\n",
            4,
            "unknown tone 'sit-vacan' (did you mean sit-vacant? valid: dial, ringback",
        ),
        ("  main: {hangup: false}\n", 4, "hangup must be true"),
        ("  main: {say: 42}\n", 4, "say must be non-empty text, not 42 (quote it)"),
        ("  7: {say: x}\n", 4, "node name 7 must be text (quote it)"),
        (
            "  main:\n    say: x\n    menu: {options: {'1': main}, invalid: {sya: oops}}\n",
            6,
            "unknown key 'sya' in invalid (did you mean say:?)",
        ),
    ],
)
def test_node_errors_name_the_line_and_the_fix(
    tmp_path: Path, body: str, line: int, fragment: str
) -> None:
    found_line, message = error(tmp_path, HEADER + body)
    assert fragment in message
    assert found_line == line


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "the file is empty"),
        ("- a\n- b\n", 1, "the file must be a mapping"),
        (
            "name: T\nstrat: main\nnodes: {main: {say: x}}\n",
            2,
            "unknown key 'strat' at the top level (did you mean start:?)",
        ),
        ("name: T\nnodes: {main: {say: x}}\n", 1, "the file is missing start: (add it)"),
        (
            "name: T\nstart: mian\nnodes: {main: {say: x}}\n",
            2,
            "unknown node 'mian' in start (did you mean main?)",
        ),
        ("name: T\nstart: main\nnodes: {}\n", 3, "nodes is empty"),
        (
            "name: T\nstart: main\nvoice: {tts: festival}\nnodes: {main: {say: x}}\n",
            3,
            "unknown tts 'festival'",
        ),
        (
            "name: T\nstart: main\nvoice: {speed: 2000}\nnodes: {main: {say: x}}\n",
            3,
            "speed 2000 is outside 80-450",
        ),
        (
            "name: T\nstart: main\nhours:\n  tz: Mars/Olympus\n  open: Mon 08:00-09:00\n"
            "  closed: main\nnodes: {main: {say: x}}\n",
            4,
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            "name: T\nstart: main\nhours:\n  tz: UTC\n  open: Mon-Fri 8-17\n  closed: main\n"
            "nodes: {main: {say: x}}\n",
            5,
            "'8' is not a time like 08:00",
        ),
        (
            "name: T\nstart: main\nhours:\n  tz: UTC\n  open: Mon-Fri 08:00-17:00\n"
            "  closed: closd\nnodes: {main: {say: x}, closed: {say: y}}\n",
            6,
            "unknown node 'closd' in closed (did you mean closed?)",
        ),
        (
            "name: T\nstart: main\nhours: {tz: UTC, closed: main}\nnodes: {main: {say: x}}\n",
            3,
            "hours is missing open:",
        ),
        (
            "name: T\nstart: main\nanswer: {busy: true, after: 3s}\nnodes: {main: {say: x}}\n",
            3,
            "answer needs exactly one setting: {after: 4s}",
        ),
        (
            "name: T\nstart: main\nanswer: {busy: no}\nnodes: {main: {say: x}}\n",
            3,
            "busy: must be true",
        ),
    ],
)
def test_file_level_errors(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    found_line, message = error(tmp_path, text)
    assert fragment in message
    assert found_line == line


def test_unreadable_file_is_a_one_line_shopper_error(tmp_path: Path) -> None:
    with pytest.raises(ShopperError, match=r"missing\.yaml: file not found"):
        load_ivr(tmp_path / "missing.yaml")


def test_unknown_tone_lists_every_valid_kind(tmp_path: Path) -> None:
    _, message = error(tmp_path, HEADER + "  main: {tone: warble}\n")
    assert all(kind in message for kind in TONE_KINDS)


def test_yaml_file_lines_for_values_keys_and_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "any.yaml"
    path.write_text("a:\n  b: [1, 2,\n      3]\n  c:\n    d: x\n", encoding="utf-8")
    document = load_yaml(path)
    assert document.data == {"a": {"b": [1, 2, 3], "c": {"d": "x"}}}
    assert document.line("a", "b", 2) == 3
    assert document.key_line("a", "c") == 4
    assert document.line("a", "c") == 5
    assert document.line("a", "c", "missing") == 5  # the mapping that lacks it
    assert document.where("a", "c", key=True) == f"{path}:4"


def test_yaml_tabs_and_several_documents_are_syntax_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a:\n\tb: 1\n", encoding="utf-8")
    with pytest.raises(YamlFileError, match=r"bad\.yaml:2: YAML syntax error: .*not tabs\)$"):
        load_yaml(path)
    path.write_text("a: 1\n---\nb: 2\n", encoding="utf-8")
    with pytest.raises(YamlFileError, match=r"bad\.yaml:2: .*single document"):
        load_yaml(path)


def test_yaml_merge_keys_may_be_overridden_but_plain_keys_not_repeated(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(
        "base: &menu {timeout: 5s, retries: 1}\na: &a\n  <<: *menu\n  retries: 3\nb: *a\n",
        encoding="utf-8",
    )
    assert load_yaml(path).data == {
        "base": {"timeout": "5s", "retries": 1},
        "a": {"timeout": "5s", "retries": 3},
        "b": {"timeout": "5s", "retries": 3},
    }
    path.write_text("a: &a [1, *a]\n", encoding="utf-8")
    with pytest.raises(YamlFileError, match=r"merge\.yaml:1: an alias refers to .* cycle"):
        load_yaml(path)


def test_shared_menu_settings_through_a_merge_key(tmp_path: Path) -> None:
    definition = load(
        tmp_path,
        """
        name: T
        start: main
        nodes:
          main:
            say: Hi
            menu: &menu {options: {"1": main}, timeout: 4s, retries: 1}
          other:
            say: Other
            menu: {<<: *menu, retries: 0}
        """,
    )
    other = definition.nodes["other"].behaviour
    assert isinstance(other, Menu) and (other.timeout_s, other.retries) == (4.0, 0)
    assert definition.warnings[0].endswith(
        "node 'other' cannot be reached from 'main' "
        "(link it from a menu option or goto:, or delete it)"
    )


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
def test_flite_voices_are_checked_when_the_file_loads(tmp_path: Path) -> None:
    definition = load(
        tmp_path, "name: T\nstart: main\nvoice: {tts: flite}\nnodes: {main: {say: x}}\n"
    )
    assert (definition.voice.tts, definition.voice.voice) == ("flite", "awb")
    line, message = error(
        tmp_path,
        "name: T\nstart: main\nvoice: {tts: flite, voice: en-us}\nnodes: {main: {say: x}}\n",
    )
    assert line == 3 and "flite has no voice 'en-us'" in message and "slt:" in message
