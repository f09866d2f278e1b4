"""The verbs of a call script — expect, press, say, wait, hold, human, hang up — on one call.

YAML call scripts and Python tests both drive calls through these methods, so the two can
never behave differently. Each verb pulls the call's audio until its condition is met and
raises StepFailure, with the failure kind the result reports, when it cannot be.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

from shopper.asr.types import Utterance
from shopper.audio.frame import TELEPHONY_RATE, Samples
from shopper.audio.segments import SoundKind
from shopper.engine.confirm import Confirmer
from shopper.engine.failures import KeyIgnored, StepFailure
from shopper.engine.human import HumanEvidence, repeats_announcement, sounds_like_greeting
from shopper.engine.reaction import (
    CUT_QUIET_S,
    FLOOR_MARGIN_DB,
    IGNORED_WHILE_PROMPT,
    KEY_MOMENT_MAX_S,
    KEY_PATIENCE_S,
    LABEL_LAG_S,
    PHRASE_GAP_S,
    PHRASE_START_S,
    REACTION_S,
    RUN_SETTLE_S,
    SENTENCE_GAP_S,
    STRETCH_LOOKBACK_FRAMES,
    Stretch,
    cut_off,
    is_quiet,
    level_db,
    music_or_tone_moment,
    speech_level,
)
from shopper.engine.replay import MIN_SAMPLES as REPLAY_MIN_SAMPLES
from shopper.engine.replay import replayed
from shopper.engine.session import CallSession
from shopper.engine.timeline import (
    ExpectMatched,
    HumanDetected,
    HumanEvidenceWeighed,
    KeyAcknowledged,
)
from shopper.text.letters import heard_words, letter_window, phrase_letters
from shopper.text.match import Match, Matcher, contains
from shopper.tts import synthesize

PROBE_PHRASE = "Hello, can you hear me?"
COURTESY_MESSAGE = "This is an automated test call. Thank you, goodbye."
TURN_GAP_S = 1.0
"""Quiet after the far end's speech before shopper takes its turn (probe, courtesy)."""
PROBE_ANSWER_S = 5.0


def _found_in(
    matcher: Matcher, match: Match, finals: Sequence[Utterance], first_words: dict[Utterance, int]
) -> tuple[Utterance, int] | None:
    """The first utterance whose own words pass the matcher, and the index of its first word
    after the match (None if the words passed only across utterances)."""
    for utterance in finals:
        first = first_words.get(utterance, 0)
        words = heard_words(utterance.text)[first:]
        if not matcher.match(" ".join(word.raw for word in words)).matched:
            continue
        window = letter_window(phrase_letters(match.span or ""), words)
        return None if window is None else (utterance, first + window.end)
    return None


def _said_before_the_end(failure: StepFailure, heard: str, confirmer: Confirmer) -> StepFailure:
    """A call that ends during a listening step fails as it ended (dropped, busy...); a far
    end that hung up after saying something else says what, and how near it came."""
    if failure.kind != "dropped" or not heard:
        return failure
    notes = _audio_notes(confirmer.closest, confirmer.unavailable)
    because = f" ({'; '.join(notes)})" if notes else ""
    message = f"{failure.message} after saying {heard!r}, not the expected prompt{because}"
    return StepFailure("dropped", message)


def _audio_notes(closest: Match | None, unavailable: str | None) -> list[str]:
    """The nearest the audio came to saying the phrase, for a mismatch's message."""
    if closest is not None and closest.margin is not None:
        note = f"audio check {closest.margin:+.1f} nats for {closest.span!r}"
        if closest.contrast is not None:
            note += f", its key or words {closest.contrast:+.1f} nats against the best rival"
        return [note]
    if unavailable is not None:
        return [f"no audio check: {unavailable}"]
    return []


def _at_floor_from(
    floor_from: int | None, quiet_from: int, start: int, frame: Samples, floor: float
) -> int | None:
    """Where the quiet that began at `quiet_from` has been down to the line's floor
    (FLOOR_MARGIN_DB) since, given the quiet frame at `start`; None once it has not been. The
    first quiet frame may still hold the end of the sound, cut off inside it: from the next
    one on, quiet above the floor is a pause inside a recording."""
    if level_db(frame) > floor + FLOOR_MARGIN_DB:
        return None
    if floor_from is None and start - quiet_from <= len(frame):
        return start
    return floor_from


