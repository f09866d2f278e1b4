"""Telling hold from the IVR: music periods, the announcements between them, callback offers.

A hold is the time the caller waits for a person with the line kept open for them: music,
announcements about the wait, and the pauses between them (docs/results.md, "What a hold
is"). It starts where music that lasted a little while began, or at the end of an
announcement that the caller is being queued, transferred or connected ("please hold for
the next available agent") when music follows it with nothing but quiet between: the
caller waits from the end of those words, and music-on-hold may start inside a fade or a
pause between tracks, too quiet to be heard as music at first (the hold's dead-air
allowance applies from there).

Speech on hold that comes back to music (even for a moment before the caller's key cuts
it: `RESUMED_MUSIC_S`), repeats an earlier announcement or that the
phrasebook (shopper.text.phrasebook) takes for a hold announcement or a callback offer
("please stay on the line") is an announcement, also when a pause splits it into two
utterances; announcements are kept, because a person who says exactly what the recording
said is not a person. Speech that ends the wait — a person, a voicemail greeting, a closed
message — is never one, whatever hold words it also says ("all of our nurses are busy,
leave a message").

The hold ends where the wait ends:
- at speech that is no announcement: where the hold's last music or announcement ended when
  the speech follows within `resume_s` (a pick-up), else where the speech began — a longer
  quiet is a pause in the hold the caller still waited through (a track fading out below
  the line's noise, which no classifier can hear);
- when the line stays silent for the hold's dead-air allowance: where the hold's sound
  ended (the silence is dead air after the hold, reported on its own);
- when the far end hangs up: there, unless it said something after the last music — a
  "please call again later" — then where that began, as speech the hold did not go on after
  is no part of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shopper.asr.types import Utterance
from shopper.audio.frame import TELEPHONY_RATE
from shopper.audio.segments import Segment
from shopper.engine.human import repeats_announcement
from shopper.engine.runs import Run
from shopper.engine.timeline import HoldEnded, HoldStarted
from shopper.text.phrasebook import PromptKind, kinds

RESUMED_MUSIC_S = 0.5
"""Music after speech on hold shorter than this is not taken as the music coming back: the
evidence the sound classifier itself needs to switch from speech to music (half a second,
shopper.audio.classifier), so a stray music label in a person's pause does not count."""

ENDS_THE_WAIT = frozenset({PromptKind.PERSON, PromptKind.VOICEMAIL, PromptKind.CLOSED})
"""Kinds of speech after which nobody is still waiting on hold, whatever else they say."""


def announces_hold(text: str) -> bool:
    """Whether an utterance tells the caller to wait: queued, transferred, connected.

    The one place the engine decides this from words: the phrasebook's judgement of hold
    and transfer announcements (shopper.text.phrasebook), not a list of phrases."""
    found = kinds(text)
    return PromptKind.HOLD in found or PromptKind.TRANSFER in found


