"""Status callbacks: signed form POSTs to the call's `StatusCallback`, one at a time, in order.

Twilio sends `initiated`, `ringing`, `answered` and `completed` only when they are listed in
`StatusCallbackEvent` (the default list is `completed` alone); each carries the call's fields
(`CallSid`, `CallStatus`, `From`, `To`, `Direction`...), `Timestamp` (RFC 2822),
`SequenceNumber` (from 0 for each call), `CallbackSource` and, at the end, `CallDuration`,
`Duration` and `SipResponseCode` where one applies. A callback that fails is logged and not
retried (Twilio retries only when asked to with connection overrides).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import format_datetime

import aiohttp

from shopper.sandbox.twilio.signature import SIGNATURE_HEADER, Credentials

logger = logging.getLogger(__name__)

EVENTS = ("initiated", "ringing", "answered", "completed")


class StatusCallbacks:
    """The callbacks of one call, posted in order by a task of their own."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        url: str | None,
        events: frozenset[str],
    ) -> None:
        self._session = session
        self._credentials = credentials
        self._url = url
        self._events = events if events else frozenset({"completed"})
        self._sequence = 0
        self._queue: asyncio.Queue[dict[str, str] | None] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._post_all())

    def send(self, event: str, fields: dict[str, str]) -> None:
        """Queue the callback for `event` if the call asked for it."""
        if self._url is None or event not in self._events:
            return
        stamped = fields | {
            "Timestamp": format_datetime(datetime.now(UTC)),
            "SequenceNumber": str(self._sequence),
            "CallbackSource": "call-progress-events",
        }
        self._sequence += 1
        self._queue.put_nowait(stamped)

    async def finish(self) -> None:
        """Wait until every queued callback has been posted."""
        self._queue.put_nowait(None)
        await self._task

    async def _post_all(self) -> None:
        while (fields := await self._queue.get()) is not None:
            await self._post(fields)

    async def _post(self, fields: dict[str, str]) -> None:
        assert self._url is not None
        headers = {SIGNATURE_HEADER: self._credentials.sign(self._url, fields)}
        try:
            async with self._session.post(self._url, data=fields, headers=headers) as response:
                if response.status >= 400:
                    logger.warning(
                        "status callback %s for %s: HTTP %d",
                        fields["CallStatus"],
                        fields["CallSid"],
                        response.status,
                    )
        except (aiohttp.ClientError, OSError) as error:
            logger.warning(
                "status callback %s for %s failed (%s)",
                fields["CallStatus"],
                fields["CallSid"],
                error,
            )
