"""The in-process carrier: calls to the simulated phone system, in virtual or real time.

The call runs in lockstep with whoever reads `frames()`: each 20 ms frame is computed only
when the next one is asked for, so under the virtual clock a three-minute hold takes as long
as the CPU needs, and in real time each frame is released when its 20 ms have passed on the
event loop's clock. Either way the audio, and so every result, is the same for the same seed.

What the tester sends travels in-band, as on a real line: queued audio and DTMF tones are
mixed into the caller's frames, and the phone system's own DTMF receiver must hear them. The
caller's stream is contiguous, so what `play` and `send_dtmf` queue goes out from the sample
where what is already queued ends (or the next frame, when nothing is): the span they return
is where `_next_near` mixes it in.

Signalling: the phone ringing (from the first frame, unless it answers at once or is busy) and
answering arrive with the frame they happen in, as a network's 180 and 200 would.

The phone system's answer key (its truth) is handed to the runner beside the call
(`Placed.answer_key`); the call object the engine holds has no way to it.

Who ends a call:
- the tester's `hangup()`: ended_by "tester", cause "hangup";
- the phone system hanging up: ended_by "remote", cause "hangup" (or "busy" for a busy line);
- nobody answering within `ring_timeout_s`: ended_by "remote", cause "no-answer" (the caller's
  network gives up, as it would report a call the far end never picked up);
- the call reaching `max_duration_s`: ended_by "tester", cause "hangup", as a carrier's
  call-length limit (Twilio's timeLimit) hangs up on the caller's behalf.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, AudioFrame, Samples
from shopper.carriers.base import CarrierError, DuplexFrame, EndCause, EndedBy, Placed, Sent
from shopper.carriers.options import DialOptions
from shopper.carriers.signals import Answered, Ringing, Signal
from shopper.sandbox.loader import load_ivr
from shopper.sandbox.model import IvrDefinition
from shopper.sandbox.phone import SandboxPhone

FRAME_S = FRAME_SAMPLES / TELEPHONY_RATE


class SandboxCall:
    """A call to a `SandboxPhone`, seen from the tester's side (the `Call` protocol)."""

    def __init__(
        self,
        phone: SandboxPhone,
        *,
        realtime: bool = False,
        max_duration_s: float = 3600.0,
        ring_timeout_s: float = 60.0,
    ) -> None:
        if not max_duration_s > 0 or not ring_timeout_s > 0:
            raise CarrierError(
                f"sandbox call limits must be positive: max duration {max_duration_s} s, "
                f"ring timeout {ring_timeout_s} s"
            )
        self._phone = phone
        self._realtime = realtime
        self._max_samples = round(max_duration_s * TELEPHONY_RATE)
        self._ring_samples = round(ring_timeout_s * TELEPHONY_RATE)
        self._call_id = f"sandbox-{uuid.uuid4().hex[:12]}"
        self._outgoing: deque[Samples] = deque()
        self._ended_by: EndedBy | None = None
        self._end_cause: EndCause | None = None
        self._streaming = False
        self._rang = False
        self._answered = False
        self.far_end_cpu_s = 0.0
        """CPU seconds the simulated phone system spent computing its frames (a SIP carrier
        would not add this cost to the tester's; benchmarks report it apart)."""

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def carrier(self) -> str:
        return "sandbox"

    @property
    def virtual_clock(self) -> bool:
        return not self._realtime

    @property
    def ended_by(self) -> EndedBy | None:
        return self._ended_by

    @property
    def end_cause(self) -> EndCause | None:
        return self._end_cause

    @property
    def end_status(self) -> None:
        return None

    @property
    def media_stats(self) -> None:
        return None

    async def frames(self) -> AsyncIterator[DuplexFrame]:
        if self._streaming:
            raise CarrierError("a sandbox call's frames can be read only once")
        self._streaming = True
        loop = asyncio.get_running_loop()
        started = loop.time()
        count = 0
        while self._ended_by is None:
            if self._realtime:
                await asyncio.sleep(max(0.0, started + (count + 1) * FRAME_S - loop.time()))
            else:
                await asyncio.sleep(0)
            if self._ended_by is not None:
                break
            position = self._phone.position
            if self._phone.answered_at is None and position >= self._ring_samples:
                self._finish("remote", "no-answer")
                self._phone.disconnect("network", "ring timeout", "no-answer")
                break
            if position >= self._max_samples:
                self._finish("tester", "hangup")
                self._phone.disconnect("network", "maximum call length")
                break
            near = self._next_near()
            began = time.thread_time()
            far = self._phone.step(AudioFrame(near, position))
            self.far_end_cpu_s += time.thread_time() - began
            if far is None:
                self._finish("remote", self._phone.end_cause or "hangup")
                break
            count += 1
            yield DuplexFrame(AudioFrame(far, position), near, self._signals())

    def _signals(self) -> tuple[Signal, ...]:
        """The phone's ringing and answer, with the frame in which each began."""
        signals: list[Signal] = []
        if not self._rang and self._phone.ringing_at is not None:
            self._rang = True
            signals.append(Ringing(self._phone.ringing_at))
        if not self._answered and self._phone.answered_at is not None:
            self._answered = True
            signals.append(Answered(self._phone.answered_at))
        return tuple(signals)

    async def play(self, samples: Samples) -> Sent:
        if samples.ndim != 1 or samples.dtype != np.int16:
            raise CarrierError(
                f"play() takes 1-D int16 audio at {TELEPHONY_RATE} Hz, "
                f"got {samples.ndim}-D {samples.dtype}"
            )
        return self._queue(samples.copy())

    async def send_dtmf(self, digits: str, tone_s: float = 0.1, gap_s: float = 0.1) -> Sent:
        """Key presses as in-band tones; a gap follows the last one too, so that two calls
        in a row never run one press into the next."""
        tones = dtmf_sequence(digits, tone_s, gap_s)
        if not len(tones):
            return self._queue(tones)
        gap = np.zeros(round(gap_s * TELEPHONY_RATE), dtype=np.int16)
        return self._queue(np.concatenate([tones, gap]))

    def _queue(self, samples: Samples) -> Sent:
        """Queue audio after what is queued; where it will go out (nothing, once ended)."""
        start = self._phone.position + sum(len(queued) for queued in self._outgoing)
        if self._ended_by is not None or not len(samples):
            return Sent(start, start)
        self._outgoing.append(samples)
        return Sent(start, start + len(samples))

    async def hangup(self) -> None:
        if self._ended_by is None:
            self._finish("tester", "hangup")
            self._phone.disconnect("caller", "caller hung up")

    def _finish(self, by: EndedBy, cause: EndCause) -> None:
        self._ended_by = by
        self._end_cause = cause
        self._outgoing.clear()

    def _next_near(self) -> Samples:
        """The caller's next 20 ms: queued audio in order, silence when nothing is queued."""
        frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        filled = 0
        while filled < FRAME_SAMPLES and self._outgoing:
            head = self._outgoing[0]
            taken = min(FRAME_SAMPLES - filled, len(head))
            frame[filled : filled + taken] = head[:taken]
            filled += taken
            if taken == len(head):
                self._outgoing.popleft()
            else:
                self._outgoing[0] = head[taken:]
        return frame


