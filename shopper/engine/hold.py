"""Telling hold from the IVR: music periods, the announcements between them, callback offers.

A caller is on hold from the moment music has played for a little while until someone (or
something) speaks and the music does not come back. An announcement that the caller is
being queued, transferred or connected ("please hold for the next available agent") tells
the caller to wait before any music is heard: from its end the caller waits as on hold (the
hold's dead-air allowance applies), and when music follows without other speech between,
the hold is counted from the end of that announcement, since music-on-hold may start
inside a fade or a pause between tracks, too quiet to be heard as music at first.

Speech on hold that comes back to music, repeats an earlier announcement or that the
phrasebook (shopper.text.phrasebook) takes for a hold announcement or a callback offer
("please stay on the line") is an announcement; announcements are kept, because a person
who says exactly what the recording said is not a person. The hold ends where its last
music or announcement ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shopper.asr.types import Utterance
from shopper.audio.frame import TELEPHONY_RATE
from shopper.audio.segments import Segment
from shopper.engine.human import repeats_announcement
from shopper.engine.runs import Run
from shopper.text.phrasebook import PromptKind, kinds


def announces_hold(text: str) -> bool:
    """Whether an utterance tells the caller to wait: queued, transferred, connected.

    The one place the engine decides this from words: the phrasebook's judgement of hold
    and transfer announcements (shopper.text.phrasebook), not a list of phrases."""
    found = kinds(text)
    return PromptKind.HOLD in found or PromptKind.TRANSFER in found


@dataclass(slots=True)
class HoldPeriod:
    start: int
    end: int | None = None


@dataclass(slots=True)
class HoldTracker:
    music_to_hold_s: float = 2.0
    """Music must last this long before the caller counts as on hold."""
    resume_s: float = 1.5
    """After new speech on hold, this much time without music ends the hold, and this much
    music makes that speech an announcement."""
    state: Literal["ivr", "hold"] = "ivr"
    periods: list[HoldPeriod] = field(default_factory=list)
    announcements: list[Utterance] = field(default_factory=list)
    callback_offers: list[Utterance] = field(default_factory=list)
    pending: list[Utterance] = field(default_factory=list)
    """Speech heard on hold that may be the end of the hold (a person, a message)."""
    announced_at: int | None = None
    """End of an announcement that told the caller to wait, while no hold has started and
    nothing else has been said since (None otherwise)."""
    _hold_sound_until: int = 0
    """End of the latest music or announcement of the current hold."""

    @property
    def waiting(self) -> bool:
        """On hold, or told to wait for it: silence is then a pause in the hold."""
        return self.state == "hold" or self.announced_at is not None

    def observe_run(self, run: Run, now: int) -> str | None:
        """Called every frame with the confirmed sound run; returns 'hold-start'/'hold-end'."""
        if run.kind == "music":
            if self.pending and now - run.since >= self.resume_s * TELEPHONY_RATE:
                self.announcements += self.pending
                self.pending = []
            if self.state == "ivr" and now - run.since >= self.music_to_hold_s * TELEPHONY_RATE:
                self._start_hold(run.since)
                return "hold-start"
            return None
        if self.state == "hold" and self.pending and run.since > self.pending[-1].start:
            quiet_for = now - max(run.since, self.pending[-1].end)
            if run.kind != "speech" and quiet_for >= self.resume_s * TELEPHONY_RATE:
                self.end_hold(min(self._hold_sound_until, self.pending[0].start))
                return "hold-end"
        return None

    def observe_segment(self, segment: Segment) -> str | None:
        """Closed classifier segments place the end of the music precisely; a music segment
        can also start a hold (`observe_music`)."""
        change = self.observe_music(segment)
        if segment.kind == "music" and self.state == "hold":
            self._hold_sound_until = max(self._hold_sound_until, segment.end)
        return change

    def observe_music(self, segment: Segment) -> str | None:
        """A music segment, closed or still open (its end then only as far as labelled),
        starts a hold when it has lasted long enough: music too faint for the frame-by-frame
        runs (a fade-out below the silence level, which the classifier still hears as music
        over the line's noise) is a hold too. Returns 'hold-start' then."""
        if segment.kind != "music" or self.state == "hold":
            return None
        after_last_hold = not self.periods or segment.start >= (self.periods[-1].end or 0)
        long_enough = segment.end - segment.start >= self.music_to_hold_s * TELEPHONY_RATE
        if not (after_last_hold and long_enough):
            return None
        self._start_hold(segment.start)
        return "hold-start"

    def _start_hold(self, music_start: int) -> None:
        """On hold from the music's start, or from the announcement that asked to hold."""
        self.state = "hold"
        start = music_start if self.announced_at is None else min(self.announced_at, music_start)
        self.periods.append(HoldPeriod(start))
        self._hold_sound_until = start
        self.announced_at = None

    def observe_utterance(self, utterance: Utterance) -> bool:
        """Called with each final utterance; returns True when it offers a callback."""
        if self.state != "hold":
            self.announced_at = utterance.end if announces_hold(utterance.text) else None
            return False
        said = kinds(utterance.text)
        offers_callback = PromptKind.CALLBACK_OFFER in said
        if offers_callback:
            self.callback_offers.append(utterance)
        if not self.pending and (
            ((offers_callback or PromptKind.HOLD in said) and PromptKind.PERSON not in said)
            or repeats_announcement(utterance.text, [u.text for u in self.announcements])
        ):
            self.announcements.append(utterance)
            self._hold_sound_until = max(self._hold_sound_until, utterance.end)
        else:
            self.pending.append(utterance)
        return offers_callback

    def finish(self, now: int) -> None:
        """The call ended: a hold still running ends with its last music or announcement if
        something else was said after it (a goodbye), else now (a drop in the music)."""
        if self.state == "hold":
            self.end_hold(
                min(self._hold_sound_until, self.pending[0].start) if self.pending else now
            )

    def end_hold(self, at: int) -> None:
        if self.state == "hold":
            self.periods[-1].end = max(at, self.periods[-1].start)
            self.state = "ivr"

    def held_samples(self, now: int) -> int:
        return sum((p.end if p.end is not None else now) - p.start for p in self.periods)
