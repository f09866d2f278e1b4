"""The simulated phone system's definition, as loaded from its YAML file.

These types are the sandbox's own: the tester side (engine, scripts, crawler) must never
import them, because a real phone system gives a caller nothing but audio.
Durations are seconds; every node remembers its YAML line for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from shopper.audio.callprogress import ToneKind
from shopper.tts import TtsName

TTS_DEFAULT_VOICES: dict[str, str] = {"espeak-ng": "en-us", "flite": "awb"}


@dataclass(frozen=True, slots=True)
class Voice:
    """How `say:` text is rendered: synthesiser, its voice name, speed in words per minute."""

    tts: TtsName = "espeak-ng"
    voice: str = "en-us"
    speed: int = 160


@dataclass(frozen=True, slots=True)
class Sound:
    """Something the IVR plays: text to speak, or a recorded file (resolved to an absolute path)."""

    say: str | None = None
    play: Path | None = None


@dataclass(frozen=True, slots=True)
class Menu:
    options: dict[str, str]
    """Key ('0'-'9', '*', '#') -> node name."""
    timeout_s: float = 6.0
    """Silence after the prompt before it counts as no input."""
    retries: int = 2
    """How often the prompt is repeated after invalid or no input before `on_exhausted`."""
    invalid: Sound | None = None
    no_input: Sound | None = None
    on_exhausted: str | None = None
    """Node after the last retry; None hangs up."""
    barge_in: bool = True
    """Keys pressed while the prompt plays interrupt it."""


@dataclass(frozen=True, slots=True)
class Periodic:
    every_s: float
    sound: Sound


@dataclass(frozen=True, slots=True)
class CallbackOffer:
    every_s: float
    sound: Sound
    digit: str
    goto: str


@dataclass(frozen=True, slots=True)
class Queue:
    hold_s: float
    music: Path | None = None
    """None plays the default: the Asterisk music-on-hold."""
    announce: Periodic | None = None
    callback_offer: CallbackOffer | None = None
    then: str | None = None
    """Node when the hold ends; None hangs up."""


@dataclass(frozen=True, slots=True)
class Agent:
    greeting: str
    replies: bool = True
    """Answer (briefly) when the caller speaks: what tells a person from a recording."""
    reply: str = "Sure, I can help you with that."
    voice: Voice | None = None
    """A different voice from the IVR's, as a real agent would have."""
    pickup_s: float = 0.8
    """Quiet between the queue letting go of the call and the agent's first word: the
    connect click and the breath a person takes before speaking."""


@dataclass(frozen=True, slots=True)
class Voicemail:
    max_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Goto:
    node: str


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class Silence:
    seconds: float


@dataclass(frozen=True, slots=True)
class Tone:
    kind: ToneKind
    seconds: float = 3.0


@dataclass(frozen=True, slots=True)
class Drop:
    after_s: float


Behaviour = Menu | Goto | Queue | Agent | Voicemail | Hangup | Silence | Tone | Drop


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    line: int
    sound: Sound | None = None
    """Played on entering the node (for `tone:` nodes, after the tone)."""
    behaviour: Behaviour | None = None
    """None: play the sound, then hang up."""


@dataclass(frozen=True, slots=True)
class Hours:
    tz: str
    open: str
    """E.g. 'Mon-Fri 08:00-20:00' (several ranges separated by ',')."""
    closed: str
    """Node callers reach outside opening hours."""


@dataclass(frozen=True, slots=True)
class Answer:
    """How the line answers: after some rings, busy, or never."""

    mode: Literal["answer", "busy", "no-answer"] = "answer"
    after_s: float = 0.0


@dataclass(frozen=True, slots=True)
class IvrDefinition:
    name: str
    source: Path
    start: str
    nodes: dict[str, Node]
    voice: Voice = field(default_factory=Voice)
    hours: Hours | None = None
    answer: Answer = field(default_factory=Answer)
    warnings: tuple[str, ...] = ()
    """`FILE:LINE: warning: ...` lines about legal but suspicious parts (unreachable nodes)."""