def speaks_on_hold(said: frozenset[PromptKind]) -> bool:
    """Whether speech of these kinds is the queue talking to a caller who goes on waiting:
    a hold announcement or a callback offer that is not also a person, a voicemail greeting
    or a closed message."""
    about_the_wait = PromptKind.CALLBACK_OFFER in said or PromptKind.HOLD in said
    return about_the_wait and not said & ENDS_THE_WAIT


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
    _music_until: int = 0
    """End of the latest music of the current hold."""
    _music_heard: list[Segment] = field(default_factory=list)
    """The current hold's latest closed music segments of at least `RESUMED_MUSIC_S` (the one
    after a speech whose text comes in late is among them)."""
    _ended_by: list[Utterance] = field(default_factory=list)
    """The speech that ended the last hold, until the next hold starts."""
    _ended_by_decided_at: int = -1
    """When the last hold was judged ended by that speech (after its quiet)."""

    @property
    def waiting(self) -> bool:
        """On hold, or told to wait for it: silence is then a pause in the hold."""
        return self.state == "hold" or self.announced_at is not None

    def observe_run(
        self, run: Run, now: int, speaking: bool = False
    ) -> HoldStarted | HoldEnded | None:
        """Called every frame with the confirmed sound run; returns the hold's change, if any.
        `speaking`: the classifier hears speech going on now. The runs confirm a kind once
        it has lasted a quarter second without a break, which the first words of a sentence
        with short gaps between them may not do for a second or more, so the quiet after the
        pending speech is not taken as over while more speech is under way (flite slt's
        "Rather not wait?" ended a hold 1.6 s later while "Select option one, and we will
        call you back" was being read, before the music came back)."""
        if run.kind == "music":
            if self.pending and now - run.since >= self.resume_s * TELEPHONY_RATE:
                self.announcements += self.pending
                self.pending = []
            if self.state == "ivr" and now - run.since >= self.music_to_hold_s * TELEPHONY_RATE:
                return self._start_hold(run.since)
            return None
        if self.state == "hold" and self.pending and run.since > self.pending[-1].start:
            quiet_for = now - max(run.since, self.pending[-1].end)
            quiet = run.kind != "speech" and not speaking
            if quiet and quiet_for >= self.resume_s * TELEPHONY_RATE:
                self.end_hold(self._end_before(self.pending[0]))
                self._ended_by_decided_at = now
                return HoldEnded(self.periods[-1].end or now)
        return None

    def _end_before(self, speech: Utterance) -> int:
        """Where a hold that `speech` ended, ended: with the hold's last sound when the speech
        followed it within `resume_s` (a pick-up), else where the speech began (the quiet
        before it was a pause the caller waited through)."""
        if speech.start - self._hold_sound_until > self.resume_s * TELEPHONY_RATE:
            return speech.start
        return min(self._hold_sound_until, speech.start)

    def observe_segment(self, segment: Segment) -> HoldStarted | None:
        """Closed classifier segments place the end of the music precisely; a music segment
        can also start a hold (`observe_music`)."""
        change = self.observe_music(segment)
        if segment.kind == "tone" and segment.start >= (self.announced_at or segment.end):
            self.announced_at = None  # a ringback or a chirp after "please hold": not hold yet
        if segment.kind == "music" and self.state == "hold":
            if segment.end - segment.start >= RESUMED_MUSIC_S * TELEPHONY_RATE:
                self._music_heard = [*self._music_heard[-3:], segment]
            if self.pending and self._music_back_after(self.pending[-1]):
                self.announcements += self.pending
                self.pending = []
            self._hold_sound_until = max(self._hold_sound_until, segment.end)
            self._music_until = max(self._music_until, segment.end)
        return change

    def _music_back_after(self, speech: Utterance) -> bool:
        """Whether the hold music came back right after `speech`: then it was the queue
        talking (an announcement, an offer the words did not reveal) — a person who answers
        does not hand the line back to the music. The classifier's closed segments say it:
        music again within `resume_s` of the speech's end, for at least `RESUMED_MUSIC_S`,
        even when something cut it shorter than `resume_s` (the caller took the offer by
        its key a moment into the music). Asked when the music's segment closes and when
        the speech's text comes in, whichever is later."""
        return any(
            music.start >= speech.start
            and music.start - speech.end <= self.resume_s * TELEPHONY_RATE
            for music in self._music_heard
        )

    def observe_music(self, segment: Segment) -> HoldStarted | None:
        """A music segment, closed or still open (its end then only as far as labelled),
        starts a hold when it has lasted long enough: music too faint for the frame-by-frame
        runs (a fade-out below the silence level, which the classifier still hears as music
        over the line's noise) is a hold too. Returns the hold's start then."""
        if segment.kind != "music" or self.state == "hold":
            return None
        after_last_hold = not self.periods or segment.start >= (self.periods[-1].end or 0)
        long_enough = segment.end - segment.start >= self.music_to_hold_s * TELEPHONY_RATE
        if not (after_last_hold and long_enough):
            return None
        return self._start_hold(segment.start)

    def _start_hold(self, music_start: int) -> HoldStarted:
        """On hold from the music's start, or from the announcement that asked to hold."""
        self.state = "hold"
        start = music_start if self.announced_at is None else min(self.announced_at, music_start)
        ended_by, self._ended_by = self._ended_by, []
        if ended_by and music_start <= self._ended_by_decided_at:
            # The music was back before the hold was judged over (the frame runs heard its
            # first seconds as quiet): the speech that seemed to end it was an announcement.
            self.announcements += ended_by
            start = min(start, ended_by[0].start)
        self.periods.append(HoldPeriod(start))
        self._hold_sound_until = self._music_until = start
        self._music_heard = []
        self.announced_at = None
        return HoldStarted(start)

    def observe_utterance(self, utterance: Utterance) -> bool:
        """Called with each final utterance; returns True when it offers a callback."""
        if self.state != "hold":
            self.announced_at = utterance.end if announces_hold(utterance.text) else None
            return False
        heard = [*self.pending, utterance]
        said = kinds(" ".join(u.text for u in heard))
        continued = self._continued(utterance)
        offers_callback = self._new_offer(said, continued, utterance)
        if offers_callback:
            self.callback_offers.append(utterance)
        if (
            continued is not None
            or speaks_on_hold(said)
            or self._music_back_after(utterance)
            or (
                not self.pending
                and repeats_announcement(utterance.text, [u.text for u in self.announcements])
            )
        ):
            self.announcements += heard
            self.pending = []
            self._hold_sound_until = max(self._hold_sound_until, utterance.end)
        else:
            self.pending.append(utterance)
        return offers_callback

    def _new_offer(
        self, said: frozenset[PromptKind], continued: Utterance | None, utterance: Utterance
    ) -> bool:
        """Whether `utterance` makes a callback offer not counted yet: with the speech pending
        before it (`said`), or with the announcement it finishes (`continued`), unless that
        one was counted as the offer already."""
        if continued is None:
            return PromptKind.CALLBACK_OFFER in said and not said & ENDS_THE_WAIT
        counted = bool(self.callback_offers) and self.callback_offers[-1] is continued
        joined = kinds(f"{continued.text} {utterance.text}")
        return PromptKind.CALLBACK_OFFER in joined and not counted

    def _continued(self, utterance: Utterance) -> Utterance | None:
        """The announcement `utterance` finishes, if a pause split one: nothing is pending,
        it follows the last announcement within `resume_s`, and the two read together still
        speak of the wait and of nothing that ends it ("we can phone you back as soon as a
        specialist is free" — "press 1 to choose that option")."""
        if self.pending or not self.announcements:
            return None
        before = self.announcements[-1]
        if utterance.start - before.end > self.resume_s * TELEPHONY_RATE:
            return None
        return before if speaks_on_hold(kinds(f"{before.text} {utterance.text}")) else None

    def finish(self, now: int, far_end_hung_up: bool) -> None:
        """The call ended: a hold still running ends before what was said after it that is no
        announcement (a goodbye); when the far end hung up, before any speech after the
        hold's last music, since the hold did not go on after it ("all agents are busy,
        please call again later"); else now (a drop in the music, the caller hanging up)."""
        if self.state != "hold":
            return
        if self.pending:
            self.end_hold(self._end_before(self.pending[0]))
        else:
            self.end_hold(self._before_words_after_music(now) if far_end_hung_up else now)

    def end_in_dead_air(self) -> int:
        """The line stayed silent for the hold's dead-air allowance: the hold ended where its
        last music or announcement did, and the silence is dead air after it. Returns that
        end."""
        self.end_hold(self._hold_sound_until)
        return self.periods[-1].end or self._hold_sound_until

    def end_at_voicemail(self) -> int:
        """A voicemail box is recording: the wait ended before its greeting — the speech
        after the hold's last music, even if it also spoke of the wait — or, with no such
        speech, where the hold's sound ended. Returns that end."""
        if self.pending:
            self.end_hold(self._end_before(self.pending[0]))
        else:
            self.end_hold(self._before_words_after_music(self._hold_sound_until))
        return self.periods[-1].end or self._hold_sound_until

    def _before_words_after_music(self, otherwise: int) -> int:
        """The start of the announcements heard after the hold's last music, if any."""
        after_music = [u for u in self.announcements if u.start >= self._music_until]
        return after_music[0].start if after_music else otherwise

    def end_hold(self, at: int) -> None:
        if self.state == "hold":
            self.periods[-1].end = max(at, self.periods[-1].start)
            self.state = "ivr"
            self._ended_by, self.pending = self.pending, []
            self._ended_by_decided_at = -1

    def held_samples(self, now: int) -> int:
        return sum((p.end if p.end is not None else now) - p.start for p in self.periods)
