"""How to place a call: the limits every carrier applies, and each carrier's own options.

A run can hold scripts for several carriers, so the options travel together and each carrier
takes its own part (`DialOptions.sandbox` for the simulated phone system; SIP and Twilio add
theirs beside it). Nothing here is read by the call engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shopper.carriers.pacing import TargetCaps
    from shopper.sandbox.model import Voice


@dataclass(frozen=True, slots=True)
class SandboxOptions:
    """The simulated phone system's own options."""

    seed: int = 0
    """Seeds its line noise and random choices: the same seed gives the same call."""
    realtime: bool = False
    """Pace it in real time instead of its virtual clock."""
    at: datetime | None = None
    """Wall-clock moment it believes it is (opening hours); None: the current time."""
    voice: Voice | None = None
    """Speak the IVR's `say:` text (and agents without a voice of their own) in this voice
    instead of the file's, so one IVR can be heard in several voices (`shopper bench
    verdicts`). Recordings it plays are unchanged."""


@dataclass(frozen=True, slots=True)
class SipOptions:
    """The SIP carrier's per-run options (its account and trunk are the config's `[sip]`)."""

    trace: Path | None = None
    """Append every SIP message of every call here (credentials masked)."""


@dataclass(frozen=True, slots=True)
class TwilioGiven:
    """The Twilio settings given on the command line (None: the environment and the config
    file decide; shopper.carriers.twilio.settings). Secrets have no option."""

    from_number: str | None = None
    public_url: str | None = None
    listen: str | None = None
    api_url: str | None = None
    dtmf: str | None = None


@dataclass(frozen=True, slots=True)
class DialOptions:
    max_duration_s: float = 1800.0
    """The call is hung up at this length, as a carrier's call-length limit would."""
    ring_timeout_s: float = 60.0
    """Nobody answering within this long ends the call as `no-answer`."""
    caps: TargetCaps | None = None
    """Calls at once and per second to one target (shopper.carriers.pacing); None: the config
    file's `[safety]` values, else 5 at once and 1 per second."""
    sandbox: SandboxOptions = field(default_factory=SandboxOptions)
    sip: SipOptions = field(default_factory=SipOptions)
    twilio: TwilioGiven = field(default_factory=TwilioGiven)
