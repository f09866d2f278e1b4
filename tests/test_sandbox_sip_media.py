"""The served phone system's media: RFC 4733 key events regenerated as tones
(shopper.sandbox.sip.keys), which the simulated phone system's own in-band receiver must hear
once each whatever the event's duration, and one call's RTP (shopper.sandbox.sip.media)."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
from aiosipua import SdpMessage, parse_sdp, serialize_sdp

from shopper.audio.dtmf import detect_dtmf
from shopper.audio.frame import FRAME_SAMPLES
from shopper.carriers.sip.rtp import RtpPacket, TelephoneEvent, parse_rtp
from shopper.sandbox.sip.keys import KeyTones
from shopper.sandbox.sip.media import CallMedia


def _heard(tones: KeyTones, frames: int) -> str:
    caller = np.full(FRAME_SAMPLES, 40, dtype=np.int16)
    audio = np.concatenate([tones.over(caller) for _ in range(frames)])
    return "".join(digit.digit for digit in detect_dtmf(audio))


def test_each_event_is_heard_as_one_key_press() -> None:
    tones = KeyTones()
    tones.event("1", 800)  # 100 ms
    tones.event("#", 80)  # 10 ms: a truncated event still makes a press the IVR can hear
    tones.event("9", 60000)  # 7.5 s: a runaway event is cut to one long press
    assert _heard(tones, 150) == "1#9"
    assert tones.pressed == ["1", "#", "9"]


def test_events_that_are_not_keys_leave_the_caller_audio_alone() -> None:
    tones = KeyTones()
    tones.event("?", 800)  # not a key (what some stacks report for flash, event 16)
    caller = np.arange(FRAME_SAMPLES, dtype=np.int16)
    assert np.array_equal(tones.over(caller), caller)
    assert tones.pressed == []


def _offer(port: int, formats: str, rtpmaps: str) -> SdpMessage:
    return parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP {formats}\r\n{rtpmaps}a=sendrecv\r\n"
    )


def test_a_call_answers_the_callers_codec_and_event_type_and_hears_its_keys() -> None:
    """A caller offering A-law and telephone-event 120 (pjsip's number): the phone's audio
    goes out as ITU-T G.711 A-law, nothing before it answers, and the caller's key events on
    120 are heard."""

    async def call() -> tuple[list[bytes], list[tuple[str, int]], str]:
        caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        caller.bind(("127.0.0.1", 0))
        caller.setblocking(False)
        offer = _offer(
            caller.getsockname()[1],
            "8 120",
            "a=rtpmap:8 PCMA/8000\r\na=rtpmap:120 telephone-event/8000\r\n",
        )
        keys: list[tuple[str, int]] = []
        media = await CallMedia.open(offer, "127.0.0.1", lambda key, d: keys.append((key, d)))
        try:
            await asyncio.sleep(0.1)
            before = _drain(caller)
            media.start_sending()
            media.send(np.full(FRAME_SAMPLES, 1000, dtype=np.int16))
            await asyncio.sleep(0.1)
            after = _drain(caller)
            server = (str(media.answer.rtp_address[0]), int(media.answer.rtp_address[1]))
            event = TelephoneEvent("5", True, 10, 800).to_bytes()
            caller.sendto(RtpPacket(120, 1, 8000, 42, event, True).to_bytes(), server)
            for _ in range(3):
                await media.next_frame()
            await asyncio.sleep(0.05)
        finally:
            media.close()
            caller.close()
        assert before == []
        answered = serialize_sdp(media.answer)
        return after, keys, answered

    sent, keys, answer = asyncio.run(call())
    audio = [parse_rtp(packet) for packet in sent]
    assert audio and all(p is not None and p.payload_type == 8 for p in audio)
    first = audio[0]
    assert first is not None and first.payload[0] == 0xFA  # +1000 in ITU-T G.711 A-law
    assert keys == [("5", 800)]
    assert "a=rtpmap:120 telephone-event/8000" in answer


def _drain(sock: socket.socket) -> list[bytes]:
    packets = []
    while True:
        try:
            packets.append(sock.recv(2048))
        except BlockingIOError:
            return packets
