"""A Twilio call as the engine sees it (the `Call` protocol), and the `twilio` carrier's dialler.

Media time starts when shopper asks Twilio to place the call. Frames flow in real time from
then on: silence while Twilio dials and the far end rings, the far end's audio once the
stream is open. The status callbacks say when it rang and answered (`Ringing`, `Answered`,
stamped when they arrive); a stream that opens before its `answered` callback is an answer
too (Twilio runs the TwiML only once the far end has answered).

How a call ends, and what the result says:
- the far end hangs up: the stream stops and the `completed` callback follows; ended_by
  remote, cause hangup;
- `busy`, `no-answer`: those causes; `failed`: by the SIP response Twilio saw when it gives
  one (404/410/484/604 no-route, 403/603 refused, 486/600 busy, 408/480 no-answer), else
  failed; `canceled` (by someone else than shopper): failed. Twilio's error code and SIP
  response code are in the result's `carrier_call`;
- shopper hangs up, or the call reaches its maximum length: the REST API ends it (status
  completed), ended_by tester. `hangup` is what every exit path of the runner calls, Ctrl-C
  and exceptions included; each call stays in the ledger until it is known to be over.

A watchdog asks the REST API about the call every few seconds, so a lost callback cannot
leave a call up, and a call Twilio answered but whose stream never reached shopper (a tunnel
that forwards the callbacks but not WebSockets, or nothing at all) ends with a message that
says so.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np

from shopper.audio.dtmf import dtmf_sequence
from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, AudioFrame, Samples
from shopper.carriers.base import (
    CarrierCallReport,
    CarrierError,
    DialFailed,
    DuplexFrame,
    EndCause,
    EndedBy,
    Placed,
    Sent,
)
from shopper.carriers.options import DialOptions
from shopper.carriers.signals import Answered, FarEndDigit, Ringing, Signal
from shopper.carriers.twilio import twiml
from shopper.carriers.twilio.rest import TERMINAL, CallState, TwilioCallError
from shopper.carriers.twilio.runtime import TwilioRuntime, twilio_runtime
from shopper.carriers.twilio.settings import TwilioSettingsError
from shopper.carriers.twilio.stream import InboundAudio, MediaClock, OutboundAudio, SendJson
from shopper.config import ConfigError

log = logging.getLogger(__name__)
POLL_S = 5.0
"""How often the watchdog asks the REST API about a call that is not over."""
NO_STREAM_S = 10.0
"""An answered call whose stream has not opened by then never will: the public URL is wrong."""
RING_GRACE_S = 15.0
"""Twilio may ring up to ~5 s past `timeout`; past this much more, shopper gives up itself."""
READ_TURNS = 4
"""Turns of the event loop a due frame waits for media already in the socket (see
`TwilioCall._let_waiting_media_in`)."""
SETTLE_S = 3.0
"""How long hanging up waits for Twilio's `completed` callback (and its price)."""
PRICE_TRIES = 3
NOT_IN_PROGRESS = 21220
"""Twilio's answer to hanging up a call that has already ended."""
BUSY_SIP = {486, 600}
NO_ROUTE_SIP = {404, 410, 484, 604}
REFUSED_SIP = {403, 603}
NO_ANSWER_SIP = {408, 480}
_DIGITS = re.compile(r"[0-9*#]*")


