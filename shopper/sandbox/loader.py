"""Reading a simulated phone system's YAML file into an `IvrDefinition`, or saying what is wrong.

Every problem is reported as one line, `FILE:LINE: message (how to fix)`, at the first problem
found, because these files are written by hand and a test run against a half-valid IVR would
test the wrong thing. Legal but suspicious parts (nodes nobody can reach) become warnings on
the definition instead, so that a node can be unlinked while editing without breaking runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

from shopper.audio.callprogress import TONE_KINDS
from shopper.errors import ShopperError
from shopper.paths import PathError, resolve_reference
from shopper.sandbox.hours import parse_opening, time_zone
from shopper.sandbox.model import (
    TTS_DEFAULT_VOICES,
    Agent,
    Answer,
    Behaviour,
    CallbackOffer,
    Drop,
    Goto,
    Hangup,
    Hours,
    IvrDefinition,
    Menu,
    Node,
    Periodic,
    Queue,
    Silence,
    Sound,
    Tone,
    Voice,
    Voicemail,
)
from shopper.sandbox.sounds import MOH_DIR, PROMPTS_DIR
from shopper.tts import TtsName, flite_voices
from shopper.yamlfile import (
    Where,
    YamlChecker,
    YamlFile,
    YamlFileError,
    closest,
    key_names,
    load_yaml,
)

DTMF_KEYS = "0123456789*#"
ASTERISK_PROMPT = "asterisk:"
ASTERISK_MOH = "asterisk-moh:"
DEFAULT_MUSIC = "default"

TOP_KEYS = ("name", "voice", "start", "hours", "answer", "nodes")
SOUND_KEYS = ("say", "play")
BEHAVIOUR_KEYS = (
    "menu",
    "goto",
    "queue",
    "agent",
    "voicemail",
    "hangup",
    "silence",
    "tone",
    "drop",
)
NODE_KEYS = SOUND_KEYS + BEHAVIOUR_KEYS
MIN_SPEED, MAX_SPEED = 80, 450
"""espeak-ng's usable words-per-minute range."""

_NODE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_EXAMPLES = {
    "voice": "{tts: espeak-ng, voice: en-us, speed: 160}",
    "hours": '{tz: America/New_York, open: "Mon-Fri 08:00-20:00", closed: after_hours}',
    "answer": "{after: 4s} or {busy: true} or {no_answer: true}",
    "nodes": "{main: {say: Hello, hangup: true}}",
    "node": '{say: "Welcome.", menu: {options: {"1": billing}}}',
    "menu": '{options: {"1": billing, "0": queue}, timeout: 6s, retries: 2}',
    "options": '{"1": billing, "2": cards}',
    "queue": "{hold: 95s, music: default, then: agent}",
    "announce": '{every: 30s, say: "Your call is important to us."}',
    "callback_offer": '{every: 60s, say: "For a call back, press 1.", digit: "1", goto: callback}',
    "agent": '{greeting: "This is Sam, how can I help you?"}',
    "voicemail": "{max: 60s}",
    "tone": "sit-vacant or {kind: sit-vacant, for: 3s}",
    "drop": "{after: 20s}",
    "sound": '"text to speak" or {say: "text"} or {play: prompt.wav}',
}


class SandboxDefinitionError(ShopperError):
    """A sandbox IVR file that cannot be used; the message is `FILE:LINE: problem (fix)`."""


def load_ivr(path: Path | str) -> IvrDefinition:
    """The IVR defined in `path`, fully checked: every reference, file, tone, time and duration."""
    try:
        document = load_yaml(Path(path))
    except YamlFileError as error:
        raise SandboxDefinitionError(str(error)) from None
    return _Builder(document).definition()


def resolve_sound_file(reference: str, base: Path) -> Path:
    """Absolute path of a `play:`/`music:` reference; the file need not exist.

    `asterisk:NAME` and `asterisk-moh:NAME` name the Debian-packaged prompts and hold music,
    so example IVRs can use real recordings without copying them.
    """
    if reference.startswith(ASTERISK_PROMPT):
        return PROMPTS_DIR / _with_wav(reference.removeprefix(ASTERISK_PROMPT))
    if reference.startswith(ASTERISK_MOH):
        return MOH_DIR / _with_wav(reference.removeprefix(ASTERISK_MOH))
    return resolve_reference(reference, base)


