"""What all of a process's Twilio calls share: settings, the REST client, the built-in server.

Created by the first Twilio call on an event loop and kept until the loop ends (its closing
task is cancelled when `asyncio.run` finishes, and closes the server and the HTTP client), so
every call of a run, concurrent or not, goes through one server on one port. The first time
a process uses an account, it hangs up the calls a crashed earlier run left in the ledger.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from shopper.carriers.base import CarrierError
from shopper.carriers.options import TwilioGiven
from shopper.carriers.twilio.ledger import CallLedger
from shopper.carriers.twilio.rest import TERMINAL, TwilioCallError, TwilioRest
from shopper.carriers.twilio.server import TwilioServer
from shopper.carriers.twilio.settings import TwilioSettings, twilio_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TwilioRuntime:
    settings: TwilioSettings
    rest: TwilioRest
    server: TwilioServer
    ledger: CallLedger


_RUNTIMES: dict[asyncio.AbstractEventLoop, TwilioRuntime] = {}
_CLOSERS: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
_STARTING: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
_SWEPT: set[str] = set()
"""Accounts whose leftovers this process has already hung up."""


async def twilio_runtime(given: TwilioGiven) -> TwilioRuntime:
    """This loop's runtime, started on first use; settings must not change within a run.
    Concurrent first calls wait for one start."""
    settings = twilio_settings(given)
    loop = asyncio.get_running_loop()
    async with _STARTING.setdefault(loop, asyncio.Lock()):
        return await _runtime(loop, settings)


async def _runtime(loop: asyncio.AbstractEventLoop, settings: TwilioSettings) -> TwilioRuntime:
    runtime = _RUNTIMES.get(loop)
    if runtime is not None:
        if runtime.settings != settings:
            raise CarrierError(
                "the Twilio settings changed within one run: one process serves one account "
                "on one --listen address and --public-url"
            )
        return runtime
    server = TwilioServer(settings.listen, settings.public_url, settings.auth_token)
    await server.start()
    runtime = TwilioRuntime(settings, TwilioRest(settings), server, CallLedger())
    _RUNTIMES[loop] = runtime
    _CLOSERS[loop] = loop.create_task(_close_at_end(loop, runtime))
    if settings.account_sid not in _SWEPT:
        _SWEPT.add(settings.account_sid)
        await hang_up_leftovers(runtime)
    return runtime


async def close_twilio() -> None:
    """Close this loop's server and client now (tests; `asyncio.run` does it at its end)."""
    closer = _CLOSERS.get(asyncio.get_running_loop())
    if closer is not None:
        closer.cancel()
        await asyncio.gather(closer, return_exceptions=True)


async def _close_at_end(loop: asyncio.AbstractEventLoop, runtime: TwilioRuntime) -> None:
    try:
        await asyncio.Future()
    finally:
        _RUNTIMES.pop(loop, None)
        _CLOSERS.pop(loop, None)
        _STARTING.pop(loop, None)
        await runtime.server.close()
        await runtime.rest.close()


async def hang_up_leftovers(runtime: TwilioRuntime) -> list[str]:
    """Hang up the ledger's calls that no running shopper process owns; their SIDs."""
    ended: list[str] = []
    for entry in runtime.ledger.leftovers(runtime.settings.account_sid):
        try:
            state = await runtime.rest.fetch(entry.call_sid)
            if state.status not in TERMINAL:
                await runtime.rest.hang_up(entry.call_sid)
                log.warning(
                    "hung up Twilio call %s, left up by an earlier shopper run (pid %d)",
                    entry.call_sid,
                    entry.pid,
                )
                ended.append(entry.call_sid)
        except TwilioCallError as error:
            if error.code != 20404:  # Twilio no longer knows it: nothing to hang up
                log.warning(
                    "could not hang up Twilio call %s left by an earlier run: %s",
                    entry.call_sid,
                    error.message,
                )
                continue
        runtime.ledger.remove(entry.call_sid)
    return ended
