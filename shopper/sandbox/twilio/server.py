"""The emulator: the numbers it serves, its HTTP server, its calls, and each call's truth.

Each number maps to a sandbox IVR whose sounds are rendered once, before the server listens
(`ANY_NUMBER` maps every valid number no other entry names: `shopper sandbox serve --twilio`);
each call to it gets a fresh `SandboxPhone` (seeded alike, so two calls that do the same thing
hear the same thing). A call's truth is written when the call ends, as
`DIR/NNNN-<CallSid>.json` with `--truth DIR` (shopper.sandbox.truthfile).
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiohttp
from aiohttp import web

from shopper.errors import ShopperError
from shopper.sandbox.model import IvrDefinition
from shopper.sandbox.phone import SandboxPhone
from shopper.sandbox.render import SoundBank
from shopper.sandbox.truthfile import write_truth
from shopper.sandbox.twilio.call import CallRequest, CallStatus, EmulatedCall, TwimlSource
from shopper.sandbox.twilio.pricing import DEFAULT_RATE
from shopper.sandbox.twilio.rest import rest_app
from shopper.sandbox.twilio.signature import SIGNATURE_HEADER, Credentials, shown
from shopper.sandbox.twilio.stream import new_sid
from shopper.sandbox.twilio.twiml import TwimlError, Verb, parse_twiml

logger = logging.getLogger(__name__)

ANY_NUMBER = "*"
"""The `numbers` key of the IVR that answers calls to any number not mapped on its own."""
FETCH_TIMEOUT_S = 15.0
"""Twilio waits 15 s for a TwiML document before giving up (its default webhook timeout)."""


class EmulatorError(ShopperError):
    """The emulator cannot start as asked (a port in use, a bad number mapping)."""


@dataclass(frozen=True, slots=True)
class ServedIvr:
    """A sandbox IVR and its rendered sounds."""

    definition: IvrDefinition
    sounds: SoundBank


@dataclass(frozen=True, slots=True)
class EmulatorSettings:
    """`--seed`, `--at` (None: each call's own moment), `--truth`, `--caller-id` and
    `--price-per-minute`."""

    seed: int = 0
    at: datetime | None = None
    truth_dir: Path | None = None
    caller_ids: frozenset[str] = field(default_factory=frozenset)
    """Numbers allowed as `From`; empty: any E.164 number."""
    price_per_minute: Decimal = DEFAULT_RATE
    """What an answered call costs per started minute (made up: shopper.sandbox.twilio.pricing)."""


@dataclass(frozen=True, slots=True)
class CallReport:
    """One finished call, as the emulator logs it."""

    number: int
    sid: str
    to: str
    status: str
    duration_s: int | None
    truth_file: Path | None

    def line(self) -> str:
        truth = f"; truth {self.truth_file}" if self.truth_file is not None else ""
        duration = f", {self.duration_s} s" if self.duration_s else ""
        return f"call {self.number} {self.sid} to {self.to}: {self.status}{duration}{truth}"


class TwilioEmulator:
    """Calls to `numbers`, placed through the Calls REST resource (shopper.sandbox.twilio.rest)."""

    def __init__(
        self,
        numbers: dict[str, ServedIvr],
        credentials: Credentials,
        settings: EmulatorSettings,
        on_report: Callable[[CallReport], None] = lambda report: None,
    ) -> None:
        self.numbers = numbers
        self.credentials = credentials
        self.settings = settings
        self._on_report = on_report
        self.calls: dict[str, EmulatedCall] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._count = 0
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.stopping = False

    async def start(self, host: str, port: int) -> int:
        """Listen on HOST:PORT (0: any free port); the port bound."""
        self._session = aiohttp.ClientSession()
        runner = web.AppRunner(rest_app(self), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            await self._session.close()
            raise EmulatorError(_bind_problem(host, port, error)) from None
        self._runner = runner
        bound: int = runner.addresses[0][1]
        return bound

    async def stop(self) -> None:
        """End the calls in progress (their truths say `network`, `server stopped`) and close."""
        self.stopping = True
        for call in list(self.calls.values()):
            status: CallStatus = "completed" if call.status == "in-progress" else "canceled"
            call.end("network", "server stopped", status)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def place(self, request: CallRequest, twiml: TwimlSource) -> EmulatedCall:
        """Dial `request.to` now; the call runs in a task of its own."""
        assert self._session is not None, "start() the emulator first"
        served = self.numbers.get(request.to, self.numbers.get(ANY_NUMBER))
        phone = None
        if served is not None:
            moment = self.settings.at if self.settings.at is not None else datetime.now(UTC)
            phone = SandboxPhone(
                served.definition, self.settings.seed, moment, sounds=served.sounds
            )
        self._count += 1
        number = self._count
        call = EmulatedCall(
            new_sid("CA"),
            request,
            phone,
            twiml,
            self._session,
            self.credentials,
            lambda ended: self._ended(number, ended),
            self.settings.price_per_minute,
        )
        self.calls[call.sid] = call
        task = asyncio.get_running_loop().create_task(self._run(number, call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return call

    def inline(self, twiml: list[Verb]) -> TwimlSource:
        async def verbs(_fields: dict[str, str]) -> list[Verb]:
            return twiml

        return verbs

    def fetched(self, url: str) -> TwimlSource:
        """TwiML fetched from `url` when it is needed: a signed POST of the call's fields."""

        async def verbs(fields: dict[str, str]) -> list[Verb]:
            assert self._session is not None
            headers = {SIGNATURE_HEADER: self.credentials.sign(url, fields)}
            timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
            try:
                async with self._session.post(
                    url, data=fields, headers=headers, timeout=timeout
                ) as response:
                    if response.status >= 400:
                        raise TwimlError(f"{shown(url)} answered HTTP {response.status}")
                    return parse_twiml(await response.text())
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                raise TwimlError(f"cannot fetch TwiML from {shown(url)} ({error})") from None

        return verbs

    async def _run(self, number: int, call: EmulatedCall) -> None:
        try:
            await call.run()
        except Exception:
            logger.exception("call %d (%s) failed", number, call.sid)

    def _ended(self, number: int, call: EmulatedCall) -> None:
        """The call has just ended: write its truth and log it, before its final callback."""
        truth_file = None
        folder = self.settings.truth_dir
        if folder is not None and call.phone is not None:
            truth_file = write_truth(folder, number, call.sid, call.phone.truth)
        self._on_report(
            CallReport(number, call.sid, call.request.to, call.status, call.duration_s, truth_file)
        )


def _bind_problem(host: str, port: int, error: OSError) -> str:
    where = f"{host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return f"{where}: port {port} is already in use (stop what listens there or pick another)"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{where}: {host} is not an address of this machine (use 127.0.0.1)"
    if error.errno == errno.EACCES:
        return f"{where}: not allowed to bind port {port} (use a port above 1023)"
    return f"{where}: cannot listen there ({error.strerror})"
