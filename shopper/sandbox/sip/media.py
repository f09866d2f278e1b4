"""One served call's RTP: the SDP answer to the caller's offer, and the call's RTP stream.

The stream is the SIP carrier's own (`shopper.carriers.sip.media.RtpStream`): one RTP
implementation for both ends of shopper, with its jitter buffer (reordering, duplicates,
losses as silence), RFC 4733 events and ITU-T G.711. Its receive side is the served call's
media clock: the phone system takes the caller's frame k when the stream releases it (20 ms
apart, a jitter buffer's depth after its time) and queues its own frame k to go out next, so
the IVR hears and speaks on one clock that keeps up with real time.

Codecs are PCMU and PCMA, in the caller's order of preference. Telephone-events are answered
with the payload type the caller offered (RFC 3264: the answerer uses the offerer's number),
so keys arrive whatever number the caller's stack picked (pjsip 120, baresip/SIPp 101).
RTP is symmetric: the phone system sends to where the caller's media really comes from once
it arrives, as a caller behind NAT needs. Nothing goes out until the phone answers or opens
early media (`start_sending`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiosipua import SdpMessage, SdpNegotiationError, negotiate_sdp

from shopper.audio.frame import Samples
from shopper.carriers.sip.media import CODECS_BY_TYPE, Codec, RtpStream

CODECS = [0, 8]
"""PCMU and PCMA (RFC 3551 static payload types)."""
UNUSED_DTMF_PAYLOAD_TYPE = 101
"""What aiosipua is told when the offer has no telephone-event (it then answers none)."""
RTP_PORTS = (20000, 30000)


class CallMedia:
    """RTP both ways for one call: `next_frame` gives the caller's audio on media time,
    `send` queues the phone's."""

    def __init__(
        self, stream: RtpStream, answer: SdpMessage, codec: Codec, events: int | None
    ) -> None:
        self._stream = stream
        self.answer = answer
        self._codec = codec
        self._events = events

    @classmethod
    async def open(
        cls, offer: SdpMessage, local_ip: str, on_key: Callable[[str, int], None]
    ) -> CallMedia:
        """Negotiate and bind; media time starts now. Raises SdpNegotiationError (no common
        codec, no audio) or CarrierError (no free RTP port)."""
        remote = offer.rtp_address
        if remote is None:
            raise SdpNegotiationError("the offer has no audio address (c= or m=audio missing)")
        events = _offered_telephone_event(offer)
        stream = RtpStream(
            asyncio.get_running_loop().time(),
            on_digit=lambda key, _at, duration: on_key(key, duration),
        )
        stream.sending = False
        await stream.open(local_ip, RTP_PORTS)
        try:
            answer, payload_type = negotiate_sdp(
                offer,
                local_ip=local_ip,
                rtp_port=stream.local[1],
                supported_codecs=CODECS,
                dtmf_payload_type=events or UNUSED_DTMF_PAYLOAD_TYPE,
                session_name="shopper sandbox",
            )
        except BaseException:
            stream.close()
            raise
        codec = CODECS_BY_TYPE[payload_type]
        stream.point_at((remote[0], int(remote[1])), codec, events)
        return cls(stream, answer, codec, events)

    async def next_frame(self) -> tuple[Samples, int]:
        """The caller's next 20 ms (silence where nothing arrived) and its media time."""
        far, _near, position = await self._stream.next_frame()
        return far, position

    def start_sending(self) -> None:
        """The phone answered or opened early media: its frames go on the wire from now."""
        self._stream.sending = True

    def send(self, samples: Samples) -> None:
        """Queue the phone's next frame (it goes out after those already queued)."""
        self._stream.queue_audio(samples)

    @property
    def last_packet_at(self) -> int | None:
        """Media time the caller's last packet arrived at (None: none yet)."""
        return self._stream.last_packet_at

    def retarget(self, offer: SdpMessage) -> None:
        """A re-INVITE moved the caller's media; the codec and events stay as answered (the
        answer to a re-INVITE is the first answer again). Symmetric RTP keeps sending to
        where the caller's packets come from once they have come."""
        remote = offer.rtp_address
        if remote is not None:
            self._stream.point_at((remote[0], int(remote[1])), self._codec, self._events)

    def close(self) -> None:
        self._stream.stop_sending()
        self._stream.close()


def _offered_telephone_event(offer: SdpMessage) -> int | None:
    audio = offer.audio
    if audio is not None:
        for codec in audio.codecs:
            if codec.encoding_name.lower() == "telephone-event":
                return codec.payload_type
    return None