def _with_wav(name: str) -> str:
    return name if name.endswith(".wav") else f"{name}.wav"


class _Builder(YamlChecker):
    """Builds the definition while it checks it, so each value is judged where its line is known."""

    error = SandboxDefinitionError
    examples = _EXAMPLES
    top_hint = " (start with name:, start: and nodes:)"

    def __init__(self, document: YamlFile) -> None:
        super().__init__(document)
        self.base = document.path.parent
        self.node_names: tuple[str, ...] = ()

    def digit(self, value: object, at: Where, *, key: bool = False) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            self.fail(
                at,
                f'phone key {value} must be quoted: write "{value}" '
                "(YAML reads it as a number; shopper files always quote keys)",
                key=key,
            )
        if not isinstance(value, str) or len(value) != 1 or value not in DTMF_KEYS:
            self.fail(at, f"{value!r} is not a phone key (use one of 0-9, * or #, quoted)", key=key)
        return value

    def node_ref(self, value: object, at: Where, label: str | None = None) -> str:
        label = label or str(at[-1])
        if not isinstance(value, str):
            self.fail(at, f"{label} must name a node, not {value!r}")
        if value not in self.node_names:
            suggestion = closest(value, self.node_names)
            fix = f"did you mean {suggestion}?" if suggestion else "define it under nodes:"
            self.fail(at, f"unknown node {value!r} in {label} ({fix})")
        return value

    # -- sounds ------------------------------------------------------------------------

    def sound(self, value: object, at: Where) -> Sound:
        """A sound written on its own: plain text to say, or a {say:}/{play:} mapping."""
        if isinstance(value, str):
            return Sound(say=self.text(value, at))
        fields = self.mapping(value, at, SOUND_KEYS, example="sound")
        found = self.inline_sound(fields, at)
        if found is None:
            self.fail(at, f"{at[-1]} has neither say: nor play: (add one)", key=True)
        return found

    def inline_sound(self, fields: dict[str, object], at: Where) -> Sound | None:
        if "say" in fields and "play" in fields:
            self.fail((*at, "play"), "say: and play: together (keep one)", key=True)
        if "say" in fields:
            return Sound(say=self.spoken(fields["say"], (*at, "say")))
        if "play" in fields:
            return Sound(play=self.sound_file(fields["play"], (*at, "play")))
        return None

    def sound_file(self, value: object, at: Where) -> Path:
        reference = self.text(value, at)
        try:
            path = resolve_sound_file(reference, self.base)
        except PathError as error:
            self.fail(at, str(error))
        if path.is_file():
            return path
        if reference.startswith((ASTERISK_PROMPT, ASTERISK_MOH)):
            folder = path.parent if path.parent.is_dir() else None
            known = [p.stem for p in folder.glob("*.wav")] if folder else []
            suggestion = closest(path.stem, known)
            prefix = reference.split(":", 1)[0]
            fix = (
                f"did you mean {prefix}:{suggestion}?"
                if suggestion
                else f"pick a name from {path.parent}; install asterisk-core-sounds-en-wav "
                "and asterisk-moh-opsound-wav if it is missing"
            )
            self.fail(at, f"no recording {reference!r} ({fix})")
        self.fail(
            at,
            f"file {reference!r} not found: looked for {path} "
            "(relative paths start at the YAML file's folder)",
        )

    # -- the file ----------------------------------------------------------------------

    def definition(self) -> IvrDefinition:
        if self.document.data is None:
            self.fail((), "the file is empty (see docs/sandbox.md for the format)")
        top = self.mapping(self.document.data, (), TOP_KEYS, required=("name", "start", "nodes"))
        name = self.text(top["name"], ("name",))
        nodes_raw = top["nodes"]
        if not isinstance(nodes_raw, dict):
            self.fail(("nodes",), f"nodes must be a mapping like {_EXAMPLES['nodes']}")
        self.node_names = self.check_nodekey_names(nodes_raw)
        start = self.node_ref(top["start"], ("start",))
        voice = self.voice(top["voice"], ("voice",)) if "voice" in top else Voice()
        hours = self.hours(top["hours"], ("hours",)) if "hours" in top else None
        answer = self.answer(top["answer"], ("answer",)) if "answer" in top else Answer()
        nodes = {
            node_name: self.node(node_name, nodes_raw[node_name], ("nodes", node_name))
            for node_name in self.node_names
        }
        entries = [start] if hours is None else [start, hours.closed]
        return IvrDefinition(
            name=name,
            source=self.document.path.resolve(),
            start=start,
            nodes=nodes,
            voice=voice,
            hours=hours,
            answer=answer,
            warnings=self.unreachable(nodes, entries),
        )

    def check_nodekey_names(self, nodes: dict[object, object]) -> tuple[str, ...]:
        if not nodes:
            self.fail(("nodes",), "nodes is empty (define at least the start node)")
        for node_name in nodes:
            at = ("nodes", node_name)
            if not isinstance(node_name, str):
                self.fail(at, f"node name {node_name!r} must be text (quote it)", key=True)
            if not _NODE_NAME.fullmatch(node_name):
                self.fail(
                    at,
                    f"node name {node_name!r} may only use letters, digits, _ . and - (rename it)",
                    key=True,
                )
        return tuple(cast(dict[str, object], nodes))

    def voice(self, value: object, at: Where) -> Voice:
        fields = self.mapping(value, at, ("tts", "voice", "speed"), example="voice")
        default = Voice()
        tts = fields.get("tts", default.tts)
        if tts not in TTS_DEFAULT_VOICES:
            self.fail(
                (*at, "tts"), f"unknown tts {tts!r} (use one of {key_names(TTS_DEFAULT_VOICES)})"
            )
        voice_name = self.text(fields["voice"], (*at, "voice")) if "voice" in fields else None
        known = flite_voices() if tts == "flite" else []
        if voice_name is not None and known and voice_name not in known:
            self.fail(
                (*at, "voice"), f"flite has no voice {voice_name!r} (use one of {key_names(known)})"
            )
        speed = fields.get("speed", default.speed)
        if isinstance(speed, bool) or not isinstance(speed, int):
            self.fail((*at, "speed"), f"speed must be words per minute, not {speed!r}")
        if not MIN_SPEED <= speed <= MAX_SPEED:
            self.fail(
                (*at, "speed"), f"speed {speed} is outside {MIN_SPEED}-{MAX_SPEED} words per minute"
            )
        return Voice(
            tts=cast(TtsName, tts), voice=voice_name or TTS_DEFAULT_VOICES[tts], speed=speed
        )

    def hours(self, value: object, at: Where) -> Hours:
        fields = self.mapping(value, at, ("tz", "open", "closed"), ("tz", "open", "closed"))
        zone = self.text(fields["tz"], (*at, "tz"))
        opening = self.text(fields["open"], (*at, "open"))
        try:
            time_zone(zone)
        except ValueError as error:
            self.fail((*at, "tz"), str(error))
        try:
            parse_opening(opening)
        except ValueError as error:
            self.fail((*at, "open"), str(error))
        return Hours(tz=zone, open=opening, closed=self.node_ref(fields["closed"], (*at, "closed")))

    def answer(self, value: object, at: Where) -> Answer:
        fields = self.mapping(value, at, ("after", "busy", "no_answer"))
        if len(fields) != 1:
            self.fail(at, f"answer needs exactly one setting: {_EXAMPLES['answer']}", key=True)
        (key, setting), *_ = fields.items()
        if key == "after":
            return Answer(mode="answer", after_s=self.duration(setting, (*at, key)))
        if setting is not True:
            self.fail((*at, key), f"{key}: must be true (or remove answer: to pick up at once)")
        return Answer(mode="busy" if key == "busy" else "no-answer")

    # -- nodes -------------------------------------------------------------------------

    def node(self, name: str, value: object, at: Where) -> Node:
        fields = self.mapping(value, at, NODE_KEYS, example="node")
        sound = self.inline_sound(fields, at)
        kinds = [key for key in fields if key in BEHAVIOUR_KEYS]
        if len(kinds) > 1:
            self.fail(
                (*at, kinds[1]),
                f"node {name!r} has two behaviours, {kinds[0]}: and {kinds[1]}: "
                "(a node does one thing: move one into a new node and link it with goto:)",
                key=True,
            )
        if sound is None and not kinds:
            self.fail(at, f"node {name!r} does nothing (add say:, play: or a behaviour)", key=True)
        behaviour = self.behaviour(kinds[0], fields[kinds[0]], (*at, kinds[0])) if kinds else None
        return Node(name=name, line=self.document.key_line(*at), sound=sound, behaviour=behaviour)

    def behaviour(self, kind: str, value: object, at: Where) -> Behaviour:
        match kind:
            case "menu":
                return self.menu(value, at)
            case "goto":
                return Goto(self.node_ref(value, at))
            case "queue":
                return self.queue(value, at)
            case "agent":
                return self.agent(value, at)
            case "voicemail":
                return self.voicemail(value, at)
            case "hangup":
                if value is not True:
                    self.fail(at, f"hangup must be true, not {value!r} (or remove it)")
                return Hangup()
            case "silence":
                return Silence(self.duration(value, at, positive=True))
            case "tone":
                return self.tone(value, at)
            case _:
                fields = self.mapping(value, at, ("after",), ("after",))
                return Drop(self.duration(fields["after"], (*at, "after")))

    def menu(self, value: object, at: Where) -> Menu:
        allowed = (
            "options",
            "timeout",
            "retries",
            "invalid",
            "no_input",
            "on_exhausted",
            "barge_in",
        )
        fields = self.mapping(value, at, allowed, ("options",))
        options_at = (*at, "options")
        raw_options = fields["options"]
        if not isinstance(raw_options, dict) or not raw_options:
            self.fail(options_at, f"options must map keys to nodes like {_EXAMPLES['options']}")
        options = {
            self.digit(key, (*options_at, key), key=True): self.node_ref(
                target, (*options_at, key), f'menu option "{key}"'
            )
            for key, target in raw_options.items()
        }
        default = Menu(options={})
        retries = fields.get("retries", default.retries)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            self.fail(
                (*at, "retries"), f"retries must be a whole number 0 or more, not {retries!r}"
            )

        def optional_sound(key: str) -> Sound | None:
            return self.sound(fields[key], (*at, key)) if key in fields else None

        return Menu(
            options=options,
            timeout_s=(
                self.duration(fields["timeout"], (*at, "timeout"), positive=True)
                if "timeout" in fields
                else default.timeout_s
            ),
            retries=retries,
            invalid=optional_sound("invalid"),
            no_input=optional_sound("no_input"),
            on_exhausted=(
                self.node_ref(fields["on_exhausted"], (*at, "on_exhausted"))
                if "on_exhausted" in fields
                else None
            ),
            barge_in=(
                self.flag(fields["barge_in"], (*at, "barge_in"))
                if "barge_in" in fields
                else default.barge_in
            ),
        )

    def queue(self, value: object, at: Where) -> Queue:
        allowed = ("hold", "music", "announce", "callback_offer", "then")
        fields = self.mapping(value, at, allowed, ("hold",))
        music: Path | None = None
        if "music" in fields and fields["music"] != DEFAULT_MUSIC:
            music = self.sound_file(fields["music"], (*at, "music"))
        return Queue(
            hold_s=self.duration(fields["hold"], (*at, "hold")),
            music=music,
            announce=self.periodic(fields["announce"], (*at, "announce"))
            if "announce" in fields
            else None,
            callback_offer=self.callback_offer(fields["callback_offer"], (*at, "callback_offer"))
            if "callback_offer" in fields
            else None,
            then=self.node_ref(fields["then"], (*at, "then")) if "then" in fields else None,
        )

    def periodic(self, value: object, at: Where) -> Periodic:
        fields = self.mapping(value, at, ("every", *SOUND_KEYS), ("every",))
        return Periodic(
            every_s=self.duration(fields["every"], (*at, "every"), positive=True),
            sound=self.required_sound(fields, at),
        )

    def callback_offer(self, value: object, at: Where) -> CallbackOffer:
        required = ("every", "digit", "goto")
        fields = self.mapping(value, at, (*required, *SOUND_KEYS), required)
        return CallbackOffer(
            every_s=self.duration(fields["every"], (*at, "every"), positive=True),
            sound=self.required_sound(fields, at),
            digit=self.digit(fields["digit"], (*at, "digit")),
            goto=self.node_ref(fields["goto"], (*at, "goto"), "callback_offer goto"),
        )

    def required_sound(self, fields: dict[str, object], at: Where) -> Sound:
        found = self.inline_sound(fields, at)
        if found is None:
            self.fail(at, f"{at[-1]} has neither say: nor play: (add what callers hear)", key=True)
        return found

    def agent(self, value: object, at: Where) -> Agent:
        fields = self.mapping(
            value, at, ("greeting", "replies", "reply", "voice", "pickup"), ("greeting",)
        )
        default = Agent(greeting="")
        return Agent(
            greeting=self.text(fields["greeting"], (*at, "greeting")),
            replies=self.flag(fields["replies"], (*at, "replies"))
            if "replies" in fields
            else default.replies,
            reply=self.text(fields["reply"], (*at, "reply"))
            if "reply" in fields
            else default.reply,
            voice=self.voice(fields["voice"], (*at, "voice")) if "voice" in fields else None,
            pickup_s=self.duration(fields["pickup"], (*at, "pickup"))
            if "pickup" in fields
            else default.pickup_s,
        )

    def voicemail(self, value: object, at: Where) -> Voicemail:
        if value is True:
            return Voicemail()
        fields = self.mapping(value, at, ("max",))
        if "max" not in fields:
            return Voicemail()
        return Voicemail(max_s=self.duration(fields["max"], (*at, "max"), positive=True))

    def tone(self, value: object, at: Where) -> Tone:
        fields = (
            {"kind": value} if isinstance(value, str) else self.mapping(value, at, ("kind", "for"))
        )
        kind_at = at if isinstance(value, str) else (*at, "kind")
        if "kind" not in fields:
            self.fail(at, "tone is missing kind: (add it)", key=True)
        kind = fields["kind"]
        if kind not in TONE_KINDS:
            suggestion = closest(kind, TONE_KINDS)
            hint = f"did you mean {suggestion}? " if suggestion else ""
            self.fail(kind_at, f"unknown tone {kind!r} ({hint}valid: {', '.join(TONE_KINDS)})")
        seconds = (
            self.duration(fields["for"], (*at, "for"), positive=True)
            if "for" in fields
            else Tone(kind="busy").seconds
        )
        return Tone(kind=kind, seconds=seconds)

    # -- reachability ------------------------------------------------------------------

    def unreachable(self, nodes: dict[str, Node], entries: list[str]) -> tuple[str, ...]:
        seen: set[str] = set()
        pending = list(entries)
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending.extend(_targets(nodes[current].behaviour))
        entry_text = " or ".join(repr(entry) for entry in dict.fromkeys(entries))
        return tuple(
            f"{self.document.path}:{node.line}: warning: node {name!r} cannot be reached from "
            f"{entry_text} (link it from a menu option or goto:, or delete it)"
            for name, node in nodes.items()
            if name not in seen
        )


def _targets(behaviour: Behaviour | None) -> list[str]:
    """Nodes a caller can go to next from a node with this behaviour."""
    match behaviour:
        case Menu(options=options, on_exhausted=on_exhausted):
            return [*options.values(), *([on_exhausted] if on_exhausted else [])]
        case Goto(node=target):
            return [target]
        case Queue(callback_offer=offer, then=then):
            return [*([offer.goto] if offer else []), *([then] if then else [])]
        case _:
            return []
