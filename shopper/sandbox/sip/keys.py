"""Key presses sent out of band (RFC 4733 telephone-events) made audible to the IVR.

The simulated phone system, like many real IVRs, hears keys only in-band, through its own
DTMF receiver. A media gateway that receives RFC 4733 events and regenerates the tones does
what this module does: each event becomes a tone of the event's duration (kept between
`MIN_TONE_S` and `MAX_TONE_S`, so a truncated or runaway event still makes one clean press)
followed by `GAP_S` of quiet, and replaces the caller's audio while it sounds. The RTP stream
reports an event when it ends, so the tone starts then: the IVR hears the key one press-length
after the caller began it. Events that are not DTMF keys (flash, 16) are ignored.
"""

from __future__ import annotations

import numpy as np

from shopper.audio.dtmf import DTMF_KEYS, dtmf_tone
from shopper.audio.frame import TELEPHONY_RATE, Samples

MIN_TONE_S = 0.06
MAX_TONE_S = 1.0
GAP_S = 0.06


class KeyTones:
    """Tones queued from key events, laid over the caller's frames one frame at a time."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.int16)
        self.pressed: list[str] = []
        """The keys received as events, in order (for the server's log)."""

    def event(self, digit: str, duration: int) -> None:
        """An RFC 4733 event ended: `digit`, lasting `duration` timestamp units (8 kHz)."""
        key = digit.upper()
        if len(key) != 1 or key not in DTMF_KEYS:
            return
        self.pressed.append(key)
        seconds = min(MAX_TONE_S, max(MIN_TONE_S, duration / TELEPHONY_RATE))
        gap = np.zeros(round(GAP_S * TELEPHONY_RATE), dtype=np.int16)
        self._pending = np.concatenate([self._pending, dtmf_tone(key, seconds), gap])

    def over(self, caller: Samples) -> Samples:
        """The caller's frame with any queued tone in place of its audio."""
        if not len(self._pending):
            return caller
        taken = min(len(caller), len(self._pending))
        frame = caller.copy()
        frame[:taken] = self._pending[:taken]
        self._pending = self._pending[taken:]
        return frame
