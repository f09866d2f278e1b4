"""The figures a call is judged by, computed from what was heard (media time, seconds)."""

from __future__ import annotations

import itertools
import re
from typing import Any

from shopper.audio.frame import TELEPHONY_RATE
from shopper.engine.caller import Caller
from shopper.engine.session import CallSession
from shopper.engine.timeline import KeySent, Said
from shopper.text.normalize import normalize

MENU_LANGUAGE = re.compile(r"\b(press|dial|enter)\b")


def _s(samples: int | None) -> float | None:
    return None if samples is None else round(samples / TELEPHONY_RATE, 3)


def call_metrics(session: CallSession, caller: Caller) -> dict[str, Any]:
    answered = session.answered_at
    heard = [u for u in session.transcript if answered is not None and u.start >= answered]
    verdict = caller.human_verdict
    report_from = session.samples(session.settings.dead_air_report_s)
    box = session.voicemail.box
    recording_from = box.beep.start if box is not None else None
    dead_air = sum(
        s.end - s.start
        for s in session.segments
        if s.kind == "silence"
        and answered is not None
        and s.start >= answered
        and s.end - s.start >= report_from
        and not _tester_spoke_during(session, s.start, s.end)
        and (recording_from is None or s.start < recording_from)  # a voicemail box recording
    )
    return {
        "answer_s": _s(answered),
        "first_prompt_s": _s(heard[0].start - answered) if heard and answered is not None else None,
        "time_to_human_s": (
            _s(verdict.at - answered) if verdict is not None and answered is not None else None
        ),
        "hold_s": _s(session.hold.held_samples(session.now)) or 0.0,
        "duration_s": _s(session.now) or 0.0,
        "dtmf_sent": sum(len(e.digits) for e in session.timeline.of_type(KeySent)),
        "menus": _menus(session),
        "dead_air_s": _s(dead_air) or 0.0,
        "rtp": stats.to_json() if (stats := session.call.media_stats) is not None else None,
    }


def _tester_spoke_during(session: CallSession, start: int, end: int) -> bool:
    for event in session.timeline.of_type(Said):
        said_end = event.t + round(event.duration_s * TELEPHONY_RATE)
        if event.t < end and said_end > start:
            return True
    return False


def _menus(session: CallSession) -> int:
    """Prompts that offered keys: speech between two key presses (or call edges) is one prompt."""
    presses = [e.t for e in session.timeline.of_type(KeySent)]
    bounds = [0, *presses, session.now + 1]
    count = 0
    for start, end in itertools.pairwise(bounds):
        text = " ".join(u.text for u in session.transcript if start <= u.start < end)
        if MENU_LANGUAGE.search(normalize(text)):
            count += 1
    return count