@dataclass(frozen=True, slots=True)
class _Earlier:
    """What a listening step hears from before it began (Caller._earlier)."""

    since: int
    """Utterances recognised after this media time are heard in full."""
    carried: list[Utterance]
    """An utterance heard only from a word on: the last step's, after the words it found."""
    first_words: dict[Utterance, int]
    said: str
    """The carried words, as written."""


@dataclass(frozen=True, slots=True)
class HumanVerdict:
    at: int
    """Media time (samples) at which the person started speaking."""
    confidence: float
    evidence: HumanEvidence
    greeting: str


@dataclass(frozen=True, slots=True)
class _Pressed:
    """Keys `press` sent and how (their acknowledgement limit, tone and gap lengths), so
    `_ignored` can press them again the same way."""

    keys: str
    ack_s: float | None
    tone_s: float
    gap_s: float


class Caller:
    def __init__(self, session: CallSession, voice: str = "en-us") -> None:
        self.session = session
        self.voice = voice
        self.human_verdict: HumanVerdict | None = None
        self.decided: Match | None = None
        """How the last `expect` or `choose` was decided (text, letters or audio)."""
        self._judged: set[int] = set()
        self._rest: tuple[Utterance, int] | None = None
        """The utterance the last listening step found its words in, and the index of the
        first word after them, while no other kind of step has run since: the next step hears
        from there on. One utterance can say what two steps in a row expect ("X is closed.
        Please leave a message."), and the step that found the first words may have decided
        only after the next utterance was recognised too."""
        self._hold_ended_at: int | None = None
        """Where the last hold ended, while no other step has run since: the hold is known
        to have ended only a while after it did, and what the far end said from then on is
        for the next listening step to hear."""

    async def _next(self) -> None:
        """One more frame, or the failure that explains why the call cannot go on.

        Health is checked before pulling, not after: a loop first looks at what the last
        frame brought (the goodbye it was waiting for may be in it) and fails only on its
        next turn, if the call is over."""
        self.session.check_health()
        await self.session.advance()

    # --- listening -------------------------------------------------------------------------

    async def expect(
        self,
        what: str | Matcher,
        within_s: float = 10.0,
        silence_s: float | None = None,
        optional: bool = False,
    ) -> Match | None:
        """Listen until the far end says `what`; a prompt that ends without it is a mismatch."""
        matcher = contains(what) if isinstance(what, str) else what
        found = await self._listen([matcher], within_s, silence_s, optional)
        return None if found is None else found[1]

    async def choose(self, matchers: Sequence[Matcher], within_s: float = 10.0) -> int:
        """Listen until one of several prompts is heard; returns the index of the best one."""
        found = await self._listen(matchers, within_s, None, optional=False)
        assert found is not None  # only optional listening returns nothing
        return found[0]

    async def _listen(
        self,
        matchers: Sequence[Matcher],
        within_s: float,
        silence_s: float | None,
        optional: bool,
    ) -> tuple[int, Match] | None:
        """Turn-taking: stop at a match, at the end of the prompt (trailing quiet), or at the
        step's time limit — all measured in media time from the moment the step began.
        Text decides first; each final utterance it missed then goes to the letters and the
        audio (shopper.engine.confirm). Nothing fails while speech heard before the decision
        is still to be recognised: at the end of the prompt the step waits for it, and at the
        time limit the recogniser is asked for what was said up to then."""
        session = self.session
        confirmer = Confirmer(session, matchers)
        self.decided = None
        quiet_needed = session.samples(silence_s or session.settings.prompt_end_silence_s)
        start = session.now
        earlier = self._earlier(start)
        heard_from = earlier.since
        scored_text = ""
        best: tuple[int, Match] | None = None
        cut = False
        while True:
            heard = " ".join(filter(None, [earlier.said, session.heard_since(heard_from)]))
            if heard != scored_text:  # matching is costly: only when the words changed
                scored = [(index, m.match(heard)) for index, m in enumerate(matchers)]
                best = max(scored, key=lambda item: (item[1].matched, item[1].score))
                scored_text = heard
            finals = earlier.carried + session.finals_since(heard_from)
            if best is None or not best[1].matched:
                best = await confirmer.confirm(finals, earlier.first_words) or best
            if best is not None and best[1].matched:
                self._matched(heard, best[1])
                found_at = confirmer.found_at
                if best[1].method == "text":
                    found_at = _found_in(matchers[best[0]], best[1], finals, earlier.first_words)
                self._rest = found_at
                return best
            timed_out = session.now - start >= session.samples(within_s)
            if timed_out and not cut and session.speech_unfinished:
                await session.cut_speech()  # judge what was said by the limit, now
                cut = True
                continue
            over = timed_out or self._prompt_over(heard_from, bool(finals), quiet_needed)
            if over and not session.decoding:  # in real time, text already heard is due
                if optional:
                    return None
                if heard:
                    notes = [f"best score {best[1].score:.2f}"] if best is not None else []
                    notes += _audio_notes(confirmer.closest, confirmer.unavailable)
                    because = f" ({'; '.join(notes)})" if notes else ""
                    raise StepFailure(
                        "expectation-mismatch", f"heard {heard!r}, not the expected prompt{because}"
                    )
                raise StepFailure("expectation-timeout", f"nothing was said within {within_s:g} s")
            try:
                await self._next()
            except StepFailure as failure:
                raise _said_before_the_end(failure, heard, confirmer) from None

    def _earlier(self, start: int) -> _Earlier:
        """What a listening step starting at `start` hears from before it: from where the
        hold before it ended, or from just after the words the listening step before it
        found (and the rest of their utterance); nothing after any other step."""
        since = min(start, self._hold_ended_at or start)
        rest = self._rest if self._rest is not None and self._rest[0].end <= since else None
        self._hold_ended_at = self._rest = None
        if rest is None:
            return _Earlier(since, [], {}, "")
        utterance, first_word = rest
        said = " ".join(utterance.text.split()[first_word:])
        return _Earlier(utterance.end, [utterance], {utterance: first_word}, said)

    def _prompt_over(self, start: int, heard: bool, quiet_needed: int) -> bool:
        """Whether the far end has finished what it had to say since `start`: it said
        something, all of it is in the transcript (so it has been matched), and it has been
        quiet, or played something else than speech, for `quiet_needed` since."""
        session = self.session
        run = session.runs.run
        if not heard or session.speech_unfinished or run is None or run.kind == "speech":
            return False
        spoke_until = max(run.since, session.speech_end_since(start) or start)
        return session.now - spoke_until >= quiet_needed

    def _matched(self, heard: str, match: Match) -> None:
        self.decided = match
        self.session.timeline.add(
            ExpectMatched(
                self.session.now,
                heard=heard,
                score=round(match.score, 3),
                method=match.method,
                margin=None if match.margin is None else round(match.margin, 2),
            )
        )

    async def wait(self, seconds: float) -> None:
        self._hold_ended_at = self._rest = None
        until = self.session.now + self.session.samples(seconds)
        while self.session.now < until:
            await self._next()

    # --- acting ----------------------------------------------------------------------------

    async def press(
        self,
        keys: str,
        ack_s: float | None = None,
        tone_s: float = 0.1,
        gap_s: float = 0.1,
        after_prompt: bool = False,
        at_once: bool = False,
    ) -> float:
        """Send keys and require the far end to react; returns the reaction time in seconds.

        A reaction is the far end stopping or changing what it plays within REACTION_S of the
        key, or starting to play when it was quiet. A prompt that plays on past that was not
        interrupted: the key was ignored while the prompt played. Keys are sent where the
        reaction can be told from the prompt's own pauses (see _key_moment); with
        `after_prompt`, only once the prompt has ended. `at_once` sends them without waiting
        for such a moment: the crawler times its keys itself (it presses a known route's keys
        as soon as it recognises each menu, and judges ignored keys from the audio)."""
        session = self.session
        session.check_health()
        self._hold_ended_at = self._rest = None
        if not at_once:
            await self._key_moment(after_prompt)
        playing = self._playing()
        sent_at = (await session.send_keys(keys, tone_s, gap_s)).start
        if playing is None:
            limit = session.samples(ack_s if ack_s is not None else session.settings.ack_s)
            reacted = await self._sound_starts(sent_at + session.samples(tone_s), limit)
            if reacted is None:
                raise StepFailure(
                    "dtmf-not-acknowledged",
                    f"pressed {keys!r}; the far end did not react within "
                    f"{limit / TELEPHONY_RATE:g} s",
                )
        else:
            reacted = await self._interrupted(sent_at, playing)
            if reacted is None:
                pressed = _Pressed(keys, ack_s, tone_s, gap_s)
                raise await self._ignored(pressed, sent_at, playing, after_prompt)
        reaction = max(reacted - sent_at, 0) / TELEPHONY_RATE
        session.timeline.add(KeyAcknowledged(session.now, digits=keys, after_s=round(reaction, 3)))
        return reaction

    def _playing(self) -> SoundKind | None:
        """What the far end plays in the latest frame; None when it is quiet."""
        far = self.session.recording.far
        if not far or is_quiet(far[-1]):
            return None
        run = self.session.runs.run
        return run.kind if run is not None and run.kind in ("music", "tone") else "speech"

    async def _key_moment(self, after_prompt: bool) -> None:
        """Wait, if need be, for a moment at which a reaction to a key can be told from the
        prompt's own course: the start of a sentence (a prompt that takes keys stops within
        REACTION_S; one that ignores them plays on), a tone, music that has played for
        MUSIC_SETTLED_S (a shorter run is the label's flicker), or the quiet after the
        prompt (a menu waiting for its key: whatever it plays next answers the key). Not a
        pause nor the end of a sentence: there a prompt that ignores keys falls quiet, or
        starts its next sentence, as if it had reacted. A voice that hardly pauses between
        sentences is given the start of a phrase after KEY_PATIENCE_S. With `after_prompt`,
        only the quiet after the prompt."""
        session = self.session
        prompt_end = session.samples(session.settings.prompt_end_silence_s)
        phrase_start = session.samples(PHRASE_START_S)
        began = session.now
        stretch = Stretch.of(session.recording.far)
        while session.now - began < session.samples(KEY_MOMENT_MAX_S):
            if stretch.quiet and stretch.length >= prompt_end:
                return
            if not after_prompt and not stretch.quiet:
                run = session.runs.run
                if run is not None and music_or_tone_moment(run, session.now):
                    return
                waited = session.now - began
                if waited >= session.samples(2 * KEY_PATIENCE_S):
                    return
                patient = waited < session.samples(KEY_PATIENCE_S)
                gap = session.samples(SENTENCE_GAP_S if patient else PHRASE_GAP_S)
                if stretch.length <= phrase_start and stretch.before >= gap:
                    return
            await self._next()
            stretch.add(session.recording.far[-1])

    async def _sound_starts(self, after: int, limit: int) -> int | None:
        """When the far end, quiet as the keys went out, began to play after the first key's
        tone (no phone system reacts to a key it has not heard); None if not within `limit`
        of the last key."""
        session = self.session
        while session.now - session.near_busy_until < limit:
            await self._next()
            frame = session.recording.far[-1]
            if session.now > after and not is_quiet(frame):
                return session.now - len(frame)
        return None

    async def _interrupted(self, sent_at: int, playing: SoundKind) -> int | None:
        """When the far end, playing `playing` as the keys went out, stopped or changed to
        another kind of sound within REACTION_S of the first key; None if it played on.

        Stopped: quiet for longer than a pause between words; or, quiet for a moment before
        whatever it plays next, either cut off mid-word (reaction.cut_off) or down to the
        line's own floor (FLOOR_MARGIN_DB). Changed: a run of another kind that began by
        REACTION_S, as far as its label's lag (LABEL_LAG_S) can tell."""
        session = self.session
        react_by = sent_at + session.samples(REACTION_S)
        labelled_by = react_by + session.samples(LABEL_LAG_S)
        settled = react_by + session.samples(RUN_SETTLE_S)
        recent = session.recording.far[-STRETCH_LOOKBACK_FRAMES:]
        level, floor = speech_level(recent), min(level_db(frame) for frame in recent)
        quiet_from: int | None = None
        floor_from: int | None = None
        last_sound: Samples | None = None
        while True:
            await self._next()
            frame = session.recording.far[-1]
            start = session.now - len(frame)
            if not is_quiet(frame):
                quiet_from, floor_from, last_sound = None, None, frame
            else:
                quiet_from = start if quiet_from is None else quiet_from
                floor_from = _at_floor_from(floor_from, quiet_from, start, frame, floor)
            if quiet_from is not None and quiet_from <= react_by:
                quiet = session.now - quiet_from
                if quiet >= session.samples(PHRASE_GAP_S):
                    return quiet_from
                deep = floor_from is not None and session.now - floor_from >= session.samples(
                    CUT_QUIET_S
                )
                if deep or (quiet >= session.samples(CUT_QUIET_S) and cut_off(last_sound, level)):
                    return quiet_from
                continue
            run = session.runs.run
            changed = run is not None and run.kind not in (playing, "silence")
            if changed and run is not None and sent_at <= run.since <= labelled_by:
                return run.since
            if session.now >= settled:
                return None

    async def _ignored(
        self, pressed: _Pressed, sent_at: int, playing: SoundKind, after_prompt: bool
    ) -> StepFailure:
        """The failure for keys the far end played on through. A prompt's keys are pressed
        again once it has ended, so the failure says whether the menu takes them then."""
        keys = pressed.keys
        said = f"pressed {keys!r} at {sent_at / TELEPHONY_RATE:.1f} s"
        if playing != "speech":
            return StepFailure("dtmf-not-acknowledged", f"{said}; ignored: the {playing} played on")
        detail = f"{said}; {IGNORED_WHILE_PROMPT} (it went on past {REACTION_S:g} s)"
        if after_prompt:
            return KeyIgnored(detail, None)
        then = await self._prompt_ends()
        if then is not None:
            return KeyIgnored(f"{detail}; not pressed again: the far end went on to {then}", None)
        try:
            reaction = await self.press(
                keys, pressed.ack_s, pressed.tone_s, pressed.gap_s, after_prompt=True
            )
        except StepFailure as again:
            if again.kind != "dtmf-not-acknowledged":
                raise
            return KeyIgnored(
                f"{detail}; pressed again after the prompt, not acknowledged either", False
            )
        return KeyIgnored(
            f"{detail}; pressed again after the prompt, acknowledged after {reaction:.2f} s "
            f'(if the menu is meant to take keys only then: press: {{keys: "{keys}", '
            "after_prompt: true})",
            True,
        )

    async def _prompt_ends(self) -> str | None:
        """Wait for the quiet after the prompt (None), unless music or a tone comes first, or
        the far end talks on for KEY_MOMENT_MAX_S (what it went on to: a key pressed there
        could do something else)."""
        session = self.session
        prompt_end = session.samples(session.settings.prompt_end_silence_s)
        began = session.now
        stretch = Stretch.of(session.recording.far)
        while not (stretch.quiet and stretch.length >= prompt_end):
            run = session.runs.run
            if run is not None and run.kind in ("music", "tone") and run.since > began:
                return f"play {run.kind}"
            if session.now - began >= session.samples(KEY_MOMENT_MAX_S):
                return f"talk for {KEY_MOMENT_MAX_S:g} s"
            await self._next()
            stretch.add(session.recording.far[-1])
        return None

    async def say(self, text: str) -> None:
        """Speak to the far end (TTS, rendered off the event loop) and wait until it has
        been said."""
        self._hold_ended_at = self._rest = None
        speech = await self.session.taking_frames(asyncio.to_thread(synthesize, text, self.voice))
        await self.session.play(speech, text)
        while self.session.now < self.session.near_busy_until:
            await self._next()

    async def hangup(self) -> None:
        await self.session.hangup()

    async def expect_hangup(self, within_s: float = 30.0) -> None:
        """The far end is supposed to end the call (e.g. after 'goodbye')."""
        session = self.session
        start = session.now
        while await session.advance():
            if session.now - start >= session.samples(within_s):
                raise StepFailure(
                    "expectation-timeout", f"the far end did not hang up within {within_s:g} s"
                )
        if session.call.ended_by != "remote":
            session.check_health()

    # --- hold and humans ----------------------------------------------------------------------

    async def hold(self, max_s: float = 600.0, start_within_s: float = 60.0) -> float:
        """Wait through a hold from its music to its end; returns the hold's length in seconds."""
        session = self.session
        self._rest = None
        start = session.now
        holds_before = len(session.hold.periods) - (session.hold.state == "hold")
        while len(session.hold.periods) <= holds_before:
            if session.now - start >= session.samples(start_within_s):
                raise StepFailure(
                    "expectation-timeout", f"no hold music within {start_within_s:g} s"
                )
            await self._next()
        period = session.hold.periods[-1]
        while session.hold.state == "hold":
            if session.now - period.start >= session.samples(max_s):
                raise StepFailure("hold-too-long", f"still on hold after {max_s:g} s")
            await self._next()
        self._hold_ended_at = period.end
        return ((period.end or session.now) - period.start) / TELEPHONY_RATE

    async def human(
        self,
        within_s: float = 600.0,
        probe: bool = True,
        courtesy: bool = True,
        max_hold_s: float | None = None,
    ) -> HumanVerdict:
        """Wait until a person is on the line, judged from evidence; then by default say goodbye."""
        session = self.session
        self._hold_ended_at = self._rest = None
        start = session.now
        while True:
            box = session.voicemail.box
            if box is not None:
                raise session.voicemail_failure(box)
            candidate = self._candidate()
            if candidate is not None:
                verdict = await self._judge(candidate, probe)
                if verdict is not None:
                    self._found(verdict)
                    if courtesy:
                        await self.say(COURTESY_MESSAGE)
                        await self.hangup()
                    return verdict
            if (
                max_hold_s is not None
                and session.hold.state == "hold"
                and session.now - session.hold.periods[-1].start >= session.samples(max_hold_s)
            ):
                raise StepFailure("hold-too-long", f"still on hold after {max_hold_s:g} s")
            if session.now - start >= session.samples(within_s):
                raise StepFailure("no-human", f"no person answered within {within_s:g} s")
            await self._next()

    def _candidate(self) -> list[Utterance] | None:
        """The next unjudged turn of far-end speech off hold, once the far end has paused."""
        session = self.session
        hold = session.hold
        if hold.state == "hold" or session.voicemail.beep is not None:
            return None  # on hold, or a beep that may be a voicemail box's: not a turn yet
        after = hold.periods[-1].end if hold.periods else 0
        announcements = {id(u) for u in hold.announcements}
        turn = [
            u
            for u in session.transcript
            if u.start >= (after or 0)
            and id(u) not in announcements
            and u.start not in self._judged
        ]
        run = session.runs.run
        if not turn or run is None or run.kind == "speech" or session.decoding:
            return None
        if session.now - max(run.since, turn[-1].end) < session.samples(TURN_GAP_S):
            return None
        return turn

    async def _judge(self, turn: list[Utterance], probe: bool) -> HumanVerdict | None:
        session = self.session
        for utterance in turn:
            self._judged.add(utterance.start)
        text = " ".join(u.text for u in turn)
        hold = session.hold
        after_hold = bool(hold.periods) and turn[0].start >= (hold.periods[-1].end or 0)
        announcements = [u.text for u in hold.announcements]
        evidence = HumanEvidence(
            after_hold=after_hold,
            new_speech=bool(text.strip()) and not repeats_announcement(text, announcements),
            greeting=sounds_like_greeting(text),
            responsive=None,
        )
        if not (evidence.after_hold or evidence.greeting):
            return None
        if await self._replays_earlier_speech(turn):
            replay = replace(evidence, new_speech=False)
            session.timeline.add(HumanEvidenceWeighed(turn[0].start, text=text, evidence=replay))
            return None
        if probe:
            evidence = HumanEvidence(
                evidence.after_hold,
                evidence.new_speech,
                evidence.greeting,
                responsive=await self._probe(),
            )
        session.timeline.add(HumanEvidenceWeighed(turn[0].start, text=text, evidence=evidence))
        if not evidence.is_human:
            return None
        return HumanVerdict(turn[0].start, evidence.confidence, evidence, text)

    async def _replays_earlier_speech(self, turn: list[Utterance]) -> bool:
        """Whether the turn is a recording the call already played (shopper.engine.replay):
        never a person, whatever the probe makes of its timing (a replayed callback offer
        that began as the probe ended was taken for an answer)."""
        session = self.session
        judged = [u for u in turn if u.end - u.start >= REPLAY_MIN_SAMPLES]
        earlier = [
            u
            for u in session.transcript
            if u.end <= turn[0].start and u.end - u.start >= REPLAY_MIN_SAMPLES
        ]
        if not judged or not earlier:
            return False
        audio = session.recording.far_between
        stretches = [audio(u.start, u.end) for u in judged]
        before = [audio(u.start, u.end) for u in earlier]
        return await session.taking_frames(asyncio.to_thread(replayed, stretches, before))

    async def _probe(self) -> bool:
        """Say a short phrase and listen: a person waits for it to end and then answers; a
        recording talks over it or carries on at a moment of its own choosing."""
        session = self.session
        began = session.now
        await self.say(PROBE_PHRASE)
        asked_at = session.now
        if any(s.kind == "speech" and s.end > began for s in session.segments) or (
            session.runs.run is not None
            and session.runs.run.kind == "speech"
            and session.runs.run.since < asked_at
        ):
            return False
        deadline = asked_at + session.samples(PROBE_ANSWER_S)
        while session.now < deadline:
            run = session.runs.run
            if run is not None and run.kind == "speech" and run.since >= asked_at:
                return True
            await self._next()
        return False

    def _found(self, verdict: HumanVerdict) -> None:
        self.human_verdict = verdict
        self.session.timeline.add(
            HumanDetected(
                verdict.at,
                confidence=round(verdict.confidence, 3),
                text=verdict.greeting,
            )
        )
