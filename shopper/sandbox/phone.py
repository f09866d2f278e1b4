"""The simulated phone system at run time: an IVR that answers, talks, listens and hangs up.

`SandboxPhone` is driven one 20 ms frame at a time by whoever carries the call: it takes the
caller's frame and gives back its own, so the same code runs under a virtual clock (as fast as
the CPU goes) or in real time, and nothing in it reads a wall clock. Like a real IVR it hears
the caller only in-band: keys through a DTMF receiver, speech through a voice-activity
detector. It is causal: what it hears in one frame can change what it plays from the next
frame on, never the frame being played. Every decision falls on a frame boundary.

Each node's behaviour is a generator that yields output frames, or a jump to another node, or
a hang-up; composing them with `yield from` keeps "play the prompt, wait, retry" readable as
the sequence it is. Choices made where a real system could go either way:

- Keys pressed while a menu prompt plays interrupt it (barge-in). With `barge_in: false` they
  are ignored, not buffered, as IVRs that flush their DTMF buffer after a prompt do: the
  caller must press again once the prompt has finished. The `invalid` and `no_input`
  messages cannot be interrupted, and a key pressed during them is ignored.
- Each failure (invalid key, or no key within `timeout_s`) plays its message, if any; after
  `retries` + 1 failures the call goes to `on_exhausted`, or the phone hangs up.
- A node's keys that it has no use for (at an agent, during a hold outside a callback offer)
  are ignored; the truth records them with action "ignored".
- In a queue, announcements and callback offers start every `every_s` from the start of the
  hold and replace the music while they play (the music resumes where it stopped). One that
  falls due while another plays waits for it. A callback offer's digit is taken while the
  offer plays and for `CALLBACK_WINDOW_S` after it. The hold ends at `hold_s` even in the
  middle of an announcement.
- An agent speaks its greeting, then replies after each caller utterance (at least
  `MIN_SPEECH_S` of speech ended by `END_QUIET_S` of quiet) that ended after the greeting or
  the previous reply; keys count as no speech. The agent never hangs up.
- `silence:` plays its sound, then dead air for its seconds, then hangs up.
- `tone:` with a cadenced tone plays it for its seconds, then the node's sound, then hangs up.
  A SIT plays its three segments then the node's sound (the intercept announcement), the pair
  repeated while less than `seconds` have passed, as networks repeat an intercept message.
- `drop:` plays its sound (then dead air) and cuts the line `after_s` after the node was
  entered, mid-word if need be.
- Busy lines play `BUSY_S` of busy tone and end with cause "busy"; a line that never answers
  rings until the carrier gives up.

Line noise (seeded) is added to every frame, so that dead air is the faint hiss of a real
line, not digital zero, and the seed decides it. The seed also picks where the hold music
starts.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from shopper.audio.callprogress import NORTH_AMERICA, ToneStep, call_progress_tone, synthesize
from shopper.audio.dtmf import DtmfDetector, DtmfDigit
from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, AudioFrame, Samples, as_pcm16
from shopper.audio.segments import Span
from shopper.errors import ShopperError
from shopper.sandbox.hours import is_open
from shopper.sandbox.model import (
    Agent,
    Drop,
    Goto,
    Hangup,
    Hours,
    IvrDefinition,
    Menu,
    Node,
    Queue,
    Silence,
    Sound,
    Tone,
    Voice,
    Voicemail,
)
from shopper.sandbox.render import SoundBank, agent_voice, describe_sound
from shopper.sandbox.truth import (
    CallbackOffered,
    CallEnd,
    EndedBy,
    Hold,
    KeyHeard,
    NodeEntry,
    SandboxTruth,
    SoundPlayed,
    VoicemailRecording,
)

EndCause = Literal["hangup", "busy", "no-answer"]
"""How the phone system's side of the call ended, as a network would signal it."""

BUSY_S = 5.0
"""How long a busy line plays busy tone before the network clears the call."""
CALLBACK_WINDOW_S = 5.0
"""After a callback offer ends, its digit is still taken for this long ("press 1 now")."""
BEEP_HZ = 1000.0
BEEP_S = 0.4
SIT_PAUSE_S = 0.3
"""Quiet between a SIT's last segment and the announcement, or the next SIT."""
LINE_NOISE_RMS = 10.0
"""About -70 dBFS: the hiss of a quiet line, well under any speech or tone."""
SPEECH_RMS = 330.0
"""About -40 dBFS: a frame this loud is the caller talking (or making some other sound)."""
NOISE_BLOCK_FRAMES = 50
MIN_SPEECH_S = 0.4
END_QUIET_S = 0.7


