"""One call, heard frame by frame: the timeline, the transcript, hold and dead-air tracking.

The session pulls the call's frames itself, one at a time, only when a step asks for more
audio. With the simulated phone system on a virtual clock this makes a call deterministic
and as fast as the CPU allows — the far end cannot run ahead while shopper is thinking, and
the session waits for each utterance's text at the frame that ended it. With a carrier in
real time the frames queue in the carrier while a step runs, and the session never waits for
speech to be decoded: the text arrives frames later, stamped with its media time, and the
steps that need it wait for it (`decoding`) while frames keep being taken and recorded, and
silence counts only from when the text of what came before it was in (`silent_for_s`), so a
slow recogniser delays decisions in media time rather than turning a wait into dead air. A
step that awaits other work off the loop (a score of candidate texts, a voice being
rendered) goes on taking frames meanwhile (`taking_frames`).
Hearing a frame costs the event loop about 0.3 ms of CPU on average: 0.03 ms for most
frames, 2-3 ms for each fifth, which completes an ear block (docs/benchmarks.md);
`shopper bench realtime` measures the lag of many calls at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from shopper.asr.types import Fit, SpeechEngine, Utterance
from shopper.audio.callprogress import ToneEvent
from shopper.audio.frame import TELEPHONY_RATE, AudioFrame, Samples
from shopper.audio.segments import Segment
from shopper.carriers import signals
from shopper.carriers.base import Call, DuplexFrame, Sent
from shopper.engine.ear import Ear, Heard
from shopper.engine.failures import NOT_PLACED, StepFailure
from shopper.engine.hold import HoldTracker
from shopper.engine.recording import Recording
from shopper.engine.runs import Run, RunTracker
from shopper.engine.timeline import (
    Answered,
    CallbackOffered,
    DeadAir,
    Dialing,
    EarlyMedia,
    Ended,
    FarEndDigit,
    FarEndHold,
    FarEndResume,
    HoldEnded,
    KeySent,
    Ringing,
    Said,
    SoundRun,
    Timeline,
    ToneHeard,
    UtteranceHeard,
    VoicemailReached,
)
from shopper.engine.voicemail import VoicemailBox, VoicemailDetector

T = TypeVar("T")

TONE_FAILURES = {"busy": "busy", "reorder": "busy"}


@dataclass(frozen=True, slots=True)
class ListenSettings:
    """How shopper listens; every limit is media time. Call scripts can override each one."""

    prompt_end_silence_s: float = 1.8
    """Quiet after speech that ends a prompt (IVRs pause up to ~1.5 s inside one)."""
    dead_air_s: float = 12.0
    """Far-end silence this long, while shopper is not speaking, fails the call."""
    hold_dead_air_s: float = 30.0
    """The same on hold, where music-on-hold goes quiet between tracks and fades out at the
    end of one (Asterisk's "cold day" fades for 16 s): a caller on hold waits longer, and so
    does a caller who has just been told to hold."""
    ack_s: float = 4.0
    """After a key press the far end must change what it plays within this long."""
    music_to_hold_s: float = 2.0
    dead_air_report_s: float = 5.0
    """Silences at least this long count towards the dead_air_s metric."""


class CallSession:
    def __init__(
        self,
        call: Call,
        engine: SpeechEngine,
        settings: ListenSettings | None = None,
        phrases: Sequence[str] | None = None,
        recording: Recording | None = None,
    ) -> None:
        """`recording`: where the call's audio is streamed as it is heard (by default an
        anonymous temporary file; shopper.engine.recording)."""
        self.call = call
        self.engine_name = engine.name
        self.settings = settings or ListenSettings()
        self.timeline = Timeline()
        self.recording = recording or Recording(None)
        self.transcript: list[Utterance] = []
        self.partial: Utterance | None = None
        self.segments: list[Segment] = []
        self.tones: list[ToneEvent] = []
        self.runs = RunTracker()
        self.hold = HoldTracker(music_to_hold_s=self.settings.music_to_hold_s)
        self.voicemail = VoicemailDetector()
        self.now = 0
        self.ended = False
        self.answered_at: int | None = None
        self.near_busy_until = 0
        """Media time until which shopper's own queued audio is playing."""
        self.media_stopped_at: int | None = None
        """Since when the far end's media stream has stopped (no RTP), as its carrier said."""
        self.on_frame: Callable[[AudioFrame], None] | None = None
        """Told of each far-end frame once it has been analysed (benchmarks time the lag)."""
        self._ear = Ear(engine, phrases)
        self._frames: AsyncIterator[DuplexFrame] = call.frames().__aiter__()
        self._silence_since: int | None = None
        self._text_due_at: int | None = None
        """The start of the latest frame that came while the recogniser had not yet given
        all it found in the audio before it (real time only): silence before the tester
        knows what was said is not silence it could have answered."""
        self._dead_air_reported = False
        self._dead_air_limit_s = self.settings.dead_air_s
        """The limit the reported silence reached (the hold's allowance on hold)."""
        self._dead_air_after_hold = False
        """The reported silence began when a hold's music or announcements stopped."""
        self.timeline.add(Dialing(0, carrier=call.carrier, call_id=call.call_id))

    # --- pulling audio ------------------------------------------------------------------

    async def advance(self) -> bool:
        """Hear the next frame; False once the call has ended (either side)."""
        if self.ended:
            return False
        try:
            frame = await anext(self._frames)
        except StopAsyncIteration:
            await self._end()
            return False
        await self._observe(frame)
        if self.on_frame is not None:
            self.on_frame(frame.far)
        return True

    async def _observe(self, frame: DuplexFrame) -> None:
        far = frame.far
        if self._ear.decoding:  # never on a virtual clock, which settled the last frame
            self._text_due_at = far.start
        self.now = far.end
        self.recording.add(far.samples, frame.near)
        for signal in frame.signals:
            self._signalled(signal)
        heard = self._ear.hear(far)
        if self._ear.decoding and self.call.virtual_clock:
            heard.utterances += await self._ear.settle()
        self._take(heard)
        self.runs.update(self._ear.current, far.start)
        run = self.runs.run
        if run is not None and self.answered_at is not None:
            # Nothing before the answer (ringback, early media) can be hold.
            run = Run(run.kind, max(run.since, self.answered_at))
            speaking = self._ear.speech_since is not None
            change = self.hold.observe_run(run, self.now, speaking=speaking)
            if change is not None:
                self.timeline.add(change)
        if self.voicemail.observe_quiet(self.runs.run, self.now, self.transcript):
            box = self.voicemail.box
            assert box is not None
            self.timeline.add(VoicemailReached(box.beep.start, box))
            if self.hold.state == "hold":
                self.timeline.add(HoldEnded(self.hold.end_at_voicemail()))
        self._track_dead_air(bool(np.any(frame.near)))

    def _signalled(self, signal: signals.Signal) -> None:
        """Put what the carrier signalled on the timeline; the answer starts what can be hold
        and dead air."""
        match signal:
            case signals.Answered(t=t) if self.answered_at is None:
                self.answered_at = t
                self.timeline.add(Answered(t))
            case signals.Ringing(t=t):
                self.timeline.add(Ringing(t))
            case signals.EarlyMedia(t=t):
                self.timeline.add(EarlyMedia(t))
            case signals.FarEndDigit(t=t, digit=digit, duration=duration):
                self.timeline.add(
                    FarEndDigit(t, digit=digit, duration_s=round(duration / TELEPHONY_RATE, 3))
                )
            case signals.FarEndHold(t=t):
                self.timeline.add(FarEndHold(t))
            case signals.FarEndResume(t=t):
                self.timeline.add(FarEndResume(t))
            case signals.MediaStopped(t=t):
                self.media_stopped_at = t
            case signals.MediaResumed():
                self.media_stopped_at = None

    def _take(self, heard: Heard) -> None:
        for segment in heard.segments:
            self.segments.append(segment)
            self._observe_music(segment, closed=True)
            self.voicemail.observe_segment(segment, self.recording.far_between)
            self.timeline.add(
                SoundRun(segment.start, kind=segment.kind, end_s=round(segment.end_s, 3))
            )
        if heard.ongoing is not None:
            self._observe_music(heard.ongoing, closed=False)
        for tone in heard.tones:
            self.tones.append(tone)
            self.timeline.add(ToneHeard(tone.start, kind=tone.kind, end_s=round(tone.end_s, 3)))
        for utterance in heard.utterances:
            if not utterance.final:
                self.partial = utterance
                continue
            self.partial = None
            if not utterance.text:
                continue
            self.transcript.append(utterance)
            self.timeline.add(
                UtteranceHeard(
                    utterance.start,
                    end_s=round(utterance.end_s, 3),
                    text=utterance.text,
                    confidence=round(utterance.confidence, 3),
                )
            )
            if self.hold.observe_utterance(utterance):
                self.timeline.add(CallbackOffered(utterance.start, text=utterance.text))

    def _observe_music(self, segment: Segment, closed: bool) -> None:
        """Segments tell the hold what the frame-by-frame runs miss: music too faint for them
        (closed or still open), and where the music really ended (closed only: an open
        segment runs on through the second of quiet that may end it)."""
        if self.answered_at is None or segment.start < self.answered_at:
            return
        if not closed and segment.kind == "music" and self._speech_after(segment.start):
            return
        observe = self.hold.observe_segment if closed else self.hold.observe_music
        started = observe(segment)
        if started is not None:
            self.timeline.add(started)

    def _speech_after(self, start: int) -> bool:
        """Whether the frames heard since `start` say speech now (this frame's label, or the
        confirmed run). An open music segment then only lasts because the smoother has not
        yet ruled on the sound after it: flite slt's "Returning you to the main menu" had its
        last words labelled music for 0.5 s, the segment stayed open through the quiet and
        the next prompt's first second, and a hold began on 0.5 s of music. Once closed, the
        segment says how long the music really played."""
        run = self.runs.run
        speech_run = run is not None and run.kind == "speech" and run.since > start
        return speech_run or self._ear.current == "speech"

    def _track_dead_air(self, tester_speaking: bool) -> None:
        silent = self.runs.run is not None and self.runs.run.kind == "silence"
        if (
            not silent
            or tester_speaking
            or self.answered_at is None
            or self.now < self.near_busy_until
        ):
            self._silence_since = None
            self._dead_air_reported = False
            return
        if self._silence_since is None:
            self._silence_since = max(self.runs.run.since, self.answered_at)  # type: ignore[union-attr]
        if not self._dead_air_reported and self.silent_for_s >= self.dead_air_limit_s:
            self._dead_air_reported = True
            self._dead_air_limit_s = self.dead_air_limit_s
            self._dead_air_after_hold = self.hold.state == "hold"
            if self._dead_air_after_hold:
                # The hold ended with its sound: the silence is dead air after it.
                self.timeline.add(HoldEnded(self.hold.end_in_dead_air()))
            if not self._recording_voicemail:
                self.timeline.add(
                    DeadAir(
                        self._silence_since,
                        limit_s=self._dead_air_limit_s,
                        after_hold=self._dead_air_after_hold,
                        cause="no RTP" if self.media_stopped_at is not None else None,
                    )
                )

    async def _end(self) -> None:
        self.ended = True
        self._take(await self._ear.finish())
        if self.hold.state == "hold":
            self.hold.finish(self.now, far_end_hung_up=self.call.ended_by == "remote")
            self.timeline.add(HoldEnded(self.hold.periods[-1].end or self.now))
        self.timeline.add(Ended(self.now, by=self.call.ended_by, cause=self.call.end_cause))

    # --- what steps ask ------------------------------------------------------------------

    @property
    def dead_air_limit_s(self) -> float:
        return self.settings.hold_dead_air_s if self.hold.waiting else self.settings.dead_air_s

    @property
    def silent_for_s(self) -> float:
        """How long the far end has been silent while the tester knew all it had said: in
        real time, a silence after speech whose text is still being decoded counts from the
        frame the text came in (the far end may be waiting for an answer to it), so a slow
        recogniser delays decisions in media time instead of turning them into dead air.
        On a virtual clock the text is in at the frame that ended the speech."""
        if self._silence_since is None:
            return 0.0
        since = self._silence_since
        if self._text_due_at is not None:
            since = max(since, self._text_due_at)
        return (self.now - since) / TELEPHONY_RATE

    def samples(self, seconds: float) -> int:
        return round(seconds * TELEPHONY_RATE)

    @property
    def decoding(self) -> bool:
        """Speech already heard whose text is not in yet: a step that judges what was said
        waits (taking frames) until it is. Always False on a virtual clock, where the session
        waits for the text at the frame that ended the speech."""
        return self._ear.decoding

    def finals_since(self, t: int) -> list[Utterance]:
        return [u for u in self.transcript if u.end > t]

    def heard_since(self, t: int) -> str:
        """Everything recognised since `t`, including the utterance still being recognised."""
        texts = [u.text for u in self.finals_since(t)]
        if self.partial is not None and self.partial.text:
            texts.append(self.partial.text)
        return " ".join(texts)

    @property
    def speech_unfinished(self) -> bool:
        """Whether the far end has said something the transcript does not hold yet: speech
        still going on, or heard and not yet recognised (a recogniser returns an utterance a
        while after it ends). Until it is, what was heard is not all that was said."""
        return self._ear.unfinished

    def speech_end_since(self, t: int) -> int | None:
        """The end of the far end's latest speech after `t`, by the sound segments closed so
        far and the transcript (None when neither heard any)."""
        ends = [u.end for u in self.finals_since(t)]
        for segment in reversed(self.segments):
            if segment.kind == "speech" and segment.end > t:
                ends.append(segment.end)
                break
        return max(ends, default=None)

    async def cut_speech(self) -> None:
        """Have the speech heard so far recognised now, without waiting for it to end; on a
        virtual clock its text is awaited here, in real time it comes with later frames."""
        heard = Heard(utterances=self._ear.cut())
        if self._ear.decoding and self.call.virtual_clock:
            heard.utterances += await self._ear.settle()
        self._take(heard)

    async def verify(self, utterance: Utterance, candidates: Sequence[str]) -> list[Fit]:
        """Ask the call's recogniser how well each alternative text fits an utterance's audio:
        nats against its own reading (shopper.asr.types.Fit)."""
        return await self.taking_frames(self._ear.verify(utterance, candidates))

    async def taking_frames(self, work: Awaitable[T]) -> T:
        """Await `work` (a score from the speech workers, a voice rendered off the loop)
        while the session goes on taking frames. A real far end does not wait: frames left
        in the carrier's queue meanwhile are heard late (at forty calls, a score behind
        other calls' readings held a call's frames for over a second). On a virtual clock
        the far end waits for the session, so the session waits for `work` and every
        figure stays as it was."""
        pending = asyncio.ensure_future(work)
        if self.call.virtual_clock:
            return await pending
        taking: asyncio.Future[bool] | None = None
        try:
            while not pending.done():
                taking = asyncio.ensure_future(self.advance())
                await asyncio.wait((pending, taking), return_when=asyncio.FIRST_COMPLETED)
                if not await taking:  # a frame begun is heard to its end; False: call over
                    break
                taking = None
            return await pending
        finally:
            for task in (pending, taking):
                if task is not None and not task.done():
                    task.cancel()

    def check_health(self) -> None:
        """Fail the current step when the call itself has gone wrong, whatever it waits for."""
        for tone in self.tones:
            if tone.kind.startswith("sit-"):
                raise StepFailure("sit-tone", f"special information tone heard: {tone.kind}")
            if tone.kind in TONE_FAILURES:
                raise StepFailure("busy", f"{tone.kind} tone heard at {tone.start_s:.1f} s")
        if self.ended:
            status = self.call.end_status
            said = f" ({status.detail})" if status is not None else ""
            if self.call.end_cause == "busy":
                raise StepFailure("busy", f"the line was busy{said}")
            if self.call.end_cause == "no-answer":
                raise StepFailure("no-answer", f"nobody answered{said}")
            if self.call.end_cause in NOT_PLACED:
                raise StepFailure(
                    NOT_PLACED[self.call.end_cause],
                    f"the carrier could not place the call ({self.call.end_cause})"
                    + (f": {status.detail}" if status is not None else ""),
                )
            if self.call.ended_by == "remote":
                raise StepFailure(
                    "dropped", f"the far end hung up at {self.now / TELEPHONY_RATE:.1f} s"
                )
            raise StepFailure("error", "the call ended")
        if self._dead_air_reported:
            if self.voicemail.box is not None and self._recording_voicemail:
                raise self.voicemail_failure(self.voicemail.box)
            after_hold = ", after the hold's music" if self._dead_air_after_hold else ""
            stopped = self.media_stopped_at
            no_rtp = (
                f"; no RTP: the far end stopped sending audio at {stopped / TELEPHONY_RATE:.1f} s"
                if stopped is not None
                else ""
            )
            raise StepFailure(
                "dead-air",
                f"no sound from the far end for {self._dead_air_limit_s:.0f} s "
                f"(from {(self._silence_since or 0) / TELEPHONY_RATE:.1f} s{after_hold}{no_rtp})",
            )

    @property
    def _recording_voicemail(self) -> bool:
        """The current silence is a voicemail box recording after its beep, not dead air."""
        box = self.voicemail.box
        return box is not None and (self._silence_since or 0) >= box.beep.start

    def voicemail_failure(self, box: VoicemailBox) -> StepFailure:
        """The failure of a step that needed something else than the voicemail box reached."""
        said = f" after {box.greeting!r}" if box.greeting else ""
        return StepFailure(
            "voicemail",
            f"reached a voicemail box: {box.beep.hz:.0f} Hz beep at "
            f"{box.beep.start / TELEPHONY_RATE:.1f} s{said}, then silence",
        )

    # --- sending (stamped with the media time the carrier sends at) --------------------------

    async def play(self, samples: Samples, what: str) -> Sent:
        """Send audio to the far end after what is already going out."""
        sent = await self.call.play(samples)
        self.near_busy_until = max(self.near_busy_until, sent.end)
        self.timeline.add(
            Said(sent.start, text=what, duration_s=round(sent.samples / TELEPHONY_RATE, 3))
        )
        return sent

    async def send_keys(self, keys: str, tone_s: float, gap_s: float) -> Sent:
        """Press keys after what is already going out."""
        sent = await self.call.send_dtmf(keys, tone_s, gap_s)
        self.near_busy_until = max(self.near_busy_until, sent.end)
        self.timeline.add(KeySent(sent.start, digits=keys))
        return sent

    async def hangup(self) -> None:
        await self.call.hangup()
        while await self.advance():
            pass
