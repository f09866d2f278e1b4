"""RTP packets (RFC 3550) and telephone-events (RFC 4733): the bytes on the wire."""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
_HEADER = struct.Struct("!BBHII")
_EVENT = struct.Struct("!BBH")
EVENT_KEYS = "0123456789*#ABCD"
"""RFC 4733 event codes 0-15, in order."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def to_bytes(self) -> bytes:
        header = _HEADER.pack(
            RTP_VERSION << 6,
            (0x80 if self.marker else 0) | self.payload_type,
            self.sequence & 0xFFFF,
            self.timestamp & 0xFFFFFFFF,
            self.ssrc,
        )
        return header + self.payload


def parse_rtp(data: bytes) -> RtpPacket | None:
    """The packet in a datagram, or None for anything that is not RTP version 2 (RTCP on
    the same port, STUN, garbage)."""
    if len(data) < _HEADER.size:
        return None
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION or 72 <= (second & 0x7F) <= 76:  # 72-76: RTCP
        return None
    offset = _HEADER.size + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if first & 0x20 and end > offset:  # padding
        end -= data[-1]
    if end < offset:
        return None
    return RtpPacket(
        second & 0x7F, sequence, timestamp, ssrc, data[offset:end], bool(second & 0x80)
    )


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    key: str
    end: bool
    volume: int
    duration: int
    """Samples since the event's timestamp."""

    def to_bytes(self) -> bytes:
        return _EVENT.pack(
            EVENT_KEYS.index(self.key), (0x80 if self.end else 0) | self.volume, self.duration
        )


def parse_event(payload: bytes) -> TelephoneEvent | None:
    """A key event (0-9, *, #, A-D); None for other events (flash, tones) or a short payload."""
    if len(payload) < _EVENT.size:
        return None
    code, flags, duration = _EVENT.unpack_from(payload)
    if code >= len(EVENT_KEYS):
        return None
    return TelephoneEvent(EVENT_KEYS[code], bool(flags & 0x80), flags & 0x3F, duration)
