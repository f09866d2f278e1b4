"""Recognising a voicemail box: a greeting, a beep, then the silence of the recording.

The evidence is physical first. A voicemail box plays its greeting, then a record tone — one
pure tone of a fraction of a second (commonly 440-1000 Hz; 1400 Hz is also heard) — and then
records, so the line stays quiet while the caller is expected to speak. A classifier `tone`
segment that short, following speech, whose power sits in a single frequency, is taken as a
beep; the box is recognised once the line has stayed quiet for `RECORDING_QUIET_S` after it.
Speech, music or another sound after the beep withdraws it (a menu's "after the tone, enter
your PIN" goes on talking when no key comes; a transfer chirp is followed by ringing or a
voice). The greeting's words ("leave a message after the tone") are kept as supporting
evidence, and are not needed: many boxes only say a name before the beep.

Limits: a box whose beep is two tones, a chord or a sweep is not recognised, nor one that
records without any beep; an IVR that beeps and then waits silently for keys is recognised as
a voicemail box if nothing is pressed within `RECORDING_QUIET_S`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shopper.asr.types import Utterance
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.segments import Segment
from shopper.engine.runs import Run
from shopper.text.phrasebook import is_voicemail_greeting

BEEP_S = (0.15, 1.5)
"""A record tone lasts a fraction of a second: shorter is a click or a DTMF digit, longer
is a call-progress tone or a held note."""
BEEP_HZ = (300.0, 2500.0)
BEEP_PURITY = 0.8
"""Share of the tone's in-band power within ±`_PEAK_HALF_WIDTH_HZ` of its strongest
frequency: a beep is one sine; dial, ringback, busy and DTMF tones are two."""
AFTER_SPEECH_S = 3.0
"""The beep follows the greeting's last word within this long."""
RECORDING_QUIET_S = 3.0
"""Quiet after the beep that means the far end is recording, not about to speak."""
_PEAK_HALF_WIDTH_HZ = 15.0
"""Narrower than the 40 Hz between ringback's two tones, wider than a 0.15 s window's
main lobe."""
_BAND_HZ = (200.0, 3500.0)


@dataclass(frozen=True, slots=True)
class Beep:
    start: int
    end: int
    hz: float

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / TELEPHONY_RATE


@dataclass(frozen=True, slots=True)
class VoicemailBox:
    """A voicemail box reached: its beep, and the greeting heard before it."""

    beep: Beep
    greeting: str
    asks_for_message: bool
    """The greeting asks for a message (supporting evidence)."""

    def to_json(self) -> dict[str, object]:
        return {
            "beep_at_s": round(self.beep.start / TELEPHONY_RATE, 3),
            "beep_s": round(self.beep.seconds, 3),
            "beep_hz": round(self.beep.hz),
            "greeting": self.greeting,
            "asks_for_message": self.asks_for_message,
        }


def asks_for_message(text: str) -> bool:
    """Whether speech asks the caller to leave a message, by the phrasebook's judgement of
    voicemail greetings (shopper.text.phrasebook): supporting evidence only, never the
    decision (that is the beep and the silence after it)."""
    return is_voicemail_greeting(text)


def single_tone_hz(samples: Samples) -> float | None:
    """The frequency of `samples` when nearly all their in-band power is one sine, else None."""
    if len(samples) < TELEPHONY_RATE // 20:
        return None
    audio = samples.astype(np.float64) * np.hanning(len(samples))
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1.0 / TELEPHONY_RATE)
    band = (freqs >= _BAND_HZ[0]) & (freqs <= _BAND_HZ[1])
    total = float(np.sum(power[band]))
    if total <= 0.0:
        return None
    peak = float(freqs[band][int(np.argmax(power[band]))])
    near = band & (np.abs(freqs - peak) <= _PEAK_HALF_WIDTH_HZ)
    if float(np.sum(power[near])) < BEEP_PURITY * total:
        return None
    return peak


class VoicemailDetector:
    """Follows the far end's closed sound segments for a beep after speech, then the quiet."""

    def __init__(self) -> None:
        self.box: VoicemailBox | None = None
        self.beep: Beep | None = None
        """A beep heard after speech, while the line has been quiet since (not yet a box)."""
        self._speech_end: int | None = None

    def observe_segment(self, segment: Segment, far_audio: Callable[[int, int], Samples]) -> None:
        """`far_audio(start, end)` gives the far end's samples (asked only for short tones)."""
        if self.box is not None:
            return
        if segment.kind == "speech":
            self._speech_end = segment.end
            self.beep = None
        elif segment.kind == "tone":
            self.beep = self._beep(segment, far_audio)
        elif segment.kind == "music":
            self.beep = None

    def _beep(self, segment: Segment, far_audio: Callable[[int, int], Samples]) -> Beep | None:
        seconds = (segment.end - segment.start) / TELEPHONY_RATE
        after_speech = (
            self._speech_end is not None
            and segment.start - self._speech_end <= AFTER_SPEECH_S * TELEPHONY_RATE
        )
        if not (after_speech and BEEP_S[0] <= seconds <= BEEP_S[1]):
            return None
        hz = single_tone_hz(far_audio(segment.start, segment.end))
        if hz is None or not BEEP_HZ[0] <= hz <= BEEP_HZ[1]:
            return None
        return Beep(segment.start, segment.end, hz)

    def observe_quiet(self, run: Run | None, now: int, transcript: list[Utterance]) -> bool:
        """Called every frame; True when the quiet after a beep has just made it a box."""
        beep = self.beep
        if self.box is not None or beep is None or run is None:
            return False
        # A beep shorter than the runs' 0.25 s confirmation leaves the run that began
        # before it: quiet since the beep's end is what counts.
        if (
            run.kind != "silence"
            or now - max(run.since, beep.end) < RECORDING_QUIET_S * TELEPHONY_RATE
        ):
            return False
        greeting = _greeting_before(transcript, beep.start)
        self.box = VoicemailBox(beep, greeting, asks_for_message(greeting))
        return True


def _greeting_before(transcript: list[Utterance], beep_start: int) -> str:
    """The utterance that ended last before the beep (the greeting, or its last part)."""
    before = [u for u in transcript if u.end <= beep_start + TELEPHONY_RATE // 2]
    return before[-1].text if before else ""
