"""A call script: what to expect, which keys to press, and what the call must achieve.

Loaded from YAML by shopper.scripts.loader or built in Python; each step knows its YAML line
so failures point at the script, and a readable label for reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from shopper.text.match import Matcher

CarrierName = Literal["sandbox", "twilio", "sip"]


@dataclass(frozen=True, slots=True)
class ExpectStep:
    matcher: Matcher
    label: str
    within_s: float = 10.0
    silence_s: float | None = None
    """Trailing quiet that ends the prompt; None uses the script's listen settings."""
    optional: bool = False
    line: int | None = None


@dataclass(frozen=True, slots=True)
class PressStep:
    keys: str
    ack_s: float | None = None
    tone_s: float = 0.1
    gap_s: float = 0.1
    after_prompt: bool = False
    """Send the keys once the prompt has ended, for a menu meant to ignore keys until then."""
    line: int | None = None

    @property
    def label(self) -> str:
        return f"press {self.keys}"


@dataclass(frozen=True, slots=True)
class SayStep:
    text: str
    line: int | None = None

    @property
    def label(self) -> str:
        return f"say {self.text!r}"


@dataclass(frozen=True, slots=True)
class WaitStep:
    seconds: float
    line: int | None = None

    @property
    def label(self) -> str:
        return f"wait {self.seconds:g} s"


@dataclass(frozen=True, slots=True)
class HoldStep:
    max_s: float = 600.0
    start_within_s: float = 60.0
    line: int | None = None

    @property
    def label(self) -> str:
        return f"hold (max {self.max_s:g} s)"


@dataclass(frozen=True, slots=True)
class HumanStep:
    within_s: float = 600.0
    probe: bool = True
    courtesy: bool = True
    """Say the courtesy message and hang up once a person is on the line."""
    line: int | None = None

    @property
    def label(self) -> str:
        return f"human (within {self.within_s:g} s)"


@dataclass(frozen=True, slots=True)
class HangupStep:
    line: int | None = None
    label: str = "hang up"


@dataclass(frozen=True, slots=True)
class ExpectHangupStep:
    within_s: float = 30.0
    line: int | None = None

    @property
    def label(self) -> str:
        return "expect the far end to hang up"


@dataclass(frozen=True, slots=True)
class Branch:
    matcher: Matcher
    label: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class ChooseStep:
    """Alternatives: listen, and follow the first branch whose prompt is heard."""

    branches: tuple[Branch, ...]
    within_s: float = 10.0
    line: int | None = None

    @property
    def label(self) -> str:
        return "choose: " + " | ".join(branch.label for branch in self.branches)


Step = (
    ExpectStep
    | PressStep
    | SayStep
    | WaitStep
    | HoldStep
    | HumanStep
    | HangupStep
    | ExpectHangupStep
    | ChooseStep
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Pass/fail limits on the call as a whole (`assert:` in YAML), in seconds."""

    time_to_human_max_s: float | None = None
    hold_max_s: float | None = None
    duration_max_s: float | None = None
    answer_max_s: float | None = None


@dataclass(frozen=True, slots=True)
class CallScript:
    name: str
    target: str
    """A sandbox IVR file (absolute path once loaded) or, with another carrier, a number."""
    steps: tuple[Step, ...]
    carrier: CarrierName = "sandbox"
    source: Path | None = None
    limits: Limits = field(default_factory=Limits)
    prompt_end_silence_s: float | None = None
    dead_air_s: float | None = None
    hold_dead_air_s: float | None = None
    ack_s: float | None = None
    max_duration_s: float = 1800.0
    """Hard cap on the call's length: shopper hangs up after it whatever the script says."""
    sandbox_at: datetime | None = None
    """The moment the simulated phone system believes it is (`at:`, for opening hours); a
    naive time is read on the IVR's own clock. None: the run's `--at`, else the current time."""
