"""One call's life as Twilio reports it: queued, initiated, ringing, in-progress, then
completed, busy, no-answer, failed or canceled.

Media time 0 is the moment the emulator dials the sandbox IVR; its phone system runs from then
on, one 20 ms frame per tick of the real-time media clock (shopper.sandbox.frameclock). How the
IVR's signalling becomes Twilio's statuses:

- a busy line (`answer: {busy: true}`): `busy`, SIP response 486, at once;
- a line that rings: `ringing`; when it picks up, `in-progress` and the TwiML runs;
- a line that has not answered within the call's `Timeout` (default 60 s): `no-answer` (487);
- an intercept (the node entered on answering is a Special Information Tone): never answered,
  and `failed` with the SIP response RFC 3398 maps the tone to, when the IVR hangs up;
- a number the emulator does not serve: `failed` (404) right after `initiated`;
- the IVR hanging up an answered call, `<Hangup>`, the end of the TwiML, a REST update with
  `Status=completed` or the call's `TimeLimit`: `completed`, with `CallDuration` the whole
  seconds from answer to hang-up.

The called party hears the call's playout: audio from a `<Connect><Stream>` and the tones of
`<Play digits>`. A REST update with new TwiML ends the running verb (a `<Connect><Stream>` gets
`stop`) and runs the new TwiML; a `<Start><Stream>` keeps streaming until the call ends.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from typing import Any, Literal

import aiohttp
import numpy as np

from shopper.audio.dtmf import dtmf_tone
from shopper.audio.frame import FRAME_SAMPLES, TELEPHONY_RATE, AudioFrame
from shopper.sandbox.frameclock import FrameClock
from shopper.sandbox.model import Tone
from shopper.sandbox.phone import SandboxPhone
from shopper.sandbox.sip.call import SIT_RESPONSES
from shopper.sandbox.truth import EndedBy
from shopper.sandbox.twilio.callbacks import StatusCallbacks
from shopper.sandbox.twilio.playout import Mark, Playout
from shopper.sandbox.twilio.pricing import DEFAULT_RATE, PRICE_UNIT, call_price
from shopper.sandbox.twilio.signature import Credentials
from shopper.sandbox.twilio.stream import MediaStream, StreamError
from shopper.sandbox.twilio.twiml import (
    DIGIT_PAUSE_S,
    Hangup,
    Pause,
    PlayDigits,
    Skipped,
    Stream,
    TwimlError,
    Verb,
)

logger = logging.getLogger(__name__)

CallStatus = Literal[
    "queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer",
    "failed", "canceled",
]  # fmt: skip
FINAL: frozenset[str] = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
DIGIT_TONE_S = 0.1
DIGIT_GAP_S = 0.1
"""`<Play digits>`: each key a 100 ms tone then 100 ms quiet (Twilio does not document its
timing; these are the usual DTMF dialler figures, well above the 40 ms minimum of Q.24)."""

TwimlSource = Callable[[dict[str, str]], Awaitable[list[Verb]]]
"""Gives the TwiML to run, given the call's fields: parsed inline TwiML, or a fetch of the
call's Url (which sends those fields)."""


@dataclass(frozen=True, slots=True)
class CallRequest:
    """What `Calls.create` asked for."""

    to: str
    caller: str
    status_callback: str | None
    events: frozenset[str]
    timeout_s: float
    time_limit_s: float


