"""One RTP audio stream both ways, on media time: paced sending, jitter-buffered receiving.

Nothing here knows about SIP: a caller (the SIP carrier) or a server can open a stream,
point it at the far end's address and codec once signalling says them, and read frames.

Media time starts at `start` (the event loop's clock when the call was placed). Outgoing
frame k goes on the wire at start + k·20 ms: queued audio or key events in order, silence
when nothing is queued, so what `queue_audio` and `queue_keys` return is where their first
and last samples really go out. Keys go out as `keys` says (shopper.carriers.sip.keys): RFC
4733 telephone-events (one event per key, updated every 20 ms, its end sent three times),
the tones themselves in the audio (in-band), or handed to `on_key_out` in the frame the key
starts in, for the signalling to send (SIP INFO) while the audio carries silence. Whichever
way, the tones the keys stand for are kept as the near side's audio so that the recording
shows them. Incoming frame k is released at
start + (k+1)·20 ms + DEPTH: what the jitter buffer holds for it, silence if nothing came and
a later packet shows that its own was lost. While nothing later has come either (a sender, a
network or this process that stalled delivers its packets in a burst afterwards), frame k
waits for them up to start + (k+1)·20 ms + STALL_WAIT, and no longer than STALL_WAIT after
the last packet came.
Incoming telephone-events are reported once each, when their end arrives. Media comes back
from wherever the far end really sends it from (symmetric RTP): the first packet's source
address becomes where ours go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopper.audio.dtmf import dtmf_tone
from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, Samples
from shopper.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from shopper.carriers.base import CarrierError, MediaStats, Sent
from shopper.carriers.sip.jitter import JitterBuffer
from shopper.carriers.sip.keys import DtmfMethod
from shopper.carriers.sip.rtp import RtpPacket, TelephoneEvent, parse_event, parse_rtp
from shopper.carriers.sip.rtpstats import RtpStats

FRAME_S = FRAME_SAMPLES / TELEPHONY_RATE
DEPTH_S = 0.08
"""How long after its time a received frame is released: jitter up to this is absorbed."""
STALL_WAIT_S = 0.5
"""How long after its time a frame waits for audio while no packet for it or any later frame
has come: a far end that stalls for a moment on a busy machine sends the stalled packets at
once afterwards, and releasing their frames as silence at DEPTH_S loses them: a gap of lost
audio inside a prompt can pass for the prompt's end. A frame waits only while the stream is
silent, so a steady stream is heard DEPTH_S behind as before, and no longer than STALL_WAIT_S
after the last packet came: a far end that stops sending (a caller that sends no RTP while
silent, a far end holding the call) delays the frames once, then they catch up. No more than
the jitter buffer's RESYNC, within which a late burst keeps its places."""
EVENT_VOLUME = 10
"""RFC 4733 volume of our key events (-10 dBm0, a typical keypad level)."""
END_REPEATS = 3
DigitHandler = Callable[[str, int, int], None]
"""(key, media time of its start, duration in samples)."""
KeyOutHandler = Callable[[str, int], None]
"""(key, duration in samples): a key to send outside the RTP stream, now."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Codec:
    name: str
    payload_type: int

    def encode(self, samples: Samples) -> bytes:
        return bytes((ulaw_encode if self.payload_type == 0 else alaw_encode)(samples))

    def decode(self, payload: bytes) -> Samples:
        return (ulaw_decode if self.payload_type == 0 else alaw_decode)(payload)


PCMU = Codec("PCMU", 0)
PCMA = Codec("PCMA", 8)
CODECS_BY_TYPE = {PCMU.payload_type: PCMU, PCMA.payload_type: PCMA}


@dataclass(frozen=True, slots=True)
class _AudioOut:
    samples: Samples


@dataclass(frozen=True, slots=True)
class _EventOut:
    key: str
    first_frame: int
    frames: int
    index: int
    near: Samples


_Out = _AudioOut | _EventOut


class RtpStream:
    def __init__(
        self,
        start: float,
        on_digit: DigitHandler | None = None,
        keys: DtmfMethod = "rfc4733",
        on_key_out: KeyOutHandler | None = None,
    ) -> None:
        if keys == "info" and on_key_out is None:
            raise ValueError("keys sent outside RTP need on_key_out")
        self._loop = asyncio.get_running_loop()
        self.start = start
        self._on_digit = on_digit
        self._keys = keys
        self._on_key_out = on_key_out
        self._transport: asyncio.DatagramTransport | None = None
        self.local: tuple[str, int] = ("0.0.0.0", 0)
        self._remote: tuple[str, int] | None = None
        self._learned_remote = False
        self._codec = PCMU
        self._event_type: int | None = None
        self.jitter = JitterBuffer()
        self._audio_in = asyncio.Event()
        """Set when a packet's audio is placed in the jitter buffer."""
        self._stats = RtpStats()
        self._digits_seen: set[tuple[int, int]] = set()
        self._outgoing: deque[_Out] = deque()
        self._near: dict[int, Samples] = {}
        self._next_send = 0
        self._queued_until = 0
        """Frame index after the last queued frame."""
        self._ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp_base = secrets.randbits(32)
        self._sender: asyncio.Task[None] | None = None
        self.last_packet_at: int | None = None
        """Media time the last packet arrived at (None: none yet)."""
        self.sending = True
        """False: frames are paced as usual but none goes on the wire (a served line that
        rings sends no media until it answers or opens early media)."""

    # --- setting up -------------------------------------------------------------------------

    async def open(self, address: str, ports: tuple[int, int] | None) -> None:
        """Bind the RTP socket (an even port in `ports`, else any) and start sending."""
        candidates = range(ports[0] + ports[0] % 2, ports[1] + 1, 2) if ports else [0]
        for port in candidates:
            try:
                transport, _ = await self._loop.create_datagram_endpoint(
                    lambda: _Receiver(self),
                    local_addr=(address, port),
                    family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                )
            except OSError:
                continue
            self._transport = transport
            sockname = transport.get_extra_info("sockname")
            self.local = (str(sockname[0]), int(sockname[1]))
            self._sender = self._loop.create_task(self._send_loop())
            return
        wanted = f"ports {ports[0]}-{ports[1]}" if ports else "any port"
        raise CarrierError(f"no free RTP port on {address} ({wanted})")

    def point_at(self, remote: tuple[str, int], codec: Codec, event_type: int | None) -> None:
        """Send to `remote` with `codec`; key events with payload type `event_type`."""
        if not self._learned_remote:
            self._remote = remote
        self._codec = codec
        self._event_type = event_type

    def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def now(self) -> int:
        """Media time on the event loop's clock."""
        return round((self._loop.time() - self.start) * TELEPHONY_RATE)

    # --- sending ----------------------------------------------------------------------------

    def queue_audio(self, samples: Samples) -> Sent:
        first = max(self._next_send, self._queued_until)
        for offset in range(0, len(samples), FRAME_SAMPLES):
            frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
            chunk = samples[offset : offset + FRAME_SAMPLES]
            frame[: len(chunk)] = chunk
            self._outgoing.append(_AudioOut(frame))
        self._queued_until = first + -(-len(samples) // FRAME_SAMPLES)
        return Sent(first * FRAME_SAMPLES, first * FRAME_SAMPLES + len(samples))

    def queue_keys(self, keys: str, tone_s: float, gap_s: float) -> Sent:
        """Each key as one RFC 4733 event of `tone_s`, then `gap_s` of silence (also after
        the last key), in whole frames."""
        first = max(self._next_send, self._queued_until)
        frame = first
        tone_frames = max(1, round(tone_s / FRAME_S))
        gap_frames = max(1, round(gap_s / FRAME_S))
        for key in keys:
            tone = dtmf_tone(key, tone_frames * FRAME_S)
            for index in range(tone_frames):
                near = tone[index * FRAME_SAMPLES : (index + 1) * FRAME_SAMPLES]
                self._outgoing.append(_EventOut(key, frame, tone_frames, index, near))
            frame += tone_frames
            silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
            self._outgoing.extend(_AudioOut(silence) for _ in range(gap_frames))
            frame += gap_frames
        self._queued_until = frame
        return Sent(first * FRAME_SAMPLES, frame * FRAME_SAMPLES)

    def stop_sending(self) -> None:
        """Drop what is queued (the call has ended)."""
        self._outgoing.clear()
        self._queued_until = self._next_send

    async def _send_loop(self) -> None:
        while True:
            await asyncio.sleep(
                max(0.0, self.start + self._next_send * FRAME_S - self._loop.time())
            )
            self._send_frame(self._next_send)
            self._next_send += 1

    def _send_frame(self, index: int) -> None:
        item = self._outgoing.popleft() if self._outgoing else None
        timestamp = self._timestamp_base + index * FRAME_SAMPLES
        if isinstance(item, _EventOut):
            self._near[index] = item.near
            if self._keys == "rfc4733":
                self._send_event(item)
                return
            if self._keys == "inband":
                tones = self._codec.encode(item.near)
                self._send(self._codec.payload_type, timestamp, tones, False)
                return
            if item.index == 0 and self._on_key_out is not None:
                self._on_key_out(item.key, item.frames * FRAME_SAMPLES)
            item = None
        samples = item.samples if item is not None else np.zeros(FRAME_SAMPLES, dtype=np.int16)
        if item is not None and np.any(samples):
            self._near[index] = samples
        self._send(self._codec.payload_type, timestamp, self._codec.encode(samples), index == 0)

    def _send_event(self, item: _EventOut) -> None:
        if self._event_type is None:
            return  # no telephone-event negotiated: nothing can carry the key
        timestamp = self._timestamp_base + item.first_frame * FRAME_SAMPLES
        end = item.index == item.frames - 1
        event = TelephoneEvent(item.key, end, EVENT_VOLUME, (item.index + 1) * FRAME_SAMPLES)
        for _ in range(END_REPEATS if end else 1):
            self._send(self._event_type, timestamp, event.to_bytes(), item.index == 0)

    def _send(self, payload_type: int, timestamp: int, payload: bytes, marker: bool) -> None:
        if self._transport is None or self._remote is None or not self.sending:
            return
        packet = RtpPacket(payload_type, self._sequence, timestamp, self._ssrc, payload, marker)
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._transport.sendto(packet.to_bytes(), self._remote)

    # --- receiving --------------------------------------------------------------------------

    def received(self, data: bytes, source: tuple[str, int]) -> None:
        packet = parse_rtp(data)
        if packet is None:
            return
        codec = CODECS_BY_TYPE.get(packet.payload_type)
        is_event = packet.payload_type == self._event_type
        if codec is None and not is_event:
            return
        if not self._learned_remote:
            self._remote, self._learned_remote = source, True
        arrival = self.now
        self.last_packet_at = arrival
        arrival_s = self._loop.time() - self.start
        if codec is not None:
            samples = codec.decode(packet.payload)
            placed = self.jitter.push(
                packet.ssrc, packet.sequence, packet.timestamp, samples, arrival
            )
            if placed != "duplicate":
                self._stats.received(packet.ssrc, packet.sequence, packet.timestamp, arrival_s)
            if placed == "late":
                self._stats.late()
            else:
                self._audio_in.set()
            return
        event = parse_event(packet.payload)
        self._stats.received(packet.ssrc, packet.sequence, packet.timestamp, arrival_s)
        if event is None or not event.end or self._on_digit is None:
            return
        key = (packet.ssrc, packet.timestamp)
        if key in self._digits_seen:
            return
        self._digits_seen.add(key)
        at = self.jitter.position(packet.ssrc, packet.timestamp, arrival - event.duration)
        self._on_digit(event.key, at, event.duration)

    async def next_frame(self) -> tuple[Samples, Samples, int]:
        """The next far-end frame once its time (and the buffer's depth) has passed, the near
        side's audio in the same 20 ms, and the frame's media time."""
        index = self.jitter.next_frame
        due = self.start + (index + 1) * FRAME_S + DEPTH_S
        await asyncio.sleep(max(0.0, due - self._loop.time()))
        # Once more round the loop before taking it: after a stall (a busy machine) the
        # frames are late and due at once, and the packets waiting in the socket must be
        # placed before their frames are taken, not counted as late.
        await asyncio.sleep(0)
        if self.last_packet_at is not None:
            last_arrival = self.start + self.last_packet_at / TELEPHONY_RATE
            until = min(due - DEPTH_S, last_arrival) + STALL_WAIT_S
            await self._wait_for_stalled_audio(index, until)
        far, _ = self.jitter.pop()
        near = self._near.pop(index, None)
        if near is None:
            near = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        return far, near, index * FRAME_SAMPLES

    async def _wait_for_stalled_audio(self, index: int, until: float) -> None:
        """Until audio for frame `index` or a later one is in, or the loop's clock reaches
        `until` (see STALL_WAIT_S): only a later packet tells a lost packet from a late one."""
        while self._transport is not None and not self.jitter.holds_from(index):
            remaining = until - self._loop.time()
            if remaining <= 0:
                return
            self._audio_in.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._audio_in.wait()

    def stats(self, end: int) -> MediaStats:
        """The reception figures, the stream having ended at media time `end`."""
        self._stats.close(end / TELEPHONY_RATE)
        return self._stats.snapshot()


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, stream: RtpStream) -> None:
        self._stream = stream

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            self._stream.received(data, (str(addr[0]), int(addr[1])))
        except Exception:  # one bad packet must not stop the stream
            log.exception("RTP packet from %s dropped", addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP socket error: %s", exc)
