"""A SIP call as the engine sees it (the `Call` protocol), and the `sip` carrier's dialler.

Media time starts when the INVITE goes out. From then on frames flow in real time (silence
while it rings, early media from a 183 with SDP, the far end's audio once answered); what
the signalling says (ringing, early media, answer, far-end keys, hold and resume) reaches
the engine with the frame it happened in.

How a call ends, and what the result says:
- the far end hangs up (BYE): ended_by remote, cause hangup;
- a final response instead of an answer: 486/600 busy; 404/410/484/604 no-route (the failure
  kind `unreachable`); 401/407 or 403 once credentials were sent, auth-failed; 403/603
  otherwise refused; 408/480 no-answer; any other (5xx) failed; the status code and reason
  are the call's `end_status`;
- nobody answers within the ring timeout: CANCEL, cause no-answer; no response at all
  within 32 s (RFC 3261 Timer B): cause timeout;
- shopper hangs up, or the call reaches its maximum length: BYE once answered, CANCEL
  before, ended_by tester. `hangup` is what every exit path of the runner calls, Ctrl-C and
  exceptions included, so no call is left up.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable

from aiosipua import SipDigestAuth

from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, AudioFrame, Samples
from shopper.carriers.base import (
    CarrierError,
    DialCause,
    DialFailed,
    DuplexFrame,
    EndCause,
    EndedBy,
    EndStatus,
    MediaStats,
    Placed,
    Sent,
)
from shopper.carriers.options import DialOptions
from shopper.carriers.signals import (
    Answered,
    EarlyMedia,
    FarEndDigit,
    FarEndHold,
    FarEndResume,
    MediaResumed,
    MediaStopped,
    Ringing,
    Signal,
)
from shopper.carriers.sip.bye import AnsweredDialog
from shopper.carriers.sip.cancel import RingingInvite
from shopper.carriers.sip.media import CODECS_BY_TYPE, RtpStream
from shopper.carriers.sip.registration import SipRegistration
from shopper.carriers.sip.settings import CODECS, SipSettings, Transport, load_sip_settings
from shopper.carriers.sip.signalling import MediaOffer, SipDialog, offer_sdp
from shopper.carriers.sip.target import parse_sip_target
from shopper.carriers.sip.trace import SipTrace
from shopper.config import ConfigError
from shopper.errors import ShopperError

TIMER_B_S = 32.0
"""RFC 3261's INVITE transaction timeout: no response at all by then is a timeout."""
SETTLE_S = 2.0
"""How long hanging up waits for the far end to confirm the BYE or CANCEL."""
BUSY = {486, 600}
NO_ROUTE = {404, 410, 484, 604}
NO_ANSWER = {408, 480}
HELD = {"sendonly", "inactive"}
NO_RTP_S = 1.0
"""No packet for this long while the call is up is a stopped stream (packets come every
20 ms; a far end that suppresses silence sends comfort noise at least every few hundred)."""


