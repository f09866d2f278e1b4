"""Alert changes leaving the monitor: retained on a real mosquitto through the durable outbox
(also across a broker outage), saved in the history so a restart announces nothing again,
and POSTed to webhooks (a local aiohttp server) that fail before they accept."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import pytest
from aiohttp import web
from monitor_runs import EVERY, T0, Clock, check_spec, run_record
from mosquitto import Collector, Mosquitto, free_port

from shopper.monitor.alert_observer import AlertObserver, alerting
from shopper.monitor.history import History, opened_history
from shopper.monitor.records import RunOutcome
from shopper.monitor.webhooks import Backoff, Webhooks
from shopper.publish.outbox import Outbox
from shopper.publish.publisher import Publisher
from shopper.publish.settings import mqtt_settings

ROOT = Path(__file__).parent.parent
SCHEMA = json.loads((ROOT / "shopper" / "publish" / "schema" / "alert.schema.json").read_text())
TOPIC = "shopper/v1/lab/alerts/support-line"
QUICK = Backoff(attempts=4, first_s=0.01, max_s=0.05, jitter_s=0.0, timeout_s=5.0)


async def finish(history: History, observer: AlertObserver, n: int, outcome: RunOutcome) -> None:
    """What the scheduler does after a run: the history first, then the observers."""
    run = run_record(n, outcome)
    history.add_run(run)
    await observer.run_ended(run)


async def retained(broker: Mosquitto, topic: str) -> tuple[bool, dict[str, Any]]:
    """What a consumer that connects now is handed for `topic`."""
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=f"fresh-{uuid.uuid4().hex[:8]}"
    ) as client:
        await client.subscribe(topic, qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                return message.retain, json.loads(message.payload)
    raise AssertionError("no message")


@pytest.fixture
async def collector(broker: Mosquitto) -> AsyncIterator[Collector]:
    broker.start()
    subscriber = Collector(broker, "shopper/v1/lab/alerts/#")
    task = asyncio.create_task(subscriber.collect())
    await subscriber.wait_for(lambda: subscriber.ready, 20)
    yield subscriber
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_changes_arrive_retained_and_none_is_lost_while_the_broker_is_away(
    collector: Collector, broker: Mosquitto, tmp_path: Path
) -> None:
    warnings: list[str] = []
    settings = mqtt_settings({"url": broker.url(), "site": "lab"})
    assert settings is not None
    outbox = Outbox(tmp_path / "outbox.sqlite3", warn=warnings.append)
    clock = Clock(T0)
    announced: list[str] = []
    async with Publisher(settings, outbox, warnings.append, max_backoff_s=0.5) as publisher:
        with opened_history(tmp_path / "monitor.sqlite3") as history:
            observer = AlertObserver(
                [check_spec()], history, publisher=publisher, announce=announced.append, clock=clock
            )
            for n, outcome in enumerate(("passed", "failed", "failed")):
                clock.now = T0 + n * EVERY
                await finish(history, observer, n, outcome)
            await collector.wait_for(lambda: len(collector.on("/alerts/support-line")) == 1, 30)
            [raised] = collector.on("/alerts/support-line")
            jsonschema.validate(raised, SCHEMA)
            assert (raised["status"], raised["change"], raised["previous"]) == (
                "failing",
                "raised",
                None,
            )
            assert raised["reason"] == (
                "2 runs in a row failed (latest: no person answered within 180 s)"
            )
            assert [r["report"] for r in raised["runs"]] == [
                "/srv/monitor/out/call-1/report.html",
                "/srv/monitor/out/call-2/report.html",
            ]
            assert raised["text"].startswith("support-line is FAILING: 2 runs in a row failed")
            assert "/srv/monitor/out/call-2/report.html" in raised["text"]
            assert await retained(broker, TOPIC) == (True, raised)

            broker.stop()
            for n, outcome in ((3, "passed"), (4, "failed"), (5, "failed")):
                clock.now = T0 + n * EVERY
                await finish(history, observer, n, outcome)
            assert len(outbox) == 2
            broker.start()
            assert await publisher.drain(30) == 0
    await collector.wait_for(lambda: len(collector.on("/alerts/support-line")) >= 3, 30)
    changes = {p["id"]: p for p in collector.on("/alerts/support-line")}  # QoS 1: dedupe by id
    assert [p["change"] for p in changes.values()] == ["raised", "recovered", "raised"]
    for payload in changes.values():
        jsonschema.validate(payload, SCHEMA)
    last = list(changes.values())[-1]
    assert last["runs"][-1]["run_id"] == run_record(5, "failed").run_id
    assert await retained(broker, TOPIC) == (True, last)
    assert [line.split(":")[0] for line in announced] == ["alert"] * 3
    assert any("entries wait in the outbox, retrying" in w for w in warnings)


def outbox_publisher(path: Path) -> Publisher:
    """A publisher that is never started: what it enqueues stays in the outbox to inspect."""
    settings = mqtt_settings({"url": "mqtt://127.0.0.1:9", "site": "lab"})
    assert settings is not None
    return Publisher(settings, Outbox(path, warn=lambda _: None), lambda _: None)


async def test_a_restarted_monitor_reads_its_state_back_and_announces_nothing_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "monitor.sqlite3"
    clock = Clock(T0)
    first = outbox_publisher(tmp_path / "outbox.sqlite3")
    with opened_history(path) as history:
        observer = AlertObserver([check_spec()], history, publisher=first, clock=clock)
        for n in range(2):
            clock.now = T0 + n * EVERY
            await finish(history, observer, n, "failed")
    [entry] = first.outbox.peek(10)
    assert entry.topic == TOPIC and entry.retain
    first.outbox.close()

    restarted = outbox_publisher(tmp_path / "outbox-2.sqlite3")
    with opened_history(path) as history:
        observer = AlertObserver([check_spec()], history, publisher=restarted, clock=clock)
        last = history.runs("support-line")[-1]
        await observer.run_ended(last)  # the same run reported again (a redelivered result)
        clock.now = T0 + 2 * EVERY
        await finish(history, observer, 2, "failed")  # still failing: nothing new to say
        assert len(restarted.outbox) == 0
        clock.now = T0 + EVERY + EVERY * 12  # an hour after the change was announced
        await finish(history, observer, 13, "failed")
        [reminder] = restarted.outbox.peek(10)
        payload = json.loads(reminder.payload)
        assert payload["change"] == "reminder" and payload["status"] == "failing"
        assert payload["text"].startswith(
            "support-line is still FAILING (since 2026-12-01 09:05 UTC)"
        )
        states = history.alerts("support-line")
        assert [(s.status, s.notified_at) for s in states] == [
            ("failing", T0 + EVERY),
            ("failing", T0 + 13 * EVERY),
        ]
    restarted.outbox.close()


class Hook:
    """A webhook receiver that answers `failures` times with `status` before accepting."""

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.calls = 0
        self.received: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.calls <= self.failures:
            return web.Response(status=self.status)
        self.received.append(await request.json())
        return web.Response(text="ok")


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def start(hook: Hook) -> str:
        app = web.Application()
        app.router.add_post("/services/T0/B0/{token}", hook.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}/services/T0/B0/sEcReTtOkEn"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_webhooks_are_retried_until_accepted_and_never_show_their_token(
    serve: Any, tmp_path: Path
) -> None:
    flaky, refusing, broken = Hook(failures=2), Hook(failures=99, status=404), Hook(failures=99)
    urls = (await serve(flaky), await serve(refusing), await serve(broken))
    lines: list[str] = []
    clock = Clock(T0)
    with opened_history(tmp_path / "monitor.sqlite3") as history:
        async with alerting(
            [check_spec(webhooks=urls)],
            history,
            publisher=None,
            announce=lines.append,
            webhook_outbox=tmp_path / "webhooks.sqlite3",
            clock=clock,
            backoff=QUICK,
        ) as observer:
            for n in range(2):
                await finish(history, observer, n, "failed")
        # leaving `alerting` waited for the POSTs being retried
    [announced] = [line for line in lines if line.startswith("alert: ")]
    assert announced.startswith("alert: support-line is FAILING")
    warnings = [line for line in lines if line.startswith("webhook ")]
    assert flaky.calls == 3 and refusing.calls == 1 and broken.calls == QUICK.attempts
    [payload] = flaky.received
    jsonschema.validate(payload, SCHEMA)
    assert payload["text"].startswith("support-line is FAILING: 2 runs in a row failed")
    assert payload["runs"][0]["report"] == "/srv/monitor/out/call-0/report.html"
    assert len(warnings) == 2 and len(lines) == 3
    refused = next(w for w in warnings if "404" in w)
    port = urls[1].split(":")[2].split("/")[0]
    assert refused == (
        f"webhook http://127.0.0.1:{port}/…: HTTP 404 Not Found; not retried (check the URL)"
    )
    gave_up = next(w for w in warnings if "not delivered" in w)
    assert "after 4 attempts (HTTP 503 Service Unavailable)" in gave_up
    assert not any("sEcReTtOkEn" in w or "/services" in w for w in warnings)


async def test_an_unreachable_webhook_is_retried_then_reported_without_its_url(
    tmp_path: Path,
) -> None:
    warnings: list[str] = []
    url = f"https://user:pw@127.0.0.1:{free_port()}/hook?token=sEcReT"
    async with Webhooks(tmp_path / "webhooks.sqlite3", warnings.append, QUICK) as hooks:
        assert not await hooks.deliver(url, b'{"text": "x"}')
    [warning] = warnings
    assert warning.startswith("webhook https://127.0.0.1:")
    assert warning.endswith("/…: not delivered after 4 attempts (cannot connect)")
    assert "sEcReT" not in warning and "pw" not in warning


async def test_leaving_keeps_posts_still_being_retried_with_one_line(
    serve: Any, tmp_path: Path
) -> None:
    broken = Hook(failures=99)
    url = await serve(broken)
    warnings: list[str] = []
    path = tmp_path / "webhooks.sqlite3"
    patient = Backoff(attempts=99, first_s=0.2, max_s=0.2, jitter_s=0.0)
    async with Webhooks(path, warnings.append, patient, drain_s=0.1) as hooks:
        hooks.post([url], {"text": "x"})
    assert warnings == [
        f"webhooks: 1 alert POST waits in {path}, still being retried; "
        "the monitor's next start sends them"
    ]
    assert 1 <= broken.calls < 99


HARNESS = Path(__file__).parent / "webhook_monitor.py"


class Receiver:
    """A webhook receiver that keeps the `id` of every POST and accepts from its
    `accept_from`-th one on (before that: 503)."""

    def __init__(self) -> None:
        self.accept_from = 10**9
        self.ids: list[str] = []
        self.accepted: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.ids.append(payload["id"])
        if len(self.ids) < self.accept_from:
            return web.Response(status=503)
        self.accepted.append(payload)
        return web.Response(text="ok")


async def _monitor(state: Path, url: str, seconds: float) -> asyncio.subprocess.Process:
    """The harness judging two failed runs (which raise the alert), started and ready."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(HARNESS), str(state), url, "2", str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    async with asyncio.timeout(60):
        while (line := await process.stdout.readline()) != b"ready\n":
            assert line, "the harness ended before it was ready"
    return process


