"""What the far end's audio says about a key press: quiet or sound, frame by frame, and the
marks of a prompt cut off. The timing rules of acknowledgement (docs/scripts.md, "What
counts as acknowledged") live here; Caller.press applies them as the call's frames arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shopper.audio import classifier
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.engine.runs import RUN_CONFIRM_S, Run

QUIET_FRAME_RMS = 180.0
"""About -45 dBFS: a 20 ms frame this quiet is a gap in what the far end plays."""
REACTION_S = 0.4
"""How soon after a key starts the far end is heard to react when it takes the key. Phone
systems stop a prompt once their DTMF receiver has the digit (40 ms of tone, or its end) and
a packet or two later (the sandbox: 0.14-0.22 s after the key began); the rest is the line's
round trip, which a carrier with a long one adds. A phrase that goes on longer was not
interrupted."""
PHRASE_GAP_S = 0.15
"""Quiet this long is a pause between words or sentences (or a prompt stopped), not the
closure of a stop consonant inside a word (under 0.1 s)."""
CUT_QUIET_S = 0.04
"""Quiet after a cut-off prompt before the next one may begin (two frames)."""
CUT_LEVEL_DB = -9.0
"""A frame of speech this close to the prompt's median level, followed by quiet, is speech
cut off: words fade out before a pause. Measured on 300 Asterisk prompts: the last frame
before a pause was above it at 2.5 % of pauses; a frame picked at random, at 74 %."""
FLOOR_MARGIN_DB = 6.0
"""Quiet within this much of the quietest frame of the call lately is the line's own floor:
nothing is playing. Inside a recording, pauses keep some of its sound (room tone, breath,
a fading word); a prompt cut off drops to the line at once."""
KEY_PATIENCE_S = 2.0
"""How long a key waits for the start of a sentence before it takes the start of a phrase
(recorded voices often pause less than SENTENCE_GAP_S between sentences); after twice as
long it is sent whatever is playing."""
SENTENCE_GAP_S = 0.3
"""Quiet this long before speech is a pause between sentences or clauses (flite's voices
pause 0.38 s between sentences), not between two words of one phrase."""
PHRASE_START_S = 0.1
"""A key sent this soon after a sentence began comes early in it: sentences last longer than
PHRASE_START_S + REACTION_S (half a second), so one that stops that soon was interrupted."""
LABEL_LAG_S = classifier.LABEL_LAG_S
"""How long after a change of the kind of sound (music to speech) the run may begin: the
sound's label lags the sound by up to this much (shopper.audio.classifier). Music a callback
key stopped, followed at once by "You're all set…" (espeak-ng), was labelled speech 0.22 s
after the change, 40 ms past REACTION_S from the key, and the key was judged ignored."""
RUN_SETTLE_S = LABEL_LAG_S + RUN_CONFIRM_S
"""How long after REACTION_S a change of the kind of sound may still be confirmed: the
label's lag, then the run's confirmation (shopper.engine.runs)."""
MUSIC_SETTLED_S = classifier.SWITCH_S
"""How long music must have played before a key may go out over it as over music (a moment
for a key, see Caller._key_moment): as long as the smoothed classifier takes to call it
music. A shorter run inside a prompt is the label's flicker: flite kal's "Press three for
outside assistance" was music for 0.3 s, a key went out there, and the prompt's stop went
unseen as the music "played on"."""
KEY_MOMENT_MAX_S = 30.0
"""Longest a key waits for a moment to be sent (see Caller._key_moment)."""
IGNORED_WHILE_PROMPT = "ignored while the prompt played"
STRETCH_LOOKBACK_FRAMES = 500
"""Frames (10 s) looked back at to know how long the far end has been quiet: more than the
longest quiet that ends a prompt."""


def is_quiet(frame: Samples) -> bool:
    if not len(frame):
        return True
    return float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) < QUIET_FRAME_RMS


@dataclass(slots=True)
class Stretch:
    """The far end's latest stretch of quiet or of sound, and the length of the one before it
    (samples), kept up to date frame by frame."""

    quiet: bool
    length: int
    before: int

    @classmethod
    def of(cls, frames: Sequence[Samples]) -> Stretch:
        """The stretches at the end of the audio heard so far (its last seconds are enough)."""
        stretch = cls(quiet=True, length=0, before=0)
        for frame in frames[-STRETCH_LOOKBACK_FRAMES:]:
            stretch.add(frame)
        return stretch

    def add(self, frame: Samples) -> None:
        quiet = is_quiet(frame)
        if quiet == self.quiet:
            self.length += len(frame)
        else:
            self.quiet, self.before, self.length = quiet, self.length, len(frame)


def level_db(frame: Samples) -> float:
    rms = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) if len(frame) else 0.0
    return 20.0 * float(np.log10(max(rms, 1.0)))


def speech_level(frames: Sequence[Samples]) -> float | None:
    """The median level (dB) of the sounding frames among `frames`, None if none sound."""
    levels = [level_db(frame) for frame in frames if not is_quiet(frame)]
    return float(np.median(levels)) if levels else None


def cut_off(last_sound: Samples | None, level: float | None) -> bool:
    """Whether sound that ended in `last_sound` was cut off rather than faded out."""
    if last_sound is None or level is None:
        return False
    return level_db(last_sound) >= level + CUT_LEVEL_DB


def music_or_tone_moment(run: Run, now: int) -> bool:
    """Whether the far end plays a tone, or music for MUSIC_SETTLED_S, at media time `now`:
    a moment for a key, whose reaction is a change of that sound."""
    if run.kind == "tone":
        return True
    return run.kind == "music" and now - run.since >= round(MUSIC_SETTLED_S * TELEPHONY_RATE)
