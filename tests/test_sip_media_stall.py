"""The SIP carrier's RTP stream over a real loopback socket, from a far end that stalls: the
packets it sends late in a burst are heard in their places, not released as silence."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
import pytest

from shopper.audio.frame import FRAME_SAMPLES
from shopper.carriers.sip.media import DEPTH_S, FRAME_S, PCMU, RtpStream
from shopper.carriers.sip.rtp import RtpPacket

pytestmark = pytest.mark.realtime  # paced on the wall clock

PACKETS = 60
STALLED = range(20, 38)
"""The packets the far end holds back, then sends at once with packet 38 (0.36 s late)."""


def level(index: int) -> np.ndarray:
    """Packet `index`'s audio: every sample says which packet it is."""
    return np.full(FRAME_SAMPLES, 200 * (index + 1), dtype=np.int16)


async def far_end(sock: socket.socket, to: tuple[str, int], start: float) -> None:
    loop = asyncio.get_running_loop()
    held: list[bytes] = []
    for index in range(PACKETS):
        await asyncio.sleep(max(0.0, start + index * FRAME_S - loop.time()))
        packet = RtpPacket(0, index, 8000 + index * FRAME_SAMPLES, 77, PCMU.encode(level(index)))
        held.append(packet.to_bytes())
        if index not in STALLED:
            for data in held:
                sock.sendto(data, to)
            held.clear()


async def heard_frames() -> tuple[list[np.ndarray], int]:
    loop = asyncio.get_running_loop()
    stream = RtpStream(loop.time())
    await stream.open("127.0.0.1", None)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    stream.point_at(sock.getsockname(), PCMU, None)
    sender = loop.create_task(far_end(sock, stream.local, stream.start))
    try:
        frames = [(await stream.next_frame())[0] for _ in range(PACKETS + 5)]
    finally:
        await sender
        stream.close()
        sock.close()
    return frames, stream.stats(stream.now).lost


def test_a_burst_sent_after_the_far_end_stalled_is_heard_in_its_places() -> None:
    assert max(STALLED) * FRAME_S - min(STALLED) * FRAME_S > 4 * DEPTH_S  # a real stall
    frames, lost = asyncio.run(heard_frames())
    with_audio = [frame for frame in frames if np.any(frame)]
    expected = [PCMU.decode(PCMU.encode(level(index))) for index in range(PACKETS)]
    assert len(with_audio) == PACKETS, f"{PACKETS - len(with_audio)} packets' audio lost"
    assert all(np.array_equal(a, b) for a, b in zip(with_audio, expected, strict=True))
    assert lost == 0
