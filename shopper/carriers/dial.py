"""Placing a script's call through the carrier it names.

Only the simulated phone system exists today; Twilio and SIP plug in here later. This is
also the one place where a number would be checked against the safety rules before dialling.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from shopper.carriers.base import Call, CarrierError
from shopper.carriers.safety import check_dialable
from shopper.carriers.sandbox import dial_sandbox
from shopper.sandbox.loader import load_ivr
from shopper.sandbox.model import Voice


@dataclass(frozen=True, slots=True)
class DialOptions:
    seed: int = 0
    realtime: bool = False
    """Pace the simulated phone system in real time instead of its virtual clock."""
    now: datetime | None = None
    """Wall-clock moment the simulated phone system believes it is (opening hours)."""
    max_duration_s: float = 1800.0
    ring_timeout_s: float = 60.0
    voice: Voice | None = None
    """Sandbox only: speak the IVR's `say:` text (and agents without a voice of their own)
    in this voice instead of the file's, so one IVR can be heard in several voices
    (`shopper bench verdicts`). Recordings it plays are unchanged."""


def dial(target: str, carrier: str, options: DialOptions) -> Call:
    if carrier != "sandbox":
        check_dialable(target)
        raise CarrierError(
            f"carrier {carrier!r} is not available yet; use a sandbox IVR file as the target"
        )
    definition = load_ivr(Path(target))
    if options.voice is not None:
        definition = replace(definition, voice=options.voice)
    return dial_sandbox(
        definition,
        seed=options.seed,
        realtime=options.realtime,
        now=options.now,
        max_duration_s=options.max_duration_s,
        ring_timeout_s=options.ring_timeout_s,
    )
