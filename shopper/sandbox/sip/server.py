"""`shopper sandbox serve`: answer SIP INVITEs, each with a fresh simulated phone system.

The IVR's sounds are rendered once, before the server listens, and shared by every call
(each call gets its own `SandboxPhone`, seeded alike, so two calls that do the same thing
hear the same thing). Each call's truth is written when it ends, as
`DIR/NNNN-<Call-ID>.json` with `--truth DIR` (NNNN counts calls from 0001), the same JSON the
in-process runner writes as `sandbox-truth.json`, complete or not at all (written beside and
renamed, so whatever watches the folder never reads half a file).

It listens on HOST:PORT over UDP and over TCP (a PBX's usual set-up, so a caller chooses): the
TCP side is the SIP carrier's own transport (shopper.carriers.sip.stream: framing, answers on
the request's connection, TCP in Via and Contact) under a second `SipUAS` with the same
callbacks, so a call is served alike whichever way its INVITE came.

aiosipua 0.7.1 on Python 3.11 asserts that the UDP transport is an
`asyncio.DatagramTransport`, which CPython's selector transport is not before 3.12; the
assertion only logs a traceback (the transport is stored anyway), so `_SipUdp` binds the
socket with a protocol that skips it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiosipua import IncomingCall, SipRequest, SipUAS, UdpSipTransport
from aiosipua.transport import _UdpProtocol

from shopper.carriers.sip.stream import TcpSipTransport
from shopper.sandbox.model import IvrDefinition
from shopper.sandbox.phone import SandboxPhone
from shopper.sandbox.render import SoundBank
from shopper.sandbox.sip.address import ServeError, SipAddress
from shopper.sandbox.sip.call import CallOutcome, ServedCall
from shopper.sandbox.truthfile import write_truth

logger = logging.getLogger(__name__)

USER_AGENT = "shopper-sandbox"


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """`--seed`, `--at` (None: each call's own moment) and `--truth`."""

    seed: int = 0
    at: datetime | None = None
    truth_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class CallReport:
    """One finished call, as the server logs it."""

    number: int
    call_id: str
    caller: str
    outcome: CallOutcome
    truth_file: Path | None

    def line(self) -> str:
        truth = f"; truth {self.truth_file}" if self.truth_file is not None else ""
        keys = f"; keys {''.join(self.outcome.keys)}" if self.outcome.keys else ""
        return (
            f"call {self.number} from {self.caller}: {self.outcome.state_reached}, ended by "
            f"{self.outcome.ended_by} ({self.outcome.reason}){keys}{truth}"
        )


class SandboxSipServer:
    """The simulated phone system `definition`, reachable at `address` over SIP/UDP and
    SIP/TCP."""

    def __init__(
        self,
        definition: IvrDefinition,
        sounds: SoundBank,
        address: SipAddress,
        settings: ServeSettings,
        on_report: Callable[[CallReport], None] = lambda report: None,
    ) -> None:
        self._definition = definition
        self._sounds = sounds
        self._address = address
        self._settings = settings
        self._on_report = on_report
        self._agents: list[SipUAS] = []
        self._calls: dict[str, ServedCall] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._count = 0
        self._stopping = False

    async def start(self) -> None:
        """Bind the SIP port, UDP and TCP; a one-line ServeError when it cannot be bound."""
        where = (self._address.host, self._address.port)
        for transport in (_SipUdp(local_addr=where), TcpSipTransport(where)):
            uas = SipUAS(transport, user_agent=USER_AGENT)
            uas.on_invite = self._invite
            uas.on_bye = self._bye
            uas.on_cancel = self._cancel
            uas.on_reinvite = self._reinvite
            uas.on_ack_timeout = self._ack_timeout
            try:
                await uas.start()
            except OSError as error:
                await self.stop()
                raise ServeError(_bind_problem(self._address, transport, error)) from None
            self._agents.append(uas)

    async def stop(self) -> None:
        """End every live call (BYE, or 503 to one not yet answered), write their truths,
        and close the SIP port."""
        self._stopping = True
        for call in list(self._calls.values()):
            call.shut_down()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._agents:
            await asyncio.sleep(0.05)
        for uas in self._agents:
            await uas.stop()
        self._agents.clear()

    # --- SIP callbacks (called on the event loop by aiosipua) -------------------------------

    def _invite(self, invite: IncomingCall) -> None:
        if self._stopping:
            invite.reject(503, "Service Unavailable")
            return
        self._count += 1
        moment = self._settings.at if self._settings.at is not None else datetime.now(UTC)
        phone = SandboxPhone(self._definition, self._settings.seed, moment, sounds=self._sounds)
        call = ServedCall(invite, phone)
        self._calls[invite.call_id] = call
        task = asyncio.get_running_loop().create_task(self._serve(self._count, call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _bye(self, invite: IncomingCall, request: SipRequest) -> None:
        call = self._calls.get(invite.call_id)
        if call is not None:
            call.caller_ended("caller sent BYE")

    def _cancel(self, request: SipRequest, addr: tuple[str, int]) -> None:
        call = self._calls.get(request.call_id or "")
        if call is not None:
            call.caller_ended("caller sent CANCEL")

    def _reinvite(self, invite: IncomingCall) -> None:
        call = self._calls.get(invite.call_id)
        if call is not None:
            call.caller_moved_media()

    def _ack_timeout(self, invite: IncomingCall) -> None:
        call = self._calls.get(invite.call_id)
        if call is not None:
            call.caller_ended("no ACK for the 200 OK")

    # --- one call ------------------------------------------------------------------------------

    async def _serve(self, number: int, call: ServedCall) -> None:
        try:
            outcome = await call.run(self._address.host)
        except Exception:
            logger.exception("call %d (%s) failed", number, call.invite.call_id)
            call.shut_down()
            outcome = CallOutcome(call.state, "network", "server error", ())
        finally:
            self._calls.pop(call.invite.call_id, None)
        truth_file = self._write_truth(number, call)
        self._on_report(
            CallReport(number, call.invite.call_id, call.invite.caller, outcome, truth_file)
        )

    def _write_truth(self, number: int, call: ServedCall) -> Path | None:
        folder = self._settings.truth_dir
        if folder is None:
            return None
        return write_truth(folder, number, call.invite.call_id, call.phone.truth)


class _QuietUdpProtocol(_UdpProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._owner._udp_transport = transport  # type: ignore[assignment]


class _SipUdp(UdpSipTransport):
    """aiosipua's UDP transport without the assertion that fails on CPython 3.11."""

    name = "UDP"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _QuietUdpProtocol(self), local_addr=self.local_addr
        )
        self._udp_transport = transport


def _bind_problem(address: SipAddress, transport: _SipUdp | TcpSipTransport, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"--sip {address}: {_port(transport)} {address.port} is already in use (another "
            "SIP server or shopper is listening there; stop it or pick another port)"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            f"--sip {address}: {address.host} is not an address of this machine "
            "(use 127.0.0.1 or one of its own addresses; `ip -br addr` lists them)"
        )
    if error.errno == errno.EACCES:
        return f"--sip {address}: not allowed to bind port {address.port} (use a port above 1023)"
    return f"--sip {address}: cannot listen there ({error.strerror})"


def _port(transport: _SipUdp | TcpSipTransport) -> str:
    """ "port" (UDP, what a SIP port is unless said otherwise) or "TCP port"."""
    return "TCP port" if transport.reliable else "port"