class SandboxError(ShopperError):
    """An IVR definition the phone cannot run as given; the message names the node or field."""


@dataclass(frozen=True, slots=True)
class _Jump:
    node: str
    reason: str


@dataclass(frozen=True, slots=True)
class _HangUp:
    reason: str
    cause: EndCause = "hangup"


_Output = Samples | _Jump | _HangUp
_Script = Generator[_Output, None, None]


class SandboxPhone:
    """One call's IVR, frame by frame from the moment it is dialled (media time 0)."""

    def __init__(
        self,
        definition: IvrDefinition,
        seed: int,
        now: datetime,
        *,
        sounds: SoundBank | None = None,
    ) -> None:
        self.definition = definition
        self.truth = SandboxTruth(definition.name, seed, now, definition.answer.mode)
        self._sounds = sounds if sounds is not None else SoundBank(definition)
        self._rng = np.random.default_rng(seed)
        self._noise = np.zeros(0, dtype=np.int32)
        self._noise_used = 0
        self._open = _open_at(definition.hours, now)
        self._position = 0
        self._node: str | None = None
        self._dtmf = DtmfDetector()
        self._speech = _SpeechDetector()
        self._keys: list[DtmfDigit] = []
        self._utterances: list[Span] = []
        self._script: _Script = self._call()
        self.ringing_at: int | None = None
        self.answered_at: int | None = None
        self.end_cause: EndCause | None = None
        self.ended = False

    @property
    def position(self) -> int:
        """Media time (samples) of the next frame."""
        return self._position

    def step(self, caller: AudioFrame) -> Samples | None:
        """Hear the caller's frame and give the IVR's frame for the same 20 ms.

        None: the IVR hung up at the start of this frame (which therefore never happened).
        """
        if self.ended:
            raise SandboxError("the simulated phone system has already hung up")
        if caller.start != self._position or len(caller.samples) != FRAME_SAMPLES:
            raise ValueError(
                f"expected a {FRAME_SAMPLES}-sample frame at sample {self._position}, "
                f"got {len(caller.samples)} samples at {caller.start}"
            )
        output = self._next_frame()
        for key in self._keys:
            self._key(key, "ignored")
        self._keys = []
        self._utterances = []
        if output is None:
            return None
        if self.answered_at is not None:
            self._hear(caller)
        self._position += FRAME_SAMPLES
        return as_pcm16(output.astype(np.int32) + self._line_noise())

    def _line_noise(self) -> NDArray[np.int32]:
        """The next frame of line noise, drawn a second at a time (a frame at a time is slow)."""
        if self._noise_used + FRAME_SAMPLES > len(self._noise):
            self._noise = np.rint(
                self._rng.normal(0.0, LINE_NOISE_RMS, NOISE_BLOCK_FRAMES * FRAME_SAMPLES)
            ).astype(np.int32)
            self._noise_used = 0
        frame = self._noise[self._noise_used : self._noise_used + FRAME_SAMPLES]
        self._noise_used += FRAME_SAMPLES
        return frame

    def disconnect(self, by: EndedBy, reason: str, cause: EndCause = "hangup") -> None:
        """The call ended from outside the IVR (the caller hung up, the network gave up)."""
        if not self.ended:
            self._end(by, reason, cause)

    def _next_frame(self) -> Samples | None:
        jumps = 0
        while True:
            output = next(self._script)
            if isinstance(output, _Jump):
                jumps += 1
                if jumps > len(self.definition.nodes):
                    raise SandboxError(
                        f"IVR {self.definition.name!r}: node {output.node!r} is part of a loop "
                        "of nodes that play nothing and wait for nothing"
                    )
                self._script.close()
                self._script = self._enter(output.node, output.reason)
            elif isinstance(output, _HangUp):
                self._end("ivr", output.reason, output.cause)
                return None
            else:
                return output

    def _end(self, by: EndedBy, reason: str, cause: EndCause) -> None:
        self._script.close()
        self.ended = True
        self.end_cause = cause
        for utterance in self._speech.finish():
            self.truth.caller_speech.append((utterance.start, utterance.end))
        self.truth.end = CallEnd(self._position, by, reason, cause)

    def _hear(self, caller: AudioFrame) -> None:
        """Run the IVR's receivers on the caller's frame; what they hear counts from the next."""
        self._keys = self._dtmf.feed(caller)
        if self._keys:
            self._speech.cancel()
        self._utterances = self._speech.feed(caller)
        for utterance in self._utterances:
            self.truth.caller_speech.append((utterance.start, utterance.end))

    def _take_keys(self) -> list[DtmfDigit]:
        keys, self._keys = self._keys, []
        return keys

    def _key(self, key: DtmfDigit, action: str) -> None:
        self.truth.keys.append(KeyHeard(key.digit, key.start, key.end, self._node, action))

    # --- the call, from the first ring --------------------------------------------------------

    def _call(self) -> _Script:
        answer = self.definition.answer
        if answer.mode == "busy":
            yield from self._play_samples(call_progress_tone("busy", BUSY_S), "busy", "busy tone")
            yield _HangUp("busy", "busy")
            return
        ring_frames = math.inf if answer.mode == "no-answer" else _frames(answer.after_s)
        cycle = call_progress_tone("ringback", 6.0)
        if ring_frames > 0:
            self.ringing_at = self._position
            played = self.truth.sound(None, "ringback", "ringback tone", self._position)
            try:
                frame = 0
                while frame < ring_frames:
                    offset = frame * FRAME_SAMPLES % len(cycle)
                    yield cycle[offset : offset + FRAME_SAMPLES]
                    frame += 1
            finally:
                played.stop(self._position, cut=False)
        self.answered_at = self._position
        self.truth.answered = self._position
        hours = self.definition.hours
        if hours is not None and not self._open:
            yield _Jump(hours.closed, "closed hours")
        else:
            yield _Jump(self.definition.start, "start")

    def _enter(self, name: str, reason: str) -> _Script:
        node = self.definition.nodes.get(name)
        if node is None:
            raise SandboxError(f"IVR {self.definition.name!r}: no node named {name!r}")
        self._node = name
        self.truth.nodes.append(NodeEntry(name, self._position, reason))
        return self._behave(node)

    def _behave(self, node: Node) -> _Script:
        behaviour = node.behaviour
        if isinstance(behaviour, Menu):
            return self._menu(node, behaviour)
        if isinstance(behaviour, Queue):
            return self._queue(node, behaviour)
        if isinstance(behaviour, Agent):
            return self._agent(node, behaviour)
        if isinstance(behaviour, Voicemail):
            return self._voicemail(node, behaviour)
        if isinstance(behaviour, Goto):
            return self._then(node, _Jump(behaviour.node, "goto"))
        if isinstance(behaviour, Silence):
            return self._silence(node, behaviour)
        if isinstance(behaviour, Tone):
            return self._tone(node, behaviour)
        if isinstance(behaviour, Drop):
            return self._drop(node, behaviour)
        reason = "hangup node" if isinstance(behaviour, Hangup) else "end of node"
        return self._then(node, _HangUp(reason))

    # --- playing -------------------------------------------------------------------------------

    def _play(
        self, sound: Sound | None, role: str, *, voice: Voice | None = None, barge_in: bool = False
    ) -> Generator[_Output, None, DtmfDigit | None]:
        """Play a sound; with `barge_in`, the first key heard stops it and is returned.

        Without barge-in, keys heard meanwhile are left for the step to record as ignored.
        """
        if sound is None:
            return None
        samples = self._sounds.sound(sound, voice or self.definition.voice)
        return (
            yield from self._play_samples(samples, role, describe_sound(sound), barge_in=barge_in)
        )

    def _play_samples(
        self, samples: Samples, role: str, what: str, *, barge_in: bool = False
    ) -> Generator[_Output, None, DtmfDigit | None]:
        played = self.truth.sound(self._node, role, what, self._position)
        try:
            for offset in range(0, len(samples), FRAME_SAMPLES):
                if barge_in and self._keys:
                    played.stop(self._position, cut=True)
                    return self._take_keys()[0]
                yield _frame(samples[offset : offset + FRAME_SAMPLES])
            played.stop(played.start + len(samples), cut=False)
            return None
        finally:
            played.stop(self._position, cut=True)

    def _quiet(self, frames: float) -> Generator[_Output, None, None]:
        """Dead air for `frames` frames (inf: until something else ends the call)."""
        count = 0
        while count < frames:
            yield np.zeros(FRAME_SAMPLES, dtype=np.int16)
            count += 1

    def _then(self, node: Node, after: _Jump | _HangUp) -> _Script:
        yield from self._play(node.sound, "prompt")
        yield after

    # --- behaviours ----------------------------------------------------------------------------

    def _menu(self, node: Node, menu: Menu) -> _Script:
        failures = 0
        while True:
            key = yield from self._play(node.sound, "prompt", barge_in=menu.barge_in)
            waited = 0
            timeout = _frames(menu.timeout_s)
            while key is None and waited < timeout:
                if self._keys:
                    key = self._take_keys()[0]
                    break
                yield np.zeros(FRAME_SAMPLES, dtype=np.int16)
                waited += 1
            if key is not None and key.digit in menu.options:
                self._key(key, "accepted")
                yield _Jump(menu.options[key.digit], f"key {key.digit}")
                return
            failures += 1
            if key is not None:
                self._key(key, "invalid")
                yield from self._play(menu.invalid, "invalid")
            else:
                yield from self._play(menu.no_input, "no-input")
            if failures > menu.retries:
                if menu.on_exhausted is None:
                    yield _HangUp("retries exhausted")
                else:
                    yield _Jump(menu.on_exhausted, "retries exhausted")
                return

    def _queue(self, node: Node, queue: Queue) -> _Script:
        yield from self._play(node.sound, "prompt")
        hold = Hold(node.name, self._position)
        self.truth.holds.append(hold)
        music = self._sounds.music(queue.music)
        music_offset = int(self._rng.integers(len(music)))
        hold_end = self._position + _frames(queue.hold_s) * FRAME_SAMPLES
        announce_every = None if queue.announce is None else _samples(queue.announce.every_s)
        offer_every = (
            None if queue.callback_offer is None else _samples(queue.callback_offer.every_s)
        )
        next_announce = None if announce_every is None else hold.start + announce_every
        next_offer = None if offer_every is None else hold.start + offer_every
        playing: Generator[_Output, None, DtmfDigit | None] | None = None
        music_played: SoundPlayed | None = None
        offer: CallbackOffered | None = None
        offer_open_until = -1
        try:
            while self._position < hold_end:
                for key in self._take_keys():
                    offer_open = offer is not None and (
                        offer.end is None or key.end <= offer_open_until
                    )
                    callback = queue.callback_offer
                    if (
                        offer is not None
                        and callback is not None
                        and offer_open
                        and key.digit == callback.digit
                    ):
                        self._key(key, "callback")
                        offer.accepted = self._position
                        hold.outcome = "callback"
                        yield _Jump(callback.goto, "callback")
                        return
                    self._key(key, "ignored")
                if playing is None:
                    sound: Sound | None = None
                    role = ""
                    if next_announce is not None and self._position >= next_announce:
                        assert queue.announce is not None and announce_every is not None
                        sound, role = queue.announce.sound, "announcement"
                        next_announce += announce_every
                    elif next_offer is not None and self._position >= next_offer:
                        assert queue.callback_offer is not None and offer_every is not None
                        sound, role = queue.callback_offer.sound, "callback-offer"
                        next_offer += offer_every
                        offer = CallbackOffered(node.name, self._position)
                        self.truth.callback_offers.append(offer)
                    if sound is not None:
                        if music_played is not None:
                            music_played.stop(self._position, cut=False)
                            music_played = None
                        playing = self._play(sound, role)
                if playing is not None:
                    try:
                        yield next(playing)
                        continue
                    except StopIteration:
                        playing = None
                        if offer is not None and offer.end is None:
                            offer.end = self._position
                            offer_open_until = self._position + _samples(CALLBACK_WINDOW_S)
                if music_played is None:
                    music_played = self.truth.sound(node.name, "music", music.name, self._position)
                yield music.read(music_offset, FRAME_SAMPLES)
                music_offset += FRAME_SAMPLES
            hold.outcome = "then"
        finally:
            if playing is not None:
                playing.close()
            if music_played is not None:
                music_played.stop(self._position, cut=True)
            if offer is not None and offer.end is None:
                offer.end = self._position
            hold.end = self._position
            if hold.outcome is None:
                hold.outcome = "call ended"
        if queue.then is None:
            yield _HangUp("hold ended")
        else:
            yield _Jump(queue.then, "hold ended")

    def _agent(self, node: Node, agent: Agent) -> _Script:
        yield from self._play(node.sound, "prompt")
        voice = agent_voice(self.definition, agent)
        yield from self._quiet(_frames(agent.pickup_s))
        if self.truth.agent_first_spoke is None:
            self.truth.agent_first_spoke = self._position
        yield from self._play(Sound(say=agent.greeting), "greeting", voice=voice)
        while True:
            if self._utterances and agent.replies:
                yield from self._play(Sound(say=agent.reply), "reply", voice=voice)
            else:
                yield np.zeros(FRAME_SAMPLES, dtype=np.int16)

    def _voicemail(self, node: Node, voicemail: Voicemail) -> _Script:
        yield from self._play(node.sound, "prompt")
        beep = synthesize([ToneStep((BEEP_HZ,), BEEP_S)])
        yield from self._play_samples(beep, "beep", f"{BEEP_HZ:.0f} Hz beep")
        recording = VoicemailRecording(node.name, self._position)
        self.truth.voicemail.append(recording)
        try:
            yield from self._quiet(_frames(voicemail.max_s))
        finally:
            recording.end = self._position
        yield _HangUp("voicemail full")

    def _silence(self, node: Node, silence: Silence) -> _Script:
        yield from self._play(node.sound, "prompt")
        yield from self._quiet(_frames(silence.seconds))
        yield _HangUp("silence")

    def _tone(self, node: Node, tone: Tone) -> _Script:
        what = f"{tone.kind} tone"
        if not tone.kind.startswith("sit-"):
            yield from self._play_samples(call_progress_tone(tone.kind, tone.seconds), "tone", what)
            yield from self._play(node.sound, "prompt")
            yield _HangUp("tone")
            return
        sit = call_progress_tone(tone.kind, _sit_seconds(tone) + SIT_PAUSE_S)
        entered = self._position
        while True:
            yield from self._play_samples(sit, "tone", what)
            yield from self._play(node.sound, "prompt")
            if self._position - entered >= _samples(tone.seconds):
                break
        yield _HangUp("tone")

    def _drop(self, node: Node, drop: Drop) -> _Script:
        frames = _frames(drop.after_s)
        sound = self._play(node.sound, "prompt")
        played = 0
        try:
            for output in sound:
                if played >= frames:
                    break
                yield output
                played += 1
        finally:
            sound.close()
        yield from self._quiet(frames - played)
        yield _HangUp("drop")