def dial_sandbox(
    definition: IvrDefinition,
    *,
    seed: int = 0,
    realtime: bool = False,
    now: datetime | None = None,
    max_duration_s: float = 3600.0,
    ring_timeout_s: float = 60.0,
) -> tuple[SandboxCall, SandboxPhone]:
    """Place a call to the simulated phone system `definition`: the call, and its phone (whose
    `truth` is the answer key).

    Every sound is rendered here, before the first ring, so a missing file or voice fails now.
    `now` is the calendar time the opening hours are judged at (default: the current time).
    """
    moment = now if now is not None else datetime.now(UTC)
    phone = SandboxPhone(definition, seed, moment)
    call = SandboxCall(
        phone, realtime=realtime, max_duration_s=max_duration_s, ring_timeout_s=ring_timeout_s
    )
    return call, phone


async def dial_sandbox_file(target: str, options: DialOptions) -> Placed:
    """The sandbox carrier's dialler: load the IVR file `target` and call it. Loading and
    rendering its sounds run in a worker thread, so other calls' frames keep flowing."""
    sandbox = options.sandbox

    def place() -> tuple[SandboxCall, SandboxPhone]:
        definition = load_ivr(Path(target))
        if sandbox.voice is not None:
            definition = replace(definition, voice=sandbox.voice)
        return dial_sandbox(
            definition,
            seed=sandbox.seed,
            realtime=sandbox.realtime,
            now=sandbox.at,
            max_duration_s=options.max_duration_s,
            ring_timeout_s=options.ring_timeout_s,
        )

    call, phone = await asyncio.to_thread(place)
    return Placed(call, answer_key=phone.truth)
