"""One call's media stream, both ways, on the call's media time (samples since it was placed).

Media time starts when shopper asks Twilio to place the call and runs on the event loop's
clock (`MediaClock`). Twilio opens the stream once the far end has answered; until then the
call is ringing and its frames are silence.

Inbound (`InboundAudio`): Twilio sends base64 μ-law, normally 20 ms per `media` message,
each with `timestamp` (ms since the stream started) and `chunk`. The first message of a
stream fixes where that stream's timestamp 0 lies on media time (its arrival, less what it
carries and its timestamp); every later chunk goes where its timestamp says, not where its
arrival does, so network jitter does not move audio and a jump in the timestamps (audio
Twilio never received) becomes silence of the right length. Frame k is released once a
later frame has arrived (it is then known to be missing: silence) or once its time plus
`DEPTH_S` has passed on the clock; a frame arriving after that is dropped and counted.

Outbound (`OutboundAudio`): what the engine queues (audio, in-band DTMF tones) is cut into
20 ms frames and sent paced in real time, `LEAD_S` ahead of its time so that Twilio's
playout never runs dry in the middle of a tone; a `mark` follows each queued item. Twilio
echoes a mark when the audio before it has been played to the far end, so the echo's arrival
is the item's real end on the same clock as the far end's audio. The difference from the
schedule is the playout latency: each echo updates it, and later items' `Sent` spans and
near-side recording are shifted by it (the first item, before any echo, is stamped on the
schedule).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, Samples
from shopper.audio.g711 import ulaw_decode, ulaw_encode
from shopper.carriers.base import Sent

FRAME_S = FRAME_SAMPLES / TELEPHONY_RATE
DEPTH_S = 0.5
"""How long after its time a frame is released when nothing for it or later has arrived: the
WebSocket is TCP, so a late message is held up (a retransmission, a sender that stalled on a
busy machine) rather than lost, and arrives with the ones after it. Releasing it as silence
first would lose its audio, and a gap of lost audio inside a prompt can pass for the prompt's
end. While media flows, a frame is released as soon as a later one is in, so this delays
hearing only while the stream is silent (ringing, the far end stalled)."""
LEAD_S = 0.06
"""How far ahead of its time each outgoing frame is sent."""

SendJson = Callable[[dict[str, object]], Awaitable[None]]


class MediaClock:
    """Media time on the event loop's clock, from the moment the call was placed."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.placed_at = self._loop.time()

    @property
    def now(self) -> int:
        return round((self._loop.time() - self.placed_at) * TELEPHONY_RATE)

    def at(self, samples: int) -> float:
        """The loop time at media time `samples`."""
        return self.placed_at + samples / TELEPHONY_RATE


