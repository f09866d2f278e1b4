"""The publisher: drains the outbox to the broker in the background, whatever the broker does.

It runs as a task in the caller's event loop. Enqueueing is a synchronous SQLite insert, so
a call never waits for the network; the task connects (tenacity: exponential backoff with
jitter), announces `online` with an `offline` last will, publishes the oldest entries with a
window of unacknowledged ones, deletes each after its PUBACK, and starts over after any
broker problem. Problems are reported once each through `warn`, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiomqtt
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential,
    wait_random,
)

from shopper.publish.envelope import encode, status_payload
from shopper.publish.outbox import Outbox, Warn, default_outbox_path
from shopper.publish.settings import Broker, MqttSettings, MqttSettingsError
from shopper.publish.topics import Topics

WINDOW = 20
"""Entries in flight at once: paho's default limit of unacknowledged QoS 1 messages."""
CONNECT_TIMEOUT_S = 10.0
DRAIN_POLL_S = 0.05


class Publisher:
    """`async with Publisher(settings, outbox):` publishes until the block ends."""

    def __init__(
        self,
        settings: MqttSettings,
        outbox: Outbox,
        warn: Warn,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.topics = Topics(settings.prefix, settings.site)
        self.connected = False
        self.problem: str | None = settings.broker_problem
        """The last reason the broker could not be used (one line, no secrets)."""
        self._warn = warn
        self._max_backoff_s = max_backoff_s
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        outbox.on_put(self._wakeup.set)

    def enqueue(self, topic_suffix: str, payload: dict[str, Any], retain: bool = False) -> bool:
        """Store `payload` for `<prefix>/<site>/<topic_suffix>`; never blocks, never raises."""
        return self.enqueue_topic(self.topics.full(topic_suffix), payload, retain)

    def enqueue_topic(self, topic: str, payload: dict[str, Any], retain: bool = False) -> bool:
        """`enqueue` for a topic outside shopper's tree (Home Assistant's discovery configs)."""
        return self.outbox.put(topic, encode(payload), self.settings.qos, retain)

    async def __aenter__(self) -> Publisher:
        if self.problem is not None:
            self._warn(f"MQTT: {self.problem}; entries wait in the outbox {self.outbox.path}")
        else:
            self._task = asyncio.create_task(self._run(), name="mqtt-publisher")
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def drain(self, timeout_s: float) -> int:
        """Wait until the outbox is empty or `timeout_s` passed; the number of entries left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (left := len(self.outbox)) and self._task is not None and loop.time() < deadline:
            await asyncio.sleep(DRAIN_POLL_S)
        return left

    async def drain_and_report(self, timeout_s: float) -> int:
        """`drain`, then say on one line where what is left waits and how it will leave."""
        left = await self.drain(timeout_s)
        if left:
            self._warn(
                f"MQTT: {left} entries wait in the outbox {self.outbox.path}; "
                "`shopper publish --drain` (or the next run) delivers them"
            )
        return left

    # --- the background task --------------------------------------------------------------

    async def _run(self) -> None:
        broker = self.settings.broker
        assert broker is not None
        while True:
            try:
                client = self._client(broker)
                async with AsyncExitStack() as stack:
                    async for attempt in AsyncRetrying(
                        wait=wait_exponential(multiplier=0.5, max=self._max_backoff_s)
                        + wait_random(0, 1),
                        retry=retry_if_exception_type(aiomqtt.MqttError),
                        before_sleep=self._on_retry,
                    ):
                        with attempt:
                            await stack.enter_async_context(client)
                    await self._serve(client)
            except aiomqtt.MqttError as error:
                self._problem(error)
            finally:
                self.connected = False

    def _client(self, broker: Broker) -> aiomqtt.Client:
        status = self.topics.status
        offline = encode(status_payload("offline", self.settings.client_id))
        try:
            tls_context = broker.tls_context()
        except MqttSettingsError as error:
            raise aiomqtt.MqttError(str(error)) from None
        client = aiomqtt.Client(
            broker.host,
            broker.port,
            username=broker.username,
            password=broker.password,
            identifier=self.settings.client_id,
            keepalive=self.settings.keepalive,
            will=aiomqtt.Will(status, offline, qos=1, retain=True),
            tls_context=tls_context,
            timeout=CONNECT_TIMEOUT_S,
        )
        # aiomqtt warns on stderr beyond this many unacknowledged publishes: the window's size.
        client.pending_calls_threshold = WINDOW
        return client

    async def _serve(self, client: aiomqtt.Client) -> None:
        await client.publish(
            self.topics.status,
            encode(status_payload("online", self.settings.client_id)),
            qos=1,
            retain=True,
        )
        self.connected = True
        if self.problem is not None:
            self.problem = None
            self._warn(f"MQTT broker {self._url}: connected, delivering the outbox")
        watch = asyncio.create_task(_until_disconnected(client))
        send = asyncio.create_task(self._send(client))
        try:
            done, _ = await asyncio.wait({watch, send}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        except asyncio.CancelledError:
            await self._say_offline(client)
            raise
        finally:
            for task in (watch, send):
                task.cancel()
            await asyncio.gather(watch, send, return_exceptions=True)

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            self._wakeup.clear()
            batch = self.outbox.peek(WINDOW)
            if not batch:
                await self._wakeup.wait()
                continue
            outcomes = await asyncio.gather(
                *(client.publish(e.topic, e.payload, e.qos, e.retain) for e in batch),
                return_exceptions=True,
            )
            self.outbox.remove([e for e, o in zip(batch, outcomes, strict=True) if o is None])
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """A clean goodbye: the retained status says offline without waiting for the will."""
        offline = encode(status_payload("offline", self.settings.client_id))
        with contextlib.suppress(aiomqtt.MqttError, asyncio.TimeoutError):
            await client.publish(self.topics.status, offline, qos=1, retain=True, timeout=2.0)

    def _on_retry(self, state: RetryCallState) -> None:
        if state.outcome is not None and state.outcome.failed:
            error = state.outcome.exception()
            if isinstance(error, Exception):
                self._problem(error)

    def _problem(self, error: Exception) -> None:
        reason = describe(error)
        if reason != self.problem:
            self.problem = reason
            self._warn(
                f"MQTT broker {self._url}: {reason}; {len(self.outbox)} entries wait in the "
                "outbox, retrying"
            )

    @property
    def _url(self) -> str:
        return self.settings.broker.url if self.settings.broker else "(none)"


async def _until_disconnected(client: aiomqtt.Client) -> None:
    """Nothing is subscribed, so the message stream only ever ends with a disconnection."""
    async for _ in client.messages:
        pass
    raise aiomqtt.MqttError("disconnected")


def describe(error: Exception) -> str:
    """One line a person can act on, for the ways a broker connection fails."""
    text = str(error)
    lowered = text.lower()
    if any(words in lowered for words in ("user name or password", "not authori")):
        return (
            "the broker refused the login: wrong user name or password, or not authorised "
            "(check the URL's user and SHOPPER_MQTT_PASSWORD)"
        )
    if "certificate_verify_failed" in lowered or "certificate verify failed" in lowered:
        return (
            f"TLS failed: the broker's certificate is not trusted ({text}); give its CA: --mqtt-ca"
        )
    if "ssl" in lowered or "tls" in lowered:
        return f"TLS failed ({text})"
    if "connection refused" in lowered:
        return "connection refused (is the broker running and listening on that port?)"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "unknown host name"
    if "timed out" in lowered:
        return "no answer from the broker (timed out)"
    return text or type(error).__name__


@contextlib.asynccontextmanager
async def publishing(
    settings: MqttSettings | None, warn: Warn, outbox_path: Path | None = None
) -> AsyncIterator[Publisher | None]:
    """The outbox and its publisher for a run; None when MQTT is off or the outbox unusable."""
    if settings is None:
        yield None
        return
    path = outbox_path or default_outbox_path()
    try:
        outbox = Outbox(path, warn=warn)
    except (OSError, sqlite3.Error) as error:
        warn(f"MQTT outbox {path}: cannot open it ({error}); nothing will be published")
        yield None
        return
    try:
        async with Publisher(settings, outbox, warn) as publisher:
            yield publisher
    finally:
        outbox.close()