class EmulatedCall:
    """A call from the emulator to a sandbox IVR (`phone` None: a number nobody serves)."""

    def __init__(
        self,
        sid: str,
        request: CallRequest,
        phone: SandboxPhone | None,
        twiml: TwimlSource,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        on_end: Callable[[EmulatedCall], None] = lambda call: None,
        per_minute: Decimal = DEFAULT_RATE,
    ) -> None:
        self.sid = sid
        self.request = request
        self.phone = phone
        self.status: CallStatus = "queued"
        self.sip_response_code: int | None = None
        self.created = datetime.now(UTC)
        self.updated = self.created
        self.start_time: datetime | None = None
        self.end_time: datetime | None = None
        self.duration_s: int | None = None
        self._per_minute = per_minute
        self._twiml = twiml
        self._on_end = on_end
        self._session = session
        self._credentials = credentials
        self._callbacks = StatusCallbacks(
            session, credentials, request.status_callback, request.events
        )
        self._playout = Playout()
        self._streams: list[MediaStream] = []
        self._executor: asyncio.Task[None] | None = None
        self._ending: tuple[EndedBy, str, CallStatus] | None = None
        self._answered_at: int | None = None
        self._intercept: int | None = None

    # --- from outside: the REST API and the server -------------------------------------------

    def end(self, by: EndedBy, reason: str, status: CallStatus) -> None:
        """Hang up at the next frame (a REST update, `<Hangup>`, the server stopping)."""
        if self._ending is None and self.status not in FINAL:
            self._ending = (by, reason, status)

    def redirect(self, twiml: TwimlSource) -> None:
        """New TwiML: runs at once if the call is in progress, else when it is answered."""
        self._twiml = twiml
        if self.status == "in-progress":
            if self._executor is not None:
                self._executor.cancel()
            self._executor = asyncio.get_running_loop().create_task(self._execute(twiml))

    def fields(self) -> dict[str, str]:
        """The call's parameters as Twilio sends them in callbacks and TwiML requests."""
        return {
            "AccountSid": self._credentials.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.sid,
            "CallStatus": self.status,
            "Called": self.request.to,
            "Caller": self.request.caller,
            "Direction": "outbound-api",
            "From": self.request.caller,
            "To": self.request.to,
        }

    def resource(self) -> dict[str, Any]:
        """The Call resource's JSON."""
        account = self._credentials.account_sid
        return {
            "sid": self.sid,
            "account_sid": account,
            "api_version": "2010-04-01",
            "to": self.request.to,
            "to_formatted": self.request.to,
            "from": self.request.caller,
            "from_formatted": self.request.caller,
            "status": self.status,
            "direction": "outbound-api",
            "date_created": format_datetime(self.created),
            "date_updated": format_datetime(self.updated),
            "start_time": _rfc2822(self.start_time),
            "end_time": _rfc2822(self.end_time),
            "duration": None if self.duration_s is None else str(self.duration_s),
            "price": call_price(self.status, self.duration_s, self._per_minute),
            "price_unit": PRICE_UNIT,
            "answered_by": None,
            "caller_name": None,
            "forwarded_from": None,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "queue_time": "0",
            "trunk_sid": None,
            "annotation": None,
            "uri": f"/2010-04-01/Accounts/{account}/Calls/{self.sid}.json",
            "subresource_uris": {},
        }

    # --- the call ----------------------------------------------------------------------------

    async def run(self) -> None:
        """The whole call; the phone's truth is complete and the last callback posted when
        this returns."""
        try:
            self._set("initiated")
            if self.phone is None:
                self._finish("failed", 404)
            elif self.phone.definition.answer.mode == "busy":
                self.phone.disconnect("ivr", "busy", "busy")
                self._finish("busy", 486)
            else:
                await self._frames(self.phone)
        finally:
            await self._close()

    async def _frames(self, phone: SandboxPhone) -> None:
        clock = FrameClock()
        while self.status not in FINAL:
            await clock.tick()
            if self._ending is not None:
                by, reason, status = self._ending
                phone.disconnect(by, reason)
                self._finish(status, None)
                return
            self._step(phone)

    def _step(self, phone: SandboxPhone) -> None:
        """One frame: the caller's side's 20 ms in, the IVR's 20 ms out, what it signals."""
        position = phone.position
        answered = self.status == "in-progress"
        heard = self._playout.take() if answered else np.zeros(FRAME_SAMPLES, dtype=np.int16)
        far = phone.step(AudioFrame(heard, position))
        if far is None:
            self._ivr_hung_up()
            return
        if self.status == "initiated" and phone.ringing_at is not None:
            self._set("ringing")
        if self._answered_at is None and self._intercept is None and phone.answered_at is not None:
            self._pick_up(phone, position)
        if self.status == "in-progress":
            for stream in self._streams:
                stream.send_audio(far, position)
            if self._answered_at is not None:
                talked_s = (position - self._answered_at) / TELEPHONY_RATE
                if talked_s >= self.request.time_limit_s:
                    self.end("caller", "time limit", "completed")
        elif self._intercept is None and position / TELEPHONY_RATE >= self.request.timeout_s:
            phone.disconnect("network", f"no answer in {self.request.timeout_s:g} s", "no-answer")
            self._finish("no-answer", 487)

    def _pick_up(self, phone: SandboxPhone, position: int) -> None:
        entered = phone.truth.nodes[-1].node if phone.truth.nodes else None
        node = phone.definition.nodes.get(entered) if entered is not None else None
        if node is not None and isinstance(node.behaviour, Tone):
            response = SIT_RESPONSES.get(node.behaviour.kind)
            if response is not None:
                self._intercept = response[0]
                return
        if self.status == "initiated":
            self._set("ringing")  # a network always signals ringing (180) before the answer
        self._answered_at = position
        self.start_time = datetime.now(UTC)
        self._set("in-progress")
        self._executor = asyncio.get_running_loop().create_task(self._execute(self._twiml))

    def _ivr_hung_up(self) -> None:
        if self.status == "in-progress":
            self._finish("completed", None)
        elif self._intercept is not None:
            self._finish("failed", self._intercept)
        else:
            self._finish("no-answer", 480)

    def _finish(self, status: CallStatus, sip_response_code: int | None) -> None:
        self.sip_response_code = sip_response_code
        self.end_time = datetime.now(UTC)
        self.duration_s = 0
        if self.phone is not None and self._answered_at is not None:
            media_s = (self.phone.position - self._answered_at) / TELEPHONY_RATE
            self.duration_s = round(media_s)
        self.status = status
        self._on_end(self)  # the truth is on disk before the final callback goes out
        self._set(status)

    def _set(self, status: CallStatus) -> None:
        self.status = status
        self.updated = datetime.now(UTC)
        event = {"in-progress": "answered"}.get(status, status)
        if status in FINAL:
            event = "completed"
        fields = self.fields()
        if status in FINAL:
            fields["CallDuration"] = str(self.duration_s or 0)
            fields["Duration"] = str(math.ceil((self.duration_s or 0) / 60))
            if self.sip_response_code is not None:
                fields["SipResponseCode"] = str(self.sip_response_code)
        self._callbacks.send(event, fields)

    async def _close(self) -> None:
        if self.status not in FINAL:
            if self.phone is not None and not self.phone.ended:
                self.phone.disconnect("network", "server error")
            self._finish("failed", 500)
        if self._executor is not None:
            self._executor.cancel()
            await asyncio.gather(self._executor, return_exceptions=True)
        for stream in self._streams:
            await stream.stop()
        self._streams.clear()
        await self._callbacks.finish()

    # --- TwiML ---------------------------------------------------------------------------------

    async def _execute(self, twiml: TwimlSource) -> None:
        """Run TwiML; at its end (or `<Hangup>`) the call hangs up, as Twilio's does."""
        self._playout.clear()
        try:
            verbs = await twiml(self.fields())
        except TwimlError as error:  # an unreachable Url or bad TwiML: Twilio hangs up too
            logger.warning("call %s: no TwiML to run (%s); hanging up", self.sid, error)
            self.end("caller", "no TwiML", "completed")
            return
        for verb in verbs:
            if isinstance(verb, Hangup):
                break
            await self._verb(verb)
        self.end("caller", "end of TwiML", "completed")

    async def _verb(self, verb: Verb) -> None:
        if isinstance(verb, Stream):
            await self._stream(verb)
        elif isinstance(verb, PlayDigits):
            await self._play_digits(verb.digits)
        elif isinstance(verb, Pause):
            await asyncio.sleep(verb.seconds)
        elif isinstance(verb, Skipped):
            logger.warning("call %s: <%s> is not emulated; skipped", self.sid, verb.verb)

    async def _stream(self, verb: Stream) -> None:
        start = self.phone.position if self.phone is not None else 0
        try:
            stream = await MediaStream.open(self._session, verb, self._credentials, self.sid, start)
        except StreamError as error:
            logger.warning("call %s: %s", self.sid, error)
            return
        stream.begin(self._playout if verb.bidirectional else None)
        self._streams.append(stream)
        if not verb.bidirectional:
            return
        try:
            await stream.closed.wait()
        finally:
            self._streams.remove(stream)
            await stream.stop()
            self._playout.clear()

    async def _play_digits(self, digits: str) -> None:
        played = asyncio.Event()
        for digit in digits:
            if digit in "wW":
                seconds = DIGIT_PAUSE_S if digit == "w" else 2 * DIGIT_PAUSE_S
                self._playout.add_audio(np.zeros(round(seconds * TELEPHONY_RATE), dtype=np.int16))
            else:
                self._playout.add_audio(dtmf_tone(digit, DIGIT_TONE_S))
                self._playout.add_audio(np.zeros(round(DIGIT_GAP_S * TELEPHONY_RATE), np.int16))
        self._playout.add_mark(Mark("digits", lambda _name: played.set()))
        await played.wait()


def _rfc2822(moment: datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment)
