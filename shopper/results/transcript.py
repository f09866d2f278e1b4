"""The transcript as files other tools read: JSON for programs, WebVTT for players and editors.

Cue and word times come from the utterances' sample positions (media time), so a cue lines up
with recording.wav in any player that loads the two side by side.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from shopper.asr.types import Utterance
from shopper.audio.frame import TELEPHONY_RATE

SAMPLES_PER_MS = TELEPHONY_RATE // 1000


def transcript_json(utterances: Sequence[Utterance]) -> list[dict[str, Any]]:
    """Utterances in time order; `words` appears only when the engine gave word timings."""
    entries: list[dict[str, Any]] = []
    for utterance in sorted(utterances, key=lambda u: (u.start, u.end)):
        entry: dict[str, Any] = {
            "start_s": round(utterance.start_s, 3),
            "end_s": round(utterance.end_s, 3),
            "text": utterance.text,
            "confidence": round(utterance.confidence, 3),
        }
        if utterance.words:
            entry["words"] = [
                {
                    "start_s": round(word.start_s, 3),
                    "end_s": round(word.end_s, 3),
                    "text": word.text,
                    "confidence": round(word.confidence, 3),
                }
                for word in utterance.words
            ]
        entries.append(entry)
    return entries


def webvtt(utterances: Sequence[Utterance]) -> str:
    """One cue per utterance, in start order (WebVTT requires non-decreasing cue starts)."""
    blocks = ["WEBVTT"]
    ordered = sorted(utterances, key=lambda u: (u.start, u.end))
    for number, utterance in enumerate(ordered, start=1):
        start_ms = _milliseconds(utterance.start)
        # A cue must end after it starts; an utterance stamped zero-length still gets 1 ms.
        end_ms = max(_milliseconds(utterance.end), start_ms + 1)
        timing = f"{vtt_timestamp(start_ms)} --> {vtt_timestamp(end_ms)}"
        blocks.append(f"{number}\n{timing}\n{_cue_text(utterance.text)}")
    return "\n\n".join(blocks) + "\n"


def vtt_timestamp(milliseconds: int) -> str:
    """HH:MM:SS.mmm; hours always shown so every cue in a long call has the same shape."""
    seconds, ms = divmod(milliseconds, 1000)
    minutes, secs = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours:02d}:{mins:02d}:{secs:02d}.{ms:03d}"


def _milliseconds(samples: int) -> int:
    return (max(samples, 0) + SAMPLES_PER_MS // 2) // SAMPLES_PER_MS


def _cue_text(text: str) -> str:
    """Recognised text is untrusted: a blank line would end the cue, '<' would open a tag."""
    flat = re.sub(r"\s+", " ", text).strip() or "…"
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