async def test_a_pending_webhook_survives_a_killed_monitor_and_goes_out_once(
    tmp_path: Path,
) -> None:
    """A receiver failing while the monitor is killed (SIGKILL) mid-retry: the POST waits in
    the state dir, the next monitor sends it (with backoff) until the receiver accepts it,
    once, with the same id, and a third monitor sends nothing again."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook/{token}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook/sEcReT"
    try:
        first = await _monitor(tmp_path, url, 60)
        async with asyncio.timeout(30):
            while len(receiver.ids) < 3:  # tried and retried, refused each time
                await asyncio.sleep(0.05)
        first.kill()
        await first.wait()
        assert receiver.accepted == []
        tried = len(receiver.ids)
        receiver.accept_from = tried + 3  # two more refusals after the restart, then accepted

        second = await _monitor(tmp_path, url, 60)
        async with asyncio.timeout(30):
            while not receiver.accepted:
                await asyncio.sleep(0.05)
        second.terminate()
        await second.wait()
        third = await _monitor(tmp_path, url, 1.0)
        assert await third.wait() == 0
    finally:
        await runner.cleanup()
    [payload] = receiver.accepted
    jsonschema.validate(payload, SCHEMA)
    assert (payload["change"], payload["status"]) == ("raised", "failing")
    assert len(receiver.ids) == tried + 3, "the restarted monitor retried until accepted, once"
    assert set(receiver.ids) == {payload["id"]}, "every POST was the first monitor's document"
    outbox = Outbox(tmp_path / "webhooks.sqlite3", warn=lambda _: None)
    assert len(outbox) == 0
    outbox.close()