class SipCall:
    def __init__(
        self,
        settings: SipSettings,
        request_uri: str,
        remote: tuple[str, int],
        local_address: str,
        options: DialOptions,
        domain: str,
        transport: Transport = "udp",
    ) -> None:
        self._settings = settings
        self._transport: Transport = transport
        self._domain = domain
        """The domain the user registers in (the trunk's, else the target's host)."""
        self._uri = request_uri
        self._remote = remote
        self._local_address = local_address
        self._ring_samples = round(options.ring_timeout_s * TELEPHONY_RATE)
        self._max_samples = round(options.max_duration_s * TELEPHONY_RATE)
        self._call_id = f"sip-{uuid.uuid4().hex[:12]}"
        trace = options.sip.trace
        self._trace = (
            SipTrace(trace, self._call_id, settings.password, transport.upper()) if trace else None
        )
        self._signals: list[Signal] = []
        self._ended_by: EndedBy | None = None
        self._end_cause: EndCause | None = None
        self._end_status: EndStatus | None = None
        self._ended_at: int | None = None
        self._stats: MediaStats | None = None
        self._rang = False
        self._early = False
        self._answered = False
        self._held = False
        self._answered_at = 0
        self._media_stopped = False
        self._streaming = False
        self._torn_down = False
        self._stream: RtpStream
        self._dialog: SipDialog
        self._registration: SipRegistration | None = None

    # --- placing ------------------------------------------------------------------------------

    async def place(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        self._stream = RtpStream(start, self._far_digit, self._settings.dtmf, self._key_out)
        await self._stream.open(self._local_address, self._settings.rtp_ports)
        self._dialog = SipDialog(
            self, self._local_address, self._remote, self._trace, self._media_s, self._transport
        )
        try:
            await self._dialog.start()
        except OSError as error:
            self._stream.close()
            raise self._connect_failure(error) from None
        if self._settings.register:
            await self._register()
        self._stream.start = loop.time()
        types = tuple(CODECS[name] for name in self._settings.codecs)
        sdp = offer_sdp(self._local_address, self._stream.local[1], types, "sendrecv")
        user = self._settings.user
        host = self._settings.domain or self._local_address
        auth = SipDigestAuth(user, self._settings.password) if self._settings.password else None
        self._dialog.invite(f"sip:{user}@{host}", self._uri, sdp, auth, self._settings.proxy)

    async def _register(self) -> None:
        """REGISTER this call's socket before the INVITE; a refusal ends the dial."""
        settings = self._settings
        self._registration = SipRegistration(
            self._dialog, settings.user, self._domain, settings.password
        )
        try:
            await self._registration.register()
        except BaseException:  # refused, timed out or interrupted: nothing is left open
            self._stream.close()
            await self._dialog.close()
            raise

    def _connect_failure(self, error: OSError) -> DialFailed:
        """Why the SIP socket could not be opened (over TCP: connected to the next hop)."""
        if self._transport == "tcp":
            cause: DialCause = (
                "refused" if isinstance(error, ConnectionRefusedError) else "no-route"
            )
            return DialFailed(
                cause, f"cannot connect to {self._where} over TCP: {error.strerror or error}"
            )
        return DialFailed("failed", f"cannot open a SIP socket on {self._local_address}: {error}")

    def _media_s(self) -> float:
        return self._stream.now / TELEPHONY_RATE

    # --- the Call protocol --------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def sip_call_id(self) -> str:
        """The dialog's SIP Call-ID, by which the far end knows the call (its logs, a
        served sandbox's truth file)."""
        return self._dialog.sip_call_id

    def watch_answered_dialog(self, watcher: Callable[[AnsweredDialog], None]) -> None:
        """Have `watcher` told, once the call is answered, what hanging it up from another
        process takes (a fleet worker records it for the worker that may take its run back)."""
        self._dialog.watch_answered_dialog(watcher)

    def watch_ringing_invite(self, watcher: Callable[[RingingInvite], None]) -> None:
        """Have `watcher` told, from the INVITE on, what cancelling it from another process
        takes (a fleet worker records it, as the answered dialog)."""
        self._dialog.watch_ringing_invite(watcher)

    @property
    def carrier(self) -> str:
        return "sip"

    @property
    def virtual_clock(self) -> bool:
        return False

    @property
    def ended_by(self) -> EndedBy | None:
        return self._ended_by

    @property
    def end_cause(self) -> EndCause | None:
        return self._end_cause

    @property
    def end_status(self) -> EndStatus | None:
        return self._end_status

    @property
    def media_stats(self) -> MediaStats | None:
        return self._stats

    async def frames(self) -> AsyncIterator[DuplexFrame]:
        if self._streaming:
            raise CarrierError("a SIP call's frames can be read only once")
        self._streaming = True
        try:
            while True:
                self._check_timers()
                if self._ended_by == "tester" or (
                    self._ended_at is not None
                    and self._stream.jitter.next_frame * FRAME_SAMPLES >= self._ended_at
                ):
                    break
                far, near, t = await self._stream.next_frame()
                end = t + len(far)
                self._watch_media(end)
                due = tuple(sorted((s for s in self._signals if s.t < end), key=_at))
                self._signals = [s for s in self._signals if s.t >= end]
                yield DuplexFrame(AudioFrame(far, t), near, due)
        finally:
            await self._teardown()

    async def play(self, samples: Samples) -> Sent:
        if self._ended_by is not None:
            now = self._stream.now
            return Sent(now, now)
        return self._stream.queue_audio(samples)

    async def send_dtmf(self, digits: str, tone_s: float = 0.1, gap_s: float = 0.1) -> Sent:
        if self._ended_by is not None or not digits:
            now = self._stream.now
            return Sent(now, now)
        return self._stream.queue_keys(digits, tone_s, gap_s)

    async def hangup(self) -> None:
        if self._ended_by is None:
            self._finish("tester", "hangup")
        await self._teardown()

    # --- what the signalling says (SipDialog's listener) ---------------------------------------

    def provisional(self, code: int, reason: str, media: MediaOffer | None) -> None:
        now = self._stream.now
        if code in (180, 181, 182) and not self._rang:
            self._rang = True
            self._signals.append(Ringing(now))
        if media is not None:
            self._point_at(media)
            if not self._early:
                self._early = True
                self._signals.append(EarlyMedia(now))

    def answered(self, media: MediaOffer | None) -> None:
        self._answered = True
        self._answered_at = self._stream.now
        if media is not None:
            self._point_at(media)
        self._signals.append(Answered(self._answered_at))

    def rejected(self, code: int, reason: str, authenticated: bool) -> None:
        cause, detail = _rejection(code, reason, authenticated, self._settings)
        self._end_status = EndStatus("sip", code, reason, detail)
        self._finish("remote", cause)

    def remote_bye(self) -> None:
        self._finish("remote", "hangup")

    def unreachable(self, detail: str) -> None:
        """The next hop cannot be reached any more before the answer: a transport error,
        which RFC 3261 §8.1.3.1 treats as a 503."""
        self._end_status = EndStatus("sip", 503, "Service Unavailable", detail)
        self._finish("remote", "failed")

    def reoffered(self, media: MediaOffer) -> None:
        self._point_at(media)
        held = media.direction in HELD
        if held != self._held:
            self._held = held
            signal = FarEndHold if held else FarEndResume
            self._signals.append(signal(self._stream.now))

    def _watch_media(self, now: int) -> None:
        """Say when the far end's packets stop (and come back) while the call is up."""
        if not self._answered or self._ended_by is not None:
            return
        last = self._stream.last_packet_at
        since = max(last if last is not None else 0, self._answered_at)
        if not self._media_stopped and now - since >= NO_RTP_S * TELEPHONY_RATE:
            self._media_stopped = True
            self._signals.append(MediaStopped(since))
        elif self._media_stopped and last is not None and now - last < NO_RTP_S * TELEPHONY_RATE:
            self._media_stopped = False
            self._signals.append(MediaResumed(last))

    def _key_out(self, key: str, duration: int) -> None:
        self._dialog.send_key(key, round(duration * 1000 / TELEPHONY_RATE))

    def _far_digit(self, key: str, at: int, duration: int) -> None:
        self._signals.append(FarEndDigit(at, digit=key, duration=duration))

    def _point_at(self, media: MediaOffer) -> None:
        offered = {CODECS[name] for name in self._settings.codecs}
        chosen = next((t for t in media.payload_types if t in offered), None)
        if chosen is not None:
            self._stream.point_at(media.address, CODECS_BY_TYPE[chosen], media.event_type)

    # --- ending -------------------------------------------------------------------------------

    def _check_timers(self) -> None:
        if self._ended_by is not None:
            return
        now = self._stream.now
        if not self._answered and not self._dialog.heard and now >= TIMER_B_S * TELEPHONY_RATE:
            self._end_status = EndStatus(
                "sip",
                408,
                "Request Timeout",
                f"no response to the INVITE from {self._where} over {self._dialog.transport_name}",
            )
            self._finish("remote", "timeout")
        elif not self._answered and now >= self._ring_samples:
            self._end_status = EndStatus(
                "sip",
                487,
                "Request Terminated",
                f"nobody answered within {self._ring_samples / TELEPHONY_RATE:g} s: shopper "
                "cancelled the INVITE",
            )
            self._finish("remote", "no-answer")
            self._dialog.end()
        elif now >= self._max_samples:
            self._finish("tester", "hangup")

    @property
    def _where(self) -> str:
        return f"{self._remote[0]}:{self._remote[1]}"

    def _finish(self, by: EndedBy, cause: EndCause) -> None:
        if self._ended_by is not None:
            return
        self._ended_by, self._end_cause = by, cause
        self._ended_at = self._stream.now
        self._stream.stop_sending()

    async def _teardown(self) -> None:
        """End the dialog from our side if it is still up (BYE or CANCEL), wait briefly for
        the far end to confirm, remove the registration if there is one, and close the
        sockets; once. `asyncio.timeout`, not `wait_for`: on Python 3.11 `wait_for` can
        swallow a Ctrl-C that lands as the far end confirms, and the run would go on."""
        if self._torn_down:
            return
        self._torn_down = True
        try:
            if self._dialog.end() is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SETTLE_S):
                        await self._dialog.settled.wait()
            if self._registration is not None:
                await self._registration.unregister()
        finally:
            self._stats = self._stream.stats(self._ended_at or self._stream.now)
            self._stream.close()
            await self._dialog.close()


