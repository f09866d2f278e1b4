"""One served call's RTP: the SDP answer to the caller's offer, and the aiortp session.

Codecs are PCMU and PCMA, in the caller's order of preference. Telephone-events are answered
with the payload type the caller offered (RFC 3264: the answerer uses the offerer's number),
so keys arrive whatever number the caller's stack picked (pjsip 120, baresip/SIPp 101).
RTP is symmetric: the phone system sends to where the caller's media really comes from once
it arrives, as a caller behind NAT needs.

aiortp 0.8.0's PCMA codec inverts the sign bit (+1000 encodes as 0x7A where ITU-T G.711 and
audioop give 0xFA), so every A-law sample it sends or decodes has its polarity flipped against
any other stack. `ItuPcma` replaces it with shopper's own G.711 tables (shopper.audio.g711).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import aiortp
import numpy as np
from aiosipua import SdpMessage, SdpNegotiationError, negotiate_sdp

from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, Samples
from shopper.audio.g711 import alaw_decode, alaw_encode

CODECS = [0, 8]
"""PCMU and PCMA (RFC 3551 static payload types)."""
DEFAULT_DTMF_PAYLOAD_TYPE = 101
RTP_PORTS = (20000, 30000)
PCMA = 8


class ItuPcma(aiortp.Codec):
    """G.711 A-law as ITU-T G.711 defines it (aiortp's own flips the sign)."""

    @property
    def name(self) -> str:
        return "PCMA"

    @property
    def sample_rate(self) -> int:
        return TELEPHONY_RATE

    @property
    def samples_per_frame(self) -> int:
        return FRAME_SAMPLES

    def encode(self, pcm: bytes) -> bytes:
        return alaw_encode(np.frombuffer(pcm, dtype="<i2")).tobytes()

    def decode(self, payload: bytes) -> bytes:
        return alaw_decode(payload).astype("<i2").tobytes()


class CallMedia:
    """RTP both ways for one call; `send` takes one 20 ms frame at its media time."""

    def __init__(
        self,
        session: aiortp.RTPSession,
        answer: SdpMessage,
        port: int,
        ports: aiortp.PortAllocator,
    ) -> None:
        self._session = session
        self.answer = answer
        self._port = port
        self._ports = ports
        self._timestamp_base = random.getrandbits(32)
        self._closed = False

    @classmethod
    async def open(
        cls,
        offer: SdpMessage,
        local_ip: str,
        ports: aiortp.PortAllocator,
        on_audio: Callable[[bytes], None],
        on_key: Callable[[str, int], None],
    ) -> CallMedia:
        """Negotiate and bind. Raises SdpNegotiationError (no common codec, no audio) or
        OSError/RuntimeError (no free port pair)."""
        rtp_port, _ = await ports.allocate()
        try:
            dtmf = _offered_telephone_event(offer)
            answer, payload_type = negotiate_sdp(
                offer,
                local_ip=local_ip,
                rtp_port=rtp_port,
                supported_codecs=CODECS,
                dtmf_payload_type=dtmf,
                session_name="shopper sandbox",
            )
            remote = offer.rtp_address
            if remote is None:
                raise SdpNegotiationError("the offer has no audio address (c= or m=audio missing)")
            session = await aiortp.RTPSession.create(
                local_addr=(local_ip, rtp_port),
                remote_addr=remote,
                payload_type=payload_type,
                codec=ItuPcma() if payload_type == PCMA else None,
                dtmf_payload_type=dtmf,
                symmetric_rtp=True,
            )
        except BaseException:
            await ports.release(rtp_port)
            raise
        session.on_audio = lambda pcm, _timestamp: on_audio(pcm)
        session.on_dtmf = on_key
        return cls(session, answer, rtp_port, ports)

    def send(self, samples: Samples, position: int) -> None:
        """Send the frame whose first sample is at media time `position`."""
        if not self._closed:
            timestamp = (self._timestamp_base + position) & 0xFFFFFFFF
            self._session.send_audio_pcm(samples.astype("<i2").tobytes(), timestamp)

    def retarget(self, offer: SdpMessage) -> None:
        """A re-INVITE moved the caller's media."""
        remote = offer.rtp_address
        if remote is not None:
            self._session.update_remote(remote)

    @property
    def stats(self) -> dict[str, object]:
        return dict(self._session.stats)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._session.close()
        await self._ports.release(self._port)


def _offered_telephone_event(offer: SdpMessage) -> int:
    audio = offer.audio
    if audio is not None:
        for codec in audio.codecs:
            if codec.encoding_name.lower() == "telephone-event":
                return codec.payload_type
    return DEFAULT_DTMF_PAYLOAD_TYPE