class TwilioCall:
    def __init__(self, runtime: TwilioRuntime, to: str, options: DialOptions) -> None:
        self._runtime = runtime
        self._settings = runtime.settings
        self._to = to
        self._ring_timeout_s = options.ring_timeout_s
        self._max_duration_s = options.max_duration_s
        self._token = secrets.token_urlsafe(24)
        self._call_id = f"twilio-{secrets.token_hex(6)}"
        self._clock = MediaClock()
        self._inbound = InboundAudio(self._clock)
        self._outbound = OutboundAudio(self._clock, self._call_id)
        self._signals: list[Signal] = []
        self._sid: str | None = None
        self._ended_by: EndedBy | None = None
        self._end_cause: EndCause | None = None
        self._ended_at: int | None = None
        self._ended = asyncio.Event()
        self._status: str | None = None
        self._final: asyncio.Event = asyncio.Event()
        self._sip_code: int | None = None
        self._error_code: int | None = None
        self._duration_s: int | None = None
        self._price: str | None = None
        self._price_unit: str | None = None
        self.detail: str | None = None
        """Why the call ended, in words, when the carrier says more than the cause."""
        self._rang = False
        self._answered_at: int | None = None
        self._stream_opened = False
        self._callback_seen = False
        self._streaming = False
        self._torn_down = False
        self._watchdog: asyncio.Task[None] | None = None

    # --- placing --------------------------------------------------------------------------

    async def place(self) -> None:
        server = self._runtime.server
        server.register(self._token, self)
        if self._settings.dtmf == "twiml":
            document = twiml.fork_stream(server.stream_url, self._token, self._max_duration_s)
        else:
            document = twiml.connect_stream(server.stream_url, self._token)
        try:
            state = await self._runtime.rest.create_call(
                self._to,
                document,
                server.status_url(self._token),
                self._ring_timeout_s,
                self._max_duration_s,
            )
        except TwilioCallError as error:
            server.unregister(self._token)
            raise DialFailed(error.cause, error.message) from None
        self._sid = state.sid
        self._runtime.ledger.add(state.sid, self._settings.account_sid)
        self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    # --- the Call protocol ----------------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def carrier(self) -> str:
        return "twilio"

    @property
    def virtual_clock(self) -> bool:
        return False

    @property
    def end_status(self) -> None:
        """Twilio's final status, error and SIP codes go to the result's `carrier_call`
        (carrier_report), not the SIP-shaped `signalling`."""
        return None

    @property
    def media_stats(self) -> None:
        """Twilio's stream carries no RTP figures (its own RTP legs are hidden from us)."""
        return None

    @property
    def ended_by(self) -> EndedBy | None:
        return self._ended_by

    @property
    def end_cause(self) -> EndCause | None:
        return self._end_cause

    @property
    def carrier_report(self) -> CarrierCallReport:
        return CarrierCallReport(
            call_sid=self._sid,
            status=self._status,
            error_code=self._error_code,
            sip_response_code=self._sip_code,
            price=_price(self._price),
            price_unit=self._price_unit,
            duration_s=self._duration_s,
            detail=self.detail,
        )

    @property
    def marks(self) -> list[tuple[int, int]]:
        """(scheduled end, played end) of each outgoing item Twilio confirmed, media time."""
        return [(item.scheduled_end, item.played_end) for item in self._outbound.played]

    async def frames(self) -> AsyncIterator[DuplexFrame]:
        if self._streaming:
            raise CarrierError("a Twilio call's frames can be read only once")
        self._streaming = True
        try:
            while True:
                self._check_limits()
                if self._ended_by == "tester":
                    break
                if self._ended_at is not None and self._inbound.next_index * FRAME_SAMPLES >= (
                    self._ended_at
                ):
                    break
                if not self._inbound.ready():
                    await self._wait_for_frame()
                    continue
                if not self._inbound.arrived.is_set():
                    await self._let_waiting_media_in()
                far, t = self._inbound.pop()
                near = self._outbound.near(t // FRAME_SAMPLES)
                end = t + FRAME_SAMPLES
                due = tuple(sorted((s for s in self._signals if s.t < end), key=_at))
                self._signals = [s for s in self._signals if s.t >= end]
                yield DuplexFrame(AudioFrame(far, t), near, due)
        finally:
            await self._teardown()

    async def _let_waiting_media_in(self) -> None:
        """A few turns of the event loop before a frame is taken as silence because its time
        has passed: after a stall (a starved machine) every frame is due at once, and the
        audio Twilio sent meanwhile waits in the socket. Reading it takes the socket's
        callback, the WebSocket reader and the stream handler a turn each; without them the
        catch-up would release the waiting audio's frames as silence and then drop the audio
        as late (the SIP carrier's `next_frame` takes one more turn for the same reason)."""
        for _ in range(READ_TURNS):
            await asyncio.sleep(0)
            if self._inbound.arrived.is_set():
                return

    async def _wait_for_frame(self) -> None:
        """Until a frame may be due. `asyncio.timeout`, not `wait_for`: on Python 3.11
        `wait_for` can swallow a cancellation that lands as its wait ends, and a Ctrl-C lost
        here left a run calling on (seen once in a loaded test run)."""
        timeout = min(self._inbound.seconds_until_due(), POLL_S)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._inbound.arrived.wait()

    async def play(self, samples: Samples) -> Sent:
        if samples.ndim != 1 or samples.dtype != np.int16:
            raise CarrierError(
                f"play() takes 1-D int16 audio at {TELEPHONY_RATE} Hz, "
                f"got {samples.ndim}-D {samples.dtype}"
            )
        if self._ended_by is not None:
            return Sent(self._clock.now, self._clock.now)
        if self._settings.dtmf == "twiml":
            raise CarrierError(
                "with [twilio] dtmf = twiml the call listens on a one-way stream and cannot "
                "play audio (say, a human probe or courtesy message): use dtmf = inband"
            )
        return self._outbound.queue(samples)

    async def send_dtmf(self, digits: str, tone_s: float = 0.1, gap_s: float = 0.1) -> Sent:
        now = self._clock.now
        if self._ended_by is not None or not digits:
            return Sent(now, now)
        if self._settings.dtmf == "twiml":
            return await self._play_digits(digits, tone_s, gap_s)
        tones = dtmf_sequence(digits, tone_s, gap_s)
        gap = np.zeros(round(gap_s * TELEPHONY_RATE), dtype=np.int16)
        return self._outbound.queue(np.concatenate([tones, gap]))

    async def _play_digits(self, digits: str, tone_s: float, gap_s: float) -> Sent:
        """Keys as a call update with `<Play digits>`: Twilio plays them at its own pace, so
        the span is an estimate from the script's timing starting when Twilio accepted."""
        if not _DIGITS.fullmatch(digits) or self._sid is None:
            raise CarrierError(f"Twilio can play the keys 0-9, * and #, not {digits!r}")
        remaining = self._max_duration_s - self._clock.now / TELEPHONY_RATE
        try:
            await self._runtime.rest.update_twiml(self._sid, twiml.play_digits(digits, remaining))
        except TwilioCallError as error:
            raise CarrierError(error.message) from None
        start = self._clock.now
        return Sent(start, start + round(len(digits) * (tone_s + gap_s) * TELEPHONY_RATE))

    async def hangup(self) -> None:
        if self._ended_by is None:
            self._finish("tester", "hangup")
        await self._teardown()

    # --- what Twilio says (the server's CallEndpoint) -------------------------------------

    def status(self, params: Mapping[str, str]) -> None:
        self._callback_seen = True
        self._take_state(
            params.get("CallStatus", ""),
            sip_code=_int(params.get("SipResponseCode")),
            error_code=_int(params.get("ErrorCode")),
            duration=_int(params.get("CallDuration")),
        )

    def stream_started(self, stream_sid: str, send: SendJson) -> None:
        self._stream_opened = True
        self._inbound.new_stream()
        self._mark_answered()
        if self._settings.dtmf == "inband":
            self._outbound.connect(stream_sid, send)

    def stream_message(self, message: Mapping[str, Any]) -> None:
        match message.get("event"):
            case "media":
                self._media(message.get("media"))
            case "mark":
                mark = message.get("mark")
                if isinstance(mark, dict):
                    self._outbound.mark_echoed(str(mark.get("name")))
            case "dtmf":
                dtmf = message.get("dtmf")
                if isinstance(dtmf, dict) and isinstance(dtmf.get("digit"), str):
                    at = (self._inbound.latest_index + 1) * FRAME_SAMPLES
                    self._signals.append(FarEndDigit(max(at, 0), digit=dtmf["digit"], duration=0))
            case "stop":
                self.stream_closed()

    def stream_closed(self) -> None:
        self._inbound.end_stream()
        self._outbound.disconnect()
        if self._settings.dtmf == "inband" and self._ended_by is None:
            # A <Connect><Stream> ends only with the call (or shopper's own update).
            self._finish("remote", "hangup")

    def _media(self, media: object) -> None:
        if not isinstance(media, dict) or media.get("track", "inbound") != "inbound":
            return
        try:
            payload = base64.b64decode(str(media.get("payload", "")), validate=True)
            timestamp = int(str(media.get("timestamp", "0")))
        except (binascii.Error, ValueError):
            log.warning("Twilio stream message with an unreadable payload dropped")
            return
        self._inbound.media(timestamp, payload)

    def _take_state(
        self,
        status: str,
        *,
        sip_code: int | None = None,
        error_code: int | None = None,
        duration: int | None = None,
    ) -> None:
        """A status from a callback or the REST API."""
        if not status or self._final.is_set():
            return
        self._status = status
        self._sip_code = sip_code or self._sip_code
        self._error_code = error_code or self._error_code
        if status == "ringing" and not self._rang:
            self._rang = True
            self._signals.append(Ringing(self._clock.now))
        elif status == "in-progress":
            self._mark_answered()
        elif status in TERMINAL:
            self._duration_s = duration if duration is not None else self._duration_s
            self._final.set()
            if self._sid is not None:
                self._runtime.ledger.remove(self._sid)
            if self._ended_by is None:
                cause, detail = self._ending(status)
                self.detail = detail
                self._finish("remote", cause)

    def _ending(self, status: str) -> tuple[EndCause, str | None]:
        code = self._sip_code
        said = _codes(self._error_code, code)
        if status == "completed":
            return "hangup", None
        if status == "busy":
            return "busy", f"Twilio: busy{said}"
        if status == "no-answer":
            return "no-answer", f"Twilio: no answer within {self._ring_timeout_s:g} s{said}"
        if status == "canceled":
            return "failed", f"Twilio: the call was canceled by someone else than shopper{said}"
        if code in BUSY_SIP:
            return "busy", f"Twilio: failed{said}, the line is busy"
        if code in NO_ROUTE_SIP:
            return "no-route", f"Twilio: failed{said}, no route to the number (check it)"
        if code in REFUSED_SIP:
            return "refused", f"Twilio: failed{said}, the far end's network refused the call"
        if code in NO_ANSWER_SIP:
            return "no-answer", f"Twilio: failed{said}, the far end did not answer"
        return "failed", f"Twilio: the call failed{said} (see the call in Twilio's console)"

    def _mark_answered(self) -> None:
        if self._answered_at is None:
            self._answered_at = self._clock.now
            self._signals.append(Answered(self._answered_at))

    # --- limits, watchdog, ending ---------------------------------------------------------

    def _check_limits(self) -> None:
        if self._ended_by is not None:
            return
        now_s = self._clock.now / TELEPHONY_RATE
        if now_s >= self._max_duration_s:
            self._finish("tester", "hangup")
        elif self._answered_at is None and now_s >= self._ring_timeout_s + RING_GRACE_S:
            self.detail = f"Twilio reported no answer within {now_s:.0f} s: shopper hung up"
            self._finish("remote", "no-answer")

    async def _watch(self) -> None:
        """Ask the REST API about the call until it is over (lost callbacks, dead streams)."""
        assert self._sid is not None
        while not self._final.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._final.wait(), POLL_S)
            if self._final.is_set() or self._ended_by == "tester":
                return
            try:
                state = await self._runtime.rest.fetch(self._sid)
            except TwilioCallError as error:
                log.warning("Twilio call %s: %s", self._sid, error.message)
                continue
            if not self._callback_seen and state.status not in ("queued", "initiated"):
                log.warning(
                    "Twilio's status callbacks for call %s do not arrive: check that %s "
                    "reaches --listen %s:%d",
                    self._sid,
                    self._settings.public_url,
                    *self._settings.listen,
                )
            self._take_state(state.status, duration=_int(state.duration))
            self._check_stream(state)

    def _check_stream(self, state: CallState) -> None:
        if state.status != "in-progress" or self._stream_opened or self._ended_by is not None:
            return
        answered = self._answered_at if self._answered_at is not None else self._clock.now
        if self._answered_at is None:
            self._mark_answered()
        if (self._clock.now - answered) / TELEPHONY_RATE >= NO_STREAM_S:
            self.detail = (
                f"Twilio answered but its media stream never reached shopper: check that "
                f"{self._settings.public_url} forwards WebSockets to --listen "
                f"{self._settings.listen[0]}:{self._settings.listen[1]}"
            )
            self._finish("remote", "failed")

    def _finish(self, by: EndedBy, cause: EndCause) -> None:
        if self._ended_by is not None:
            return
        self._ended_by, self._end_cause = by, cause
        self._ended_at = self._clock.now
        self._outbound.stop()
        self._inbound.arrived.set()

    async def _teardown(self) -> None:
        """Hang the call up through REST unless Twilio said it is over, wait briefly for the
        final callback, and fetch the price; once. Shielded: Ctrl-C must not cut it short."""
        if self._torn_down:
            return
        self._torn_down = True
        await asyncio.shield(self._settle())

    async def _settle(self) -> None:
        self._outbound.stop()
        if self._watchdog is not None:
            self._watchdog.cancel()
        sid = self._sid
        try:
            if sid is None:
                return
            if self._ended_by == "remote":
                await self._wait_final()  # the far end hung up: `completed` is on its way
            if not self._final.is_set():
                try:
                    self._take_final(await self._runtime.rest.hang_up(sid))
                except TwilioCallError as error:
                    if error.code != NOT_IN_PROGRESS:
                        log.warning("could not hang up Twilio call %s: %s", sid, error.message)
                await self._wait_final()
            await self._fetch_price(sid)
        finally:
            self._runtime.server.unregister(self._token)

    async def _wait_final(self) -> None:
        """Until Twilio's final status, for SETTLE_S at most. `asyncio.timeout`, as in
        `_wait_for_frame`: a Ctrl-C that lands as the status comes must not be lost, or the
        run would go on to its next call."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SETTLE_S):
                await self._final.wait()

    def _take_final(self, state: CallState) -> None:
        if state.status in TERMINAL:
            self._status = state.status
            self._final.set()
            self._runtime.ledger.remove(state.sid)

    async def _fetch_price(self, sid: str) -> None:
        """Twilio prices a call shortly after it ends; a price not there after a few tries
        stays unknown (null in the result). Only `completed` calls are billed: any other end
        has no price to wait for."""
        for attempt in range(PRICE_TRIES):
            if attempt:
                await asyncio.sleep(attempt)
            try:
                state = await self._runtime.rest.fetch(sid)
            except TwilioCallError:
                return
            if state.status in TERMINAL:
                self._take_final(state)
                self._duration_s = _int(state.duration) or self._duration_s
            if state.price is not None:
                self._price, self._price_unit = state.price, state.price_unit
                return
            if state.status in TERMINAL and state.status != "completed":
                return


def _at(signal: Signal) -> int:
    return signal.t


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _price(value: str | None) -> float | None:
    """Twilio reports what a call cost as a negative amount ("-0.01300"); the cost."""
    if value is None:
        return None
    try:
        return abs(float(value))
    except ValueError:
        return None


def _codes(error_code: int | None, sip_code: int | None) -> str:
    parts = []
    if error_code is not None:
        parts.append(f"error {error_code}")
    if sip_code is not None:
        parts.append(f"SIP {sip_code}")
    return f" ({', '.join(parts)})" if parts else ""


def e164(target: str) -> str:
    """The target as Twilio wants it: + and digits only."""
    return "+" + "".join(char for char in target if char.isdigit())


async def dial_twilio(target: str, options: DialOptions) -> Placed:
    """The `twilio` carrier's dialler: the settings, the shared server, then the call."""
    try:
        runtime = await twilio_runtime(options.twilio)
    except (TwilioSettingsError, ConfigError, CarrierError) as error:
        raise DialFailed("failed", str(error)) from None
    call = TwilioCall(runtime, e164(target), options)
    await call.place()
    return Placed(call)
