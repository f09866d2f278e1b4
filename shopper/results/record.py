"""Everything one call leaves behind, before it is written anywhere.

The result document is plain JSON-ready data (documented in docs/results.md with a JSON
Schema); the recording, transcript and timeline are the evidence behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopper.asr.types import Utterance
from shopper.audio.wav_stream import GrowingWav
from shopper.engine.timeline import Timeline

RESULT_SCHEMA = "shopper.result/1"


@dataclass(frozen=True, slots=True)
class CallRecord:
    result: dict[str, Any]
    """The result document (schema shopper.result/1)."""
    recording: GrowingWav
    """Stereo, 8 kHz: far end left, tester right; streamed to disk as the call went (the
    call's folder's recording.wav, or an anonymous file the writer copies into place)."""
    transcript: list[Utterance]
    timeline: Timeline
    truth: dict[str, Any] | None = None
    """The simulated phone system's own account of the call, written as sandbox-truth.json
    beside the result so accuracy can be judged; never read by the tester side."""
