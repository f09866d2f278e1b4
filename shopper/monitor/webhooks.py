"""Alert changes POSTed as JSON to webhooks, in the background, with retries.

A webhook is someone else's server (Slack, a pager, a ticket system): it can be slow, down
or rate-limiting, and none of that may hold up the monitor's next run. Each POST runs as its
own task and is retried with exponential backoff on network errors, 5xx and 429; any other
4xx is a mistake a retry cannot fix (wrong URL, revoked token) and is reported at once.

Webhook URLs usually carry their token in the path or query, so they are never shown whole:
warnings name only the scheme, host and port (`https://hooks.slack.com/…`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
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

from shopper.publish.outbox import Warn

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
    """`async with Webhooks(warn) as hooks:`; `hooks.post(urls, payload)` never waits.

    Leaving the block waits up to `drain_s` for POSTs still being retried, then gives them
    up with a warning (the alert itself is in the history and in the MQTT outbox)."""

    def __init__(self, warn: Warn, backoff: Backoff | None = None, drain_s: float = 10.0) -> None:
        self.backoff = backoff or Backoff()
        self._warn = warn
        self._drain_s = drain_s
        self._session: aiohttp.ClientSession | None = None
        self._pending: set[asyncio.Task[bool]] = set()

    async def __aenter__(self) -> Webhooks:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.backoff.timeout_s)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pending:
            _, late = await asyncio.wait(set(self._pending), timeout=self._drain_s)
            for task in late:
                task.cancel()
            if late:
                posts = "POST" if len(late) == 1 else "POSTs"
                self._warn(f"webhooks: gave up {len(late)} alert {posts} still being retried")
            await asyncio.gather(*late, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def post(self, urls: Iterable[str], payload: dict[str, Any]) -> None:
        """Start one background POST of `payload` per URL."""
        for url in urls:
            task = asyncio.create_task(self.deliver(url, payload), name="webhook")
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def deliver(self, url: str, payload: dict[str, Any]) -> bool:
        """POST with retries; True when the server accepted it. Never raises."""
        backoff = self.backoff
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(backoff.attempts),
                wait=wait_exponential(multiplier=backoff.first_s, max=backoff.max_s)
                + wait_random(0, backoff.jitter_s),
                retry=retry_if_exception_type(WebhookRetry),
            ):
                with attempt:
                    await self._post_once(url, payload)
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

    async def _post_once(self, url: str, payload: dict[str, Any]) -> None:
        if self._session is None:
            raise RuntimeError("Webhooks.post outside `async with`")
        try:
            async with self._session.post(url, json=payload) as response:
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
