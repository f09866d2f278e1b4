"""Live events as one readable line each, for people watching calls from a terminal."""

from __future__ import annotations

from typing import Any

from shopper.engine.timeline import (
    Dialing,
    Ended,
    HoldEnded,
    HoldStarted,
    HumanDetected,
    KeySent,
    Said,
    StepFinished,
    UtteranceHeard,
)


def site_of(topic: str) -> str:
    """`<prefix>/<site>/calls/<call_id>/events`: the site is fourth from the end."""
    levels = topic.split("/")
    return levels[-4] if len(levels) >= 4 else "?"


def event_line(topic: str, payload: dict[str, Any]) -> str:
    data = payload.get("data") or {}
    return (
        f"{site_of(topic)} {payload.get('call_id', '?')} "
        f"{float(payload.get('t_s', 0.0)):7.1f}s  {_what(str(payload.get('type')), data)}"
    )


def _what(kind: str, data: dict[str, Any]) -> str:
    """Payloads come off the wire, from whichever shopper published them, so they are told
    apart by their `type` (the timeline event classes' TYPE) and any field may be missing."""
    match kind:
        case Dialing.TYPE:
            return f"dialing ({data.get('carrier')})"
        case UtteranceHeard.TYPE:
            return f'heard "{data.get("text", "")}"'
        case Said.TYPE:
            return f'said "{data.get("text", "")}"'
        case KeySent.TYPE:
            return f"pressed {data.get('digits')}"
        case HumanDetected.TYPE:
            return f'person answered: "{data.get("text", "")}"'
        case HoldStarted.TYPE:
            return "hold started"
        case HoldEnded.TYPE:
            return "hold ended"
        case StepFinished.TYPE:
            return f"step {data.get('index')} {data.get('outcome')}: {data.get('step')}"
        case Ended.TYPE:
            return f"ended by {data.get('by')} ({data.get('cause')})"
    details = " ".join(f"{k}={v}" for k, v in data.items())
    return f"{kind} {details}".rstrip()