class InboundAudio:
    """The far end's audio by frame index, from however many streams the call opens."""

    def __init__(self, clock: MediaClock) -> None:
        self._clock = clock
        self._frames: dict[int, Samples] = {}
        self._origin: int | None = None
        self.next_index = 0
        self.latest_index = -1
        self.late_frames = 0
        """Frames that arrived after their time had been released as silence."""
        self.filled_frames = 0
        """Frames released as silence inside a stream (a gap in its timestamps, or late)."""
        self.arrived = asyncio.Event()

    @property
    def streaming(self) -> bool:
        return self._origin is not None

    def new_stream(self) -> None:
        """A stream began: its timestamps start again at 0."""
        self._origin = None

    def end_stream(self) -> None:
        self._origin = None

    def media(self, timestamp_ms: int, payload: bytes) -> None:
        samples = ulaw_decode(payload)
        if not len(samples):
            return
        offset = round(timestamp_ms * TELEPHONY_RATE / 1000)
        if self._origin is None:
            self._origin = self._first_frame(len(samples)) * FRAME_SAMPLES - offset
        first = (self._origin + offset + FRAME_SAMPLES // 2) // FRAME_SAMPLES
        for number, block_start in enumerate(range(0, len(samples), FRAME_SAMPLES)):
            block = samples[block_start : block_start + FRAME_SAMPLES]
            if len(block) < FRAME_SAMPLES:
                block = np.concatenate([block, np.zeros(FRAME_SAMPLES - len(block), np.int16)])
            index = first + number
            if index < self.next_index:
                self.late_frames += 1
                continue
            self._frames.setdefault(index, block)
            self.latest_index = max(self.latest_index, index)
        self.arrived.set()

    def _first_frame(self, length: int) -> int:
        """The frame a new stream's first chunk (`length` samples) goes in: where its arrival
        puts it, not before the frames already released. The stream is anchored on the frame
        grid, so that its 20 ms chunks land one to a frame: anchored half a frame off, a round
        half to even put two chunks in one frame and none in the next, and the call heard
        every other frame as silence (a Twilio crawl's menu was heard as music)."""
        arrived = (self._clock.now - length) // FRAME_SAMPLES
        return max(arrived, self.next_index)

    def ready(self) -> bool:
        """Whether the next frame may be released now."""
        if self.latest_index >= self.next_index:
            return True
        due = self._clock.at((self.next_index + 1) * FRAME_SAMPLES) + DEPTH_S
        return asyncio.get_running_loop().time() >= due

    def seconds_until_due(self) -> float:
        due = self._clock.at((self.next_index + 1) * FRAME_SAMPLES) + DEPTH_S
        return max(0.0, due - asyncio.get_running_loop().time())

    def pop(self) -> tuple[Samples, int]:
        """The next frame (silence if nothing arrived for it) and its media time."""
        index = self.next_index
        self.next_index += 1
        frame = self._frames.pop(index, None)
        if frame is None:
            if self.latest_index > index:
                self.filled_frames += 1
            frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        if self.latest_index < self.next_index:
            self.arrived.clear()
        return frame, index * FRAME_SAMPLES


@dataclass(slots=True)
class _Item:
    name: str
    frames: deque[Samples]
    scheduled_end: int
    """Media time its last sample is scheduled to end at (no latency shift)."""


@dataclass(frozen=True, slots=True)
class PlayedItem:
    """An outgoing item whose mark Twilio echoed: when it was scheduled to end, and when it
    really did (the echo's arrival), both media time."""

    name: str
    scheduled_end: int
    played_end: int


class OutboundAudio:
    """Shopper's audio to the far end: queued, sent paced, stamped by Twilio's marks."""

    def __init__(self, clock: MediaClock, prefix: str) -> None:
        self._clock = clock
        self._items: deque[_Item] = deque()
        self._waiting_marks: dict[str, _Item] = {}
        self._queued_until = 0
        """Frame index after the last queued frame (schedule, unshifted)."""
        self._names = (f"{prefix}-{n}" for n in itertools.count(1))
        self.latency = 0
        """Playout latency from the latest mark echo, in samples."""
        self.played: list[PlayedItem] = []
        self._near: dict[int, Samples] = {}
        self._sender: asyncio.Task[None] | None = None
        self._send: SendJson | None = None
        self._stream_sid: str | None = None
        self._wake = asyncio.Event()

    def connect(self, stream_sid: str, send: SendJson) -> None:
        """A bidirectional stream is open: start sending what is queued."""
        self._stream_sid, self._send = stream_sid, send
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_loop())
        self._wake.set()

    def disconnect(self) -> None:
        self._stream_sid, self._send = None, None

    def queue(self, samples: Samples) -> Sent:
        """Queue audio after what is queued; where it will be heard (latency-shifted)."""
        first = max(self._clock.now // FRAME_SAMPLES + 1, self._queued_until)
        frames: deque[Samples] = deque()
        for offset in range(0, len(samples), FRAME_SAMPLES):
            frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
            chunk = samples[offset : offset + FRAME_SAMPLES]
            frame[: len(chunk)] = chunk
            frames.append(frame)
        if not frames:
            start = first * FRAME_SAMPLES + self.latency
            return Sent(start, start)
        shift = round(self.latency / FRAME_SAMPLES)
        for number, frame in enumerate(frames):
            self._near[first + number + shift] = frame
        self._queued_until = first + len(frames)
        end = first * FRAME_SAMPLES + len(samples)
        self._items.append(_Item(next(self._names), frames, end))
        self._wake.set()
        return Sent(first * FRAME_SAMPLES + shift * FRAME_SAMPLES, end + shift * FRAME_SAMPLES)

    def near(self, index: int) -> Samples:
        """What shopper's side played in frame `index` (silence when nothing)."""
        frame = self._near.pop(index, None)
        return frame if frame is not None else np.zeros(FRAME_SAMPLES, dtype=np.int16)

    def mark_echoed(self, name: str) -> None:
        item = self._waiting_marks.pop(name, None)
        if item is None:
            return
        played_end = self._clock.now
        self.latency = max(0, played_end - item.scheduled_end)
        self.played.append(PlayedItem(name, item.scheduled_end, played_end))

    def stop(self) -> None:
        """The call has ended: drop what is queued and stop sending."""
        self._items.clear()
        self._near.clear()
        if self._sender is not None:
            self._sender.cancel()
            self._sender = None

    async def _send_loop(self) -> None:
        """Send each queued frame LEAD_S before its time, its item's mark after its last."""
        while True:
            if not self._items or self._send is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._items[0]
            frame_index = (item.scheduled_end - 1) // FRAME_SAMPLES - len(item.frames) + 1
            due = self._clock.at(frame_index * FRAME_SAMPLES) - LEAD_S
            delay = due - asyncio.get_running_loop().time()
            if delay > 0:
                await asyncio.sleep(delay)
            frame = item.frames.popleft()
            await self._send_media(frame)
            if not item.frames:
                self._items.popleft()
                self._waiting_marks[item.name] = item
                await self._send_mark(item.name)

    async def _send_media(self, frame: Samples) -> None:
        if self._send is None or self._stream_sid is None:
            return
        payload = base64.b64encode(bytes(ulaw_encode(frame))).decode("ascii")
        await self._send(
            {"event": "media", "streamSid": self._stream_sid, "media": {"payload": payload}}
        )

    async def _send_mark(self, name: str) -> None:
        if self._send is None or self._stream_sid is None:
            return
        await self._send({"event": "mark", "streamSid": self._stream_sid, "mark": {"name": name}})