def _at(signal: Signal) -> int:
    return signal.t


def _rejection(
    code: int, reason: str, authenticated: bool, settings: SipSettings
) -> tuple[EndCause, str]:
    """The end cause of a final response instead of an answer, and what it means."""
    status = f"SIP {code} {reason}".rstrip()
    if code in BUSY:
        return "busy", f"{status}: the line is busy"
    if code in NO_ROUTE:
        return "no-route", f"{status}: the PBX has no route to this target (check the number)"
    if code in NO_ANSWER:
        return "no-answer", f"{status}: the far end did not answer"
    if code in (401, 407) and not settings.password:
        return "auth-failed", (
            f"{status}: the PBX asks for credentials and none are configured (set [sip] user "
            "and SHOPPER_SIP_PASSWORD)"
        )
    if code in (401, 407) or (code == 403 and authenticated):
        return "auth-failed", (
            f"{status}: the PBX rejected the credentials of user {settings.user!r} (check "
            "the username, the password and the realm the PBX expects)"
        )
    if code in (403, 603):
        return "refused", f"{status}: the far end refused the call"
    return "failed", f"{status}: the PBX could not place the call"


async def dial_sip(target: str, options: DialOptions) -> Placed:
    """The `sip` carrier's dialler: send the INVITE and return the call (its media time has
    begun). What cannot even be tried (bad settings, a host that does not resolve) is a
    DialFailed; every answer of the far end ends the placed call instead."""
    try:
        parsed = parse_sip_target(target)
        settings = load_sip_settings()
        uri = parsed.uri(settings.domain)
    except (ShopperError, ConfigError) as error:
        raise DialFailed("failed", str(error)) from None
    host, port = settings.proxy or (parsed.host or settings.domain or "", parsed.port or 5060)
    remote = await _resolve(host, port)
    local = settings.local_address or _route_to(remote[0])
    domain = settings.domain or parsed.host or host
    transport = parsed.transport or settings.transport
    call = SipCall(settings, uri, remote, local, options, domain, transport)
    try:
        await call.place()
    except DialFailed:
        raise
    except CarrierError as error:
        raise DialFailed("failed", str(error)) from None
    return Placed(call)


async def _resolve(host: str, port: int) -> tuple[str, int]:
    """The IPv4 address of `host` (A record; no SRV or NAPTR lookup)."""
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
    except OSError as error:
        raise DialFailed("no-route", f"cannot resolve SIP host {host!r}: {error}") from None
    address = found[0][4]
    return (str(address[0]), int(address[1]))


def _route_to(address: str) -> str:
    """The local address the system would send to `address` from (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((address, 9))
        except OSError as error:
            raise DialFailed("no-route", f"no route to {address}: {error}") from None
        return str(probe.getsockname()[0])