class _SpeechDetector:
    """The caller's turns, as an IVR's voice-activity detector would find them.

    Loud frames count as speech; a turn is over after `END_QUIET_S` of quiet, and counts only
    with `MIN_SPEECH_S` of loud frames in it, so clicks and coughs are not turns.
    """

    def __init__(self) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Forget the turn in progress (it was key presses, not speech)."""
        self._start: int | None = None
        self._loud = 0
        self._last_loud_end = 0

    def feed(self, frame: AudioFrame) -> list[Span]:
        samples = frame.samples.astype(np.float64)
        level = math.sqrt(float(np.dot(samples, samples)) / max(1, len(samples)))
        if level >= SPEECH_RMS:
            if self._start is None:
                self._start = frame.start
            self._loud += len(frame.samples)
            self._last_loud_end = frame.end
            return []
        if self._start is not None and frame.end - self._last_loud_end >= _samples(END_QUIET_S):
            return self._close()
        return []

    def finish(self) -> list[Span]:
        return self._close() if self._start is not None else []

    def _close(self) -> list[Span]:
        assert self._start is not None
        turn = Span(self._start, self._last_loud_end)
        long_enough = self._loud >= _samples(MIN_SPEECH_S)
        self.cancel()
        return [turn] if long_enough else []


# --- helpers -----------------------------------------------------------------------------------


def _samples(seconds: float) -> int:
    return round(seconds * TELEPHONY_RATE)


def _frames(seconds: float) -> int:
    """Whole frames covering `seconds`: the phone acts on frame boundaries."""
    return math.ceil(round(seconds * TELEPHONY_RATE) / FRAME_SAMPLES)


def _frame(samples: Samples) -> Samples:
    if len(samples) == FRAME_SAMPLES:
        return samples
    return np.pad(samples, (0, FRAME_SAMPLES - len(samples)))


def _sit_seconds(tone: Tone) -> float:
    variant = NORTH_AMERICA.sit(tone.kind)
    assert variant is not None
    return sum(seconds for _, seconds in variant.segments)


def _open_at(hours: Hours | None, now: datetime) -> bool:
    """Whether the call, placed at `now`, falls in opening hours (no hours: always open)."""
    if hours is None:
        return True
    try:
        return is_open(hours, now)
    except ValueError as error:
        raise SandboxError(f"opening hours: {error}") from None
