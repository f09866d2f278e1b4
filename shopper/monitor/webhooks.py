"""Alert changes POSTed as JSON to webhooks, in the background, with retries, durably.

A webhook is someone else's server (Slack, a pager, a ticket system): it can be slow, down
or rate-limiting, and none of that may hold up the monitor's next run. Each POST runs as its
own task and is retried with exponential backoff on network errors, 5xx and 429; any other
4xx is a mistake a retry cannot fix (wrong URL, revoked token) and is reported at once.

Every POST is first an entry in a durable outbox in the state dir (`webhooks.sqlite3`, the
same SQLite outbox as MQTT's, shopper.publish.outbox, with the URL as the entry's topic),
and it leaves the outbox only once the receiver accepted it (2xx), refused it for good, or
every attempt failed. A monitor stopped (or killed) while a receiver is failing keeps the
POST, and the next monitor started on the same state dir retries it, with a fresh backoff.
Once a receiver acknowledged a POST its entry is deleted before anything else happens, so
it is not sent again; a crash in the instant between the 2xx and the deletion sends it once
more, with the same `id` (at least once, like MQTT).

Webhook URLs usually carry their token in the path or query, so they are never shown whole:
warnings name only the scheme, host and port (`https://hooks.slack.com/…`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from shopper.publish.envelope import encode
from shopper.publish.outbox import Entry, Limits, Outbox, Warn

WEBHOOK_OUTBOX_FILE = "webhooks.sqlite3"
WEBHOOK_MAX_AGE_S = 24 * 3600.0
"""POSTs older than this are dropped from the outbox (with a warning) when a monitor starts:
a day-old alert is news to nobody."""
MAX_AT_ONCE = 100
"""POSTs being tried at once; more wait in the outbox."""
JSON = {"Content-Type": "application/json"}

_log = logging.getLogger("shopper.monitor")


@dataclass(frozen=True, slots=True)
class Backoff:
    """How often and how patiently a POST is retried: `attempts` in all, waiting from
    `first_s` doubling up to `max_s` (plus up to `jitter_s` random) in between."""

    attempts: int = 6
    first_s: float = 2.0
    max_s: float = 120.0
    jitter_s: float = 1.0
    timeout_s: float = 15.0
    """For one POST, connecting included."""


class WebhookRefused(Exception):
    """The server refused the POST for good (4xx other than 429), or the URL is unusable."""


class WebhookRetry(Exception):
    """A failure worth retrying (network, 5xx, 429); its message is safe to show."""


def shown_url(url: str) -> str:
    """The URL without anything that may be a secret: user info, path, query, fragment."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a malformed webhook URL)"
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{port}/…"


class Webhooks:
    """`async with Webhooks(path, warn) as hooks:`; `hooks.post(urls, payload)` never waits.

    `path` is the outbox file: POSTs left in it by an earlier monitor are sent on entering.
    Leaving the block waits up to `drain_s` for POSTs still being retried, then stops them;
    they stay in the outbox for the next start."""

    def __init__(
        self,
        path: Path,
        warn: Warn,
        backoff: Backoff | None = None,
        drain_s: float = 10.0,
        limits: Limits | None = None,
    ) -> None:
        self.path = path
        self.backoff = backoff or Backoff()
        self._warn = warn
        self._drain_s = drain_s
        self._limits = limits or Limits(max_age_s=WEBHOOK_MAX_AGE_S)
        self._outbox: Outbox | None = None
        self._session: aiohttp.ClientSession | None = None
        self._wakeup = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._flying: dict[int, asyncio.Task[None]] = {}
        """POSTs being tried, by outbox entry."""

    async def __aenter__(self) -> Webhooks:
        self._outbox = Outbox(
            self.path,
            self._limits,
            self._warn,
            name="webhook outbox",
            receiver="the receiver",
            shown=shown_url,
        )
        self._outbox.on_put(self._wakeup.set)
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.backoff.timeout_s)
        )
        self._sender = asyncio.create_task(self._send(), name="webhooks")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._start_waiting()  # those put since the sender last looked get their drain time
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
            self._sender = None
        flying = set(self._flying.values())
        if flying:
            _, late = await asyncio.wait(flying, timeout=self._drain_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                posts = "POST waits" if len(late) == 1 else "POSTs wait"
                self._warn(
                    f"webhooks: {len(late)} alert {posts} in {self.path}, still being retried; "
                    "the monitor's next start sends them"
                )
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None

    def post(self, urls: Iterable[str], payload: dict[str, Any]) -> None:
        """Keep one POST of `payload` per URL in the outbox; the sender starts each at once."""
        if self._outbox is None:
            raise RuntimeError("Webhooks.post outside `async with`")
        body = encode(payload)
        for url in urls:
            self._outbox.put(url, body, 0, False)

    async def _send(self) -> None:
        """Start a delivery for every entry of the outbox not yet being tried: at start (what
        an earlier monitor left) and whenever one is put or one ends."""
        while True:
            self._wakeup.clear()
            self._start_waiting()
            await self._wakeup.wait()

    def _start_waiting(self) -> None:
        if self._outbox is None:
            return
        for entry in self._outbox.peek(MAX_AT_ONCE):
            if entry.seq not in self._flying:
                task = asyncio.create_task(self._deliver_entry(entry), name="webhook")
                self._flying[entry.seq] = task

    async def _deliver_entry(self, entry: Entry) -> None:
        """POST one entry until it is accepted, refused or given up, then delete it: an
        acknowledged POST is never sent again."""
        try:
            await self.deliver(entry.topic, entry.payload)
            if self._outbox is not None:
                self._outbox.remove([entry])
        finally:
            self._flying.pop(entry.seq, None)
            self._wakeup.set()

    async def deliver(self, url: str, body: bytes) -> bool:
        """POST the JSON `body` with retries; True when the server accepted it. Never raises
        (but is cancelled when the monitor stops)."""
        backoff = self.backoff
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(backoff.attempts),
                wait=wait_exponential(multiplier=backoff.first_s, max=backoff.max_s)
                + wait_random(0, backoff.jitter_s),
                retry=retry_if_exception_type(WebhookRetry),
            ):
                with attempt:
                    await self._post_once(url, body)
        except RetryError as error:
            cause = error.last_attempt.exception()
            self._warn(
                f"webhook {shown_url(url)}: not delivered after {backoff.attempts} attempts "
                f"({cause})"
            )
            return False
        except WebhookRefused as error:
            self._warn(f"webhook {shown_url(url)}: {error}; not retried (check the URL)")
            return False
        _log.debug("webhook %s: delivered", shown_url(url))
        return True

    async def _post_once(self, url: str, body: bytes) -> None:
        if self._session is None:
            raise RuntimeError("Webhooks.deliver outside `async with`")
        try:
            async with self._session.post(url, data=body, headers=JSON) as response:
                status, reason = response.status, response.reason or ""
        except aiohttp.InvalidURL:
            raise WebhookRefused("not a usable http(s) URL") from None
        except (aiohttp.ClientError, TimeoutError) as error:
            # aiohttp's messages may quote the URL; only the error's kind is shown.
            raise WebhookRetry(_network_problem(error)) from None
        if status >= 500 or status == 429:
            raise WebhookRetry(f"HTTP {status} {reason}".rstrip())
        if status >= 400:
            raise WebhookRefused(f"HTTP {status} {reason}".rstrip())


def _network_problem(error: Exception) -> str:
    """What went wrong, in words that never quote the URL (aiohttp's own messages do)."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectorError):
        return "cannot connect"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return type(error).__name__
