"""The SIP carrier's pure parts: the jitter buffer, RTP statistics (RFC 3550), the trace's
masking and target parsing. No sockets; the real peers are in test_sip_carrier.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from aiosipua import SipMessage, SipRequest, SipResponse

from shopper.audio.frame import FRAME_SAMPLES
from shopper.carriers.safety import UnsafeNumberError
from shopper.carriers.sip.jitter import JitterBuffer
from shopper.carriers.sip.rtp import RtpPacket, TelephoneEvent, parse_event, parse_rtp
from shopper.carriers.sip.rtpstats import RtpStats
from shopper.carriers.sip.settings import load_sip_settings
from shopper.carriers.sip.stream import TcpSipTransport, read_message
from shopper.carriers.sip.target import SipTargetError, parse_sip_target
from shopper.carriers.sip.trace import mask_secrets
from shopper.config import ConfigError

SSRC = 0x1234


def tone(index: int) -> np.ndarray:
    """A frame whose every sample names the packet it came from."""
    return np.full(FRAME_SAMPLES, 100 + index, dtype=np.int16)


def push(buffer: JitterBuffer, index: int, arrival_frame: float, ssrc: int = SSRC) -> str:
    """Packet `index` (sequence and timestamp follow it) arriving at `arrival_frame` frames."""
    return buffer.push(
        ssrc,
        1000 + index,
        50_000 + index * FRAME_SAMPLES,
        tone(index),
        round((arrival_frame + 1) * FRAME_SAMPLES),
    )


def drain(buffer: JitterBuffer, count: int) -> list[int]:
    """The packet index each frame holds, -1 for silence."""
    out = []
    for _ in range(count):
        frame, had = buffer.pop()
        out.append(int(frame[0]) - 100 if had else -1)
        assert had == bool(np.any(frame))
    return out


def test_reordered_packets_come_out_in_order() -> None:
    buffer = JitterBuffer()
    for index, arrival in [(0, 0), (2, 1.9), (1, 2.1), (4, 3.8), (3, 4.2), (5, 5)]:
        assert push(buffer, index, arrival) == "placed"
    assert drain(buffer, 6) == [0, 1, 2, 3, 4, 5]


def test_duplicates_are_dropped() -> None:
    buffer = JitterBuffer()
    assert push(buffer, 0, 0) == "placed"
    assert push(buffer, 0, 0.5) == "duplicate"
    assert push(buffer, 1, 1) == "placed"
    assert drain(buffer, 2) == [0, 1]


def test_lost_packets_are_silence_and_media_time_stays_true() -> None:
    buffer = JitterBuffer()
    for index in (0, 1, 4, 5):  # 2 and 3 lost
        push(buffer, index, index)
    assert drain(buffer, 6) == [0, 1, -1, -1, 4, 5]


def test_a_packet_after_its_frame_was_played_is_late() -> None:
    buffer = JitterBuffer()
    push(buffer, 0, 0)
    push(buffer, 2, 2)
    assert drain(buffer, 3) == [0, -1, 2]
    assert push(buffer, 1, 3) == "late"


def test_a_new_ssrc_is_placed_where_it_arrives() -> None:
    """A far end that switches streams (a PBX bridging to an agent) restarts its timestamps:
    the new stream lands at its arrival, not at its random timestamp."""
    buffer = JitterBuffer()
    push(buffer, 0, 0)
    push(buffer, 1, 1)
    restarted = buffer.push(0x9999, 7, 123, tone(9), 4 * FRAME_SAMPLES)
    assert restarted == "placed"
    assert drain(buffer, 4) == [0, 1, -1, 9]


def test_rtp_and_telephone_event_round_trip() -> None:
    event = TelephoneEvent("#", True, 10, 800)
    packet = RtpPacket(101, 65535, 4_000_000_000, SSRC, event.to_bytes(), marker=True)
    parsed = parse_rtp(packet.to_bytes())
    assert parsed == packet
    assert parse_event(parsed.payload) == event
    assert parse_rtp(b"\x00" * 12) is None  # version 0: not RTP
    assert parse_rtp(bytes([0x80, 200]) + b"\x00" * 10) is None  # RTCP sender report


def test_loss_counts_sequence_gaps_across_wrap_around() -> None:
    stats = RtpStats()
    sequences = [65530 + i for i in range(6)] + list(range(0, 10))  # wraps at 65535
    sequences.remove(3)
    sequences.remove(65533)
    for n, sequence in enumerate(sequences):
        stats.received(SSRC, sequence % 65536, n * 160, n * 0.02)
    figures = stats.snapshot()
    assert (figures.packets, figures.lost) == (14, 2)
    assert figures.loss_pct == pytest.approx(2 / 16 * 100)


def test_steady_arrival_has_no_jitter_and_alternating_delay_has_its_amplitude() -> None:
    steady = RtpStats()
    for n in range(200):
        steady.received(SSRC, n, n * 160, 1.0 + n * 0.02)
    assert steady.snapshot().jitter_ms == pytest.approx(0.0, abs=1e-9)
    alternating = RtpStats()  # every other packet 10 ms late: |D| is 10 ms each time
    for n in range(400):
        alternating.received(SSRC, n, n * 160, 1.0 + n * 0.02 + (0.01 if n % 2 else 0.0))
    assert alternating.snapshot().jitter_ms == pytest.approx(10.0, rel=0.01)


def test_the_longest_gap_includes_a_stream_that_stopped() -> None:
    stats = RtpStats()
    for n in range(50):
        stats.received(SSRC, n, n * 160, n * 0.02)
    stats.received(SSRC, 50, 50 * 160, 0.98 + 1.5)  # 1.5 s hole
    assert stats.snapshot().longest_gap_s == pytest.approx(1.5)
    stats.close(0.98 + 1.5 + 4.0)  # then nothing for 4 s until the call ended
    assert stats.snapshot().longest_gap_s == pytest.approx(4.0)


def test_late_packets_count_as_lost() -> None:
    stats = RtpStats()
    for n in range(10):
        stats.received(SSRC, n, n * 160, n * 0.02)
    stats.late()
    figures = stats.snapshot()
    assert (figures.packets, figures.lost) == (9, 1)


def test_the_trace_masks_digest_responses_and_the_password() -> None:
    message = (
        "INVITE sip:ivr@pbx SIP/2.0\r\n"
        'Proxy-Authorization: Digest username="alice", realm="pbx", nonce="n1", '
        'uri="sip:ivr@pbx", response="0123456789abcdef", cnonce="c1", qop=auth, nc=00000001\r\n'
        "X-Note: hunter2\r\n"
    )
    masked = mask_secrets(message, "hunter2")
    assert "0123456789abcdef" not in masked and '"c1"' not in masked
    assert "hunter2" not in masked
    assert 'username="alice"' in masked and 'realm="pbx"' in masked


@pytest.mark.parametrize(
    ("text", "uri"),
    [
        ("sip:ivr@127.0.0.1:5070", "sip:ivr@127.0.0.1:5070"),
        ("sip:+15550100000@pbx.example.com", "sip:+15550100000@pbx.example.com"),
        ("sip:1000@10.0.0.5;transport=udp", "sip:1000@10.0.0.5;transport=udp"),
        ("sip:ivr@10.0.0.5:5080;transport=TCP", "sip:ivr@10.0.0.5:5080;transport=tcp"),
        ("+1 555 010 0000", "sip:+15550100000@trunk.example.com"),
    ],
)
def test_targets(text: str, uri: str) -> None:
    assert parse_sip_target(text).uri("trunk.example.com") == uri


def test_the_target_s_transport_wins_over_the_setting() -> None:
    """Only a target that names its transport has one; the rest take `[sip] transport`."""
    assert parse_sip_target("sip:ivr@pbx:5080;transport=tcp").transport == "tcp"
    assert parse_sip_target("sip:ivr@pbx;transport=udp").transport == "udp"
    assert parse_sip_target("sip:ivr@pbx").transport is None
    assert parse_sip_target("+15550100000").transport is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("sip:911@pbx.example.com", UnsafeNumberError),
        ("sip:+19005550100@pbx.example.com", UnsafeNumberError),
        ("sip:ivr@pbx;transport=tls", SipTargetError),
        ("sip:ivr@pbx;transport=sctp", SipTargetError),
        ("sips:ivr@pbx", SipTargetError),
        ("ivr.example.com", SipTargetError),
    ],
)
def test_refused_targets(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_sip_target(text)


def test_a_bare_number_needs_a_trunk() -> None:
    with pytest.raises(SipTargetError, match=r"\[sip\] domain"):
        parse_sip_target("+15550100000").uri(None)


def test_settings_come_from_the_config_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[sip]\ndomain = "pbx.example.com"\nuser = "alice"\npassword = "from-file"\n'
        'rtp_ports = "20000-20099"\ncodecs = ["PCMA", "PCMU"]\nproxy = "sbc.example.com"\n'
        'dtmf = "inband"\nregister = true\n'
    )
    monkeypatch.setenv("SHOPPER_CONFIG", str(config))
    monkeypatch.setenv("SHOPPER_SIP_PASSWORD", "from-env")
    settings = load_sip_settings()
    assert (settings.domain, settings.user, settings.password) == (
        "pbx.example.com",
        "alice",
        "from-env",
    )
    assert settings.rtp_ports == (20000, 20099) and settings.codecs == ("PCMA", "PCMU")
    assert settings.proxy == ("sbc.example.com", 5060)
    assert settings.dtmf == "inband" and settings.register
    assert "from-env" not in repr(settings)
    monkeypatch.setenv("SHOPPER_SIP_DTMF", "INFO")
    assert load_sip_settings().dtmf == "info"
    assert settings.transport == "udp"
    monkeypatch.setenv("SHOPPER_SIP_TRANSPORT", "TCP")
    assert load_sip_settings().transport == "tcp"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('codecs = ["G729"]', "'G729' is not supported"),
        ('rtp_ports = "20000"', "is not a port range"),
        ('passwd = "x"', "has no key 'passwd'"),
        ('dtmf = "sip-info"', "'sip-info' is not a way to send keys"),
        ('register = "sometimes"', "'sometimes' is not true or false"),
        ('transport = "tls"', "'tls' is not a SIP transport shopper speaks"),
    ],
)
def test_bad_settings_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, message: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[sip]\n{line}\n")
    monkeypatch.setenv("SHOPPER_CONFIG", str(config))
    with pytest.raises(ConfigError, match=message) as raised:
        load_sip_settings()
    assert str(config) in str(raised.value) and "\n" not in str(raised.value)


def test_a_burst_after_a_stall_keeps_its_places() -> None:
    """A sender (or receiver) that stalls 0.6 s on a busy machine delivers the packets of
    the stall all at once: those whose frames are not yet played go where their timestamps
    say, and the stream after them stays where it was (before, the burst re-anchored the
    stream and moved the rest of the audio by the stall)."""
    buffer = JitterBuffer()
    for index in range(100):
        push(buffer, index, 40 if 10 <= index < 40 else index)
    assert drain(buffer, 100) == list(range(100))


def test_lateness_that_lasts_re_anchors_the_stream() -> None:
    """A stream whose timestamps stay a second behind their arrival (a clock that jumped
    back) is placed where it arrives once that has lasted RESYNC of arrival time: some
    packets are lost, then the stream plays again instead of being late for ever."""
    buffer = JitterBuffer()
    for index in range(10):
        push(buffer, index, index)
    placed = [push(buffer, index, index + 50) for index in range(10, 60)]
    assert drain(buffer, 10) == list(range(10))
    assert placed[:25] == ["placed"] * 25  # within RESYNC of arrival: its timestamp's place
    heard = drain(buffer, 100)
    assert heard[:25] == list(range(10, 35))
    assert heard[-10:] == list(range(50, 60))


OPTIONS = (
    b"OPTIONS sip:shopper@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.1:5999;branch=z9hG4bKtest1\r\n"
    b"From: <sip:pbx@192.0.2.1>;tag=a\r\nTo: <sip:shopper@127.0.0.1>\r\n"
    b"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nl: 4\r\n\r\nbody"
)


def test_sip_over_tcp_is_framed_by_content_length() -> None:
    """Keep-alive CRLFs before a message are skipped, the compact `l:` is read, and a body
    split across reads is waited for; the end of the stream is None."""

    async def read() -> list[bytes | None]:
        reader = asyncio.StreamReader()
        reader.feed_data(b"\r\n\r\n" + OPTIONS[:-2])
        reader.feed_data(OPTIONS[-2:] + OPTIONS)
        reader.feed_eof()
        return [await read_message(reader) for _ in range(3)]

    assert asyncio.run(read()) == [OPTIONS, OPTIONS, None]


def test_a_response_over_tcp_goes_back_on_the_request_s_connection() -> None:
    """RFC 3261 §18.2.2: on the connection the request came in on, not to its Via's address
    (192.0.2.1:5999 here, which nobody could reach)."""

    async def exchange() -> bytes | None:
        transport = TcpSipTransport(("127.0.0.1", 0))

        def answer(request: SipRequest | SipResponse, source: tuple[str, int]) -> None:
            assert isinstance(request, SipRequest)
            response = SipResponse(status_code=200, reason_phrase="OK")
            for name in ("Via", "From", "To", "Call-ID", "CSeq"):
                response.headers.set_single(name, request.headers.get_first(name) or "")
            transport.send_reply(response)

        transport.on_message = answer
        await transport.start()
        reader, writer = await asyncio.open_connection(*transport.local_addr)
        writer.write(OPTIONS)
        response = await asyncio.wait_for(read_message(reader), 5)
        writer.close()
        await transport.stop()
        return response

    response = asyncio.run(exchange())
    assert response is not None and response.startswith(b"SIP/2.0 200 OK\r\n")
    assert b"branch=z9hG4bKtest1" in response


def test_a_request_over_tcp_after_the_far_end_closed_the_connection_opens_a_new_one() -> None:
    """A PBX that drops an idle connection (a long hold) still gets the next request."""

    async def exchange() -> list[bytes | None]:
        arrived: asyncio.Queue[bytes | None] = asyncio.Queue()
        connections = 0

        async def pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            if connections == 1:
                writer.close()  # the first connection: closed at once, as an idle timeout
                return
            await arrived.put(await read_message(reader))
            writer.close()

        server = await asyncio.start_server(pbx, "127.0.0.1", 0)
        where = server.sockets[0].getsockname()[:2]
        transport = TcpSipTransport(("127.0.0.1", 0))
        await transport.start()
        await transport.connect(where)
        await asyncio.sleep(0.2)  # the close reaches the transport
        transport.send(SipMessage.parse(OPTIONS), where)
        received = [await asyncio.wait_for(arrived.get(), 5)]
        await transport.stop()
        server.close()
        return received

    (received,) = asyncio.run(exchange())
    assert received is not None and received.startswith(b"OPTIONS sip:shopper@127.0.0.1")
