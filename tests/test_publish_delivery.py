"""Calls published over MQTT against a real mosquitto: shapes, outages, kills, TLS and auth.

Every call is the short sandbox line in tests/data/mqtt (a greeting, a key, six seconds of
hold music, a person). A durable subscriber (persistent session, QoS 1) stands in for the
dashboards; it is registered before shopper runs, so the broker queues for it whatever
happens. Duplicates are allowed (QoS 1 is at least once); losses are not.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mosquitto import Collector, Mosquitto, TlsMaterial, tls_material
from referencing import Registry, Resource

from shopper.asr.selection import select_engine
from shopper.publish import CallFeed, mqtt_settings, publishing
from shopper.results.record import CallRecord
from shopper.scripts.loader import load_script
from shopper.scripts.runner import CallContext, run_script

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
SCRIPT = Path(__file__).parent / "data" / "mqtt" / "quick-line.yaml"
SCHEMAS = ROOT / "shopper" / "publish" / "schema"
RESULT_SCHEMA = ROOT / "shopper" / "results" / "schema" / "result.schema.json"
SITE = "lab"
RUN_TIMEOUT_S = 180.0
LIVE_EVENT_TYPES = {"dialing", "answered", "utterance", "key", "hold-start", "hold-end", "human"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private state dir and config for shopper subprocesses."""
    return {
        **os.environ,
        "SHOPPER_STATE_DIR": str(tmp_path / "state"),
        "SHOPPER_CONFIG": str(tmp_path / "no-config.toml"),
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture
async def collector(broker: Mosquitto) -> AsyncIterator[Collector]:
    """Subscribed once with the broker up, then left to reconnect on its own."""
    broker.start()
    subscriber = Collector(broker)
    task = asyncio.create_task(subscriber.collect())
    await subscriber.wait_for(lambda: subscriber.ready, 20)
    yield subscriber
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def shopper(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shopper", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finished(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def run_args(url: str, out: Path, *more: str) -> list[str]:
    return [
        "run", str(SCRIPT), "--engine", "moonshine", "--out", str(out),
        "--mqtt", url, "--mqtt-site", SITE, *more,
    ]  # fmt: skip


def outbox_ids(state: Path) -> list[str]:
    with sqlite3.connect(state / "outbox.sqlite3") as db:
        rows = db.execute("SELECT payload FROM outbox ORDER BY seq").fetchall()
    return [json.loads(payload)["id"] for (payload,) in rows]


def outbox_size(state: Path) -> int:
    try:
        return len(outbox_ids(state))
    except sqlite3.Error:
        return 0


async def wait_until(predicate: Any, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.05)


def events_of(collector: Collector) -> dict[int, dict[str, Any]]:
    """Live events by seq, duplicates folded by id (what a consumer does)."""
    by_seq: dict[int, dict[str, Any]] = {}
    for payload in collector.on("/events"):
        assert by_seq.setdefault(payload["seq"], payload)["id"] == payload["id"]
    return by_seq


def validator(name: str) -> jsonschema.Draft202012Validator:
    result = json.loads(RESULT_SCHEMA.read_text())
    registry: Registry[Any] = Registry().with_resource(
        result["$id"], Resource.from_contents(result)
    )
    schema = json.loads((SCHEMAS / name).read_text())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def assert_complete(collector: Collector, result: dict[str, Any]) -> None:
    """Every event of the call arrived, as the result file lists them, and so did the result."""
    events = events_of(collector)
    assert sorted(events) == list(range(1, len(result["events"]) + 1))
    heard = sorted((e["t_s"], e["type"]) for e in events.values())
    assert heard == sorted((e["t_s"], e["type"]) for e in result["events"])
    results = collector.on(f"/{SITE}/results/quick-line")
    assert results and results[-1]["result"] == result


async def test_a_run_publishes_events_result_and_status_as_documented(
    collector: Collector, broker: Mosquitto, env: dict[str, str], tmp_path: Path
) -> None:
    tail = await shopper(env, "tail", "--mqtt", broker.url(), "--site", SITE, "--count", "4")
    assert tail.stderr is not None
    following = await asyncio.wait_for(tail.stderr.readline(), 60)
    assert b"following shopper/v1/lab/calls/+/events" in following
    code, _, err = await finished(await shopper(env, *run_args(broker.url(), tmp_path / "c")))
    assert code == 0, err
    assert err == ""
    [folder] = (tmp_path / "c").iterdir()
    result = json.loads((folder / "result.json").read_text())
    await collector.wait_for(lambda: len(collector.on("/results/quick-line")) == 1, 30)
    assert_complete(collector, result)

    events = events_of(collector)
    event_schema = validator("event.schema.json")
    for event in events.values():
        event_schema.validate(event)
        assert event["call_id"] == result["call_id"] and event["script_id"] == "quick-line"
    assert {e["type"] for e in events.values()} >= LIVE_EVENT_TYPES
    assert events[max(events)]["type"] in {"ended", "step"}
    [ended] = [e for e in events.values() if e["type"] == "ended"]
    assert ended["data"]["by"] in {"tester", "remote"} and ended["data"]["cause"]
    topics = {topic for topic, _, payload in collector.messages if payload.get("seq")}
    assert topics == {f"shopper/v1/lab/calls/{result['call_id']}/events"}

    [message] = collector.on("/results/quick-line")
    validator("result-message.schema.json").validate(message)
    status = collector.on("/lab/status")
    for payload in status:
        validator("status.schema.json").validate(payload)
    assert [s["state"] for s in status] == ["online", "offline"]
    every_id = [payload["id"] for _, _, payload in collector.messages]
    assert len(every_id) == len(set(every_id))
    assert outbox_ids(tmp_path / "state") == []

    code, tail_out, _ = await finished(tail)
    assert code == 0
    lines = tail_out.splitlines()
    assert len(lines) == 4 and "dialing (sandbox)" in lines[0]
    assert all(line.startswith(f"lab {result['call_id']} ") for line in lines)


async def test_a_broker_that_comes_up_during_the_call_gets_everything(
    collector: Collector, broker: Mosquitto, env: dict[str, str], tmp_path: Path
) -> None:
    broker.stop()
    run = await shopper(env, *run_args(broker.url(), tmp_path / "c", "--mqtt-drain", "60"))
    await wait_until(lambda: outbox_size(tmp_path / "state") >= 3, 60)
    broker.start()
    code, _, err = await finished(run)
    assert code == 0, err
    assert "connection refused" in err and "connected, delivering the outbox" in err
    [folder] = (tmp_path / "c").iterdir()
    result = json.loads((folder / "result.json").read_text())
    await collector.wait_for(lambda: bool(collector.on("/results/quick-line")), 30)
    assert_complete(collector, result)
    assert outbox_ids(tmp_path / "state") == []


async def test_a_broker_restarted_in_the_middle_of_a_call_loses_nothing(
    collector: Collector, broker: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the Python API: the broker stops at the 5th event and is back at the 15th."""
    monkeypatch.setenv("SHOPPER_CONFIG", str(tmp_path / "no-config.toml"))
    settings = mqtt_settings({"url": broker.url(), "site": SITE})
    warnings: list[str] = []
    down_with: list[int] = []

    def outage(context: CallContext) -> None:
        def on_event(_: object) -> None:
            seen = len(context.session.timeline)
            if seen == 5:
                broker.stop()
            if seen == 15:
                down_with.append(len(publisher.outbox))
                broker.start()

        context.session.timeline.subscribe(on_event)

    async with publishing(settings, warnings.append, tmp_path / "outbox.sqlite3") as publisher:
        assert publisher is not None
        feed = CallFeed(publisher, "quick-line")

        def on_call(context: CallContext) -> None:
            feed.attach(context)
            outage(context)

        record: CallRecord = await run_script(
            load_script(SCRIPT), select_engine("moonshine"), on_call=on_call
        )
        feed.finish(record)
        assert await publisher.drain(60) == 0
    assert broker.running and down_with and down_with[0] > 0
    assert any("entries wait in the outbox, retrying" in w for w in warnings)
    assert any("connected, delivering the outbox" in w for w in warnings)
    await collector.wait_for(lambda: bool(collector.on("/results/quick-line")), 30)
    assert_complete(collector, record.result)


async def test_entries_of_a_killed_shopper_are_delivered_by_publish_drain(
    collector: Collector, broker: Mosquitto, env: dict[str, str], tmp_path: Path
) -> None:
    broker.stop()
    run = await shopper(env, *run_args(broker.url(), tmp_path / "c"))
    await wait_until(lambda: outbox_size(tmp_path / "state") >= 10, 60)
    run.send_signal(signal.SIGKILL)
    await asyncio.wait_for(run.wait(), 30)
    assert run.returncode == -signal.SIGKILL
    waiting = outbox_ids(tmp_path / "state")
    assert len(waiting) >= 10

    broker.start()
    code, out, err = await finished(await shopper(env, "publish", "--mqtt", broker.url()))
    assert code == 0 and out.startswith(f"{len(waiting)} entries wait in"), err
    drain = await shopper(env, "publish", "--drain", "--mqtt", broker.url(), "--mqtt-site", SITE)
    code, out, err = await finished(drain)
    assert code == 0, err
    assert f"delivered {len(waiting)} entries" in out
    await collector.wait_for(
        lambda: {p["id"] for _, _, p in collector.messages} >= set(waiting), 30
    )
    events = events_of(collector)
    assert sorted(events) == list(range(1, len(events) + 1))
    assert outbox_ids(tmp_path / "state") == []


async def test_the_last_will_says_offline_when_shopper_is_killed(
    collector: Collector, broker: Mosquitto, env: dict[str, str], tmp_path: Path
) -> None:
    run = await shopper(env, *run_args(broker.url(), tmp_path / "c"))
    await collector.wait_for(lambda: bool(collector.on("/events")), 60)
    run.send_signal(signal.SIGKILL)
    await asyncio.wait_for(run.wait(), 30)
    await collector.wait_for(lambda: len(collector.on("/lab/status")) == 2, 30)
    online, offline = collector.on("/lab/status")
    assert (online["state"], offline["state"]) == ("online", "offline")
    assert offline["client_id"] == online["client_id"]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return tls_material(tmp_path_factory.mktemp("tls"))


async def test_wrong_password_keeps_the_outbox_and_tls_with_the_right_one_delivers(
    tls: TlsMaterial, env: dict[str, str], tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path / "tls-broker", tls=tls, users={"ops": "right-secret"})
    broker.start()
    try:
        tls_files = ["--mqtt-ca", str(tls.ca), "--mqtt-cert", str(tls.client_cert)]
        tls_files += ["--mqtt-key", str(tls.client_key)]
        wrong = broker.url("ops:wrong-secret")
        run = await shopper(env, *run_args(wrong, tmp_path / "c", *tls_files, "--mqtt-drain", "2"))
        code, out, err = await finished(run)
        assert code == 0 and "PASSED" in out
        refusal = [line for line in err.splitlines() if "refused the login" in line]
        assert len(refusal) == 1, err
        assert refusal[0].startswith(
            f"shopper: MQTT broker mqtts://ops:***@127.0.0.1:{broker.port}: the broker refused "
            "the login: wrong user name or password, or not authorised"
        )
        assert refusal[0].endswith("entries wait in the outbox, retrying")
        assert f"entries wait in the outbox {tmp_path / 'state'}" in err
        assert "wrong-secret" not in out + err
        [folder] = (tmp_path / "c").iterdir()
        assert not any("wrong-secret" in f.read_text(errors="replace") for f in folder.iterdir())
        waiting = outbox_ids(tmp_path / "state")
        assert len(waiting) > 10

        untrusted = await shopper(
            env, "publish", "--drain", "--timeout", "3", "--mqtt", broker.url("ops"),
            "--mqtt-cert", str(tls.client_cert), "--mqtt-key", str(tls.client_key),
        )  # fmt: skip
        code, _, err = await finished(untrusted)
        assert code == 2 and "certificate is not trusted" in err
        assert outbox_ids(tmp_path / "state") == waiting

        subscriber = Collector(
            broker, username="ops", password="right-secret", tls_context=_context(tls)
        )
        task = asyncio.create_task(subscriber.collect())
        await subscriber.wait_for(lambda: subscriber.ready, 20)
        drain_env = {**env, "SHOPPER_MQTT_PASSWORD": "right-secret"}
        drain = await shopper(
            drain_env, "publish", "--drain", "--mqtt", broker.url("ops"), *tls_files
        )
        code, out, err = await finished(drain)
        assert code == 0, err
        assert "right-secret" not in out + err
        await subscriber.wait_for(
            lambda: {p["id"] for _, _, p in subscriber.messages} >= set(waiting), 30
        )
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        broker.stop()


def _context(tls: TlsMaterial) -> Any:
    import ssl

    context = ssl.create_default_context(cafile=str(tls.ca))
    context.load_cert_chain(str(tls.client_cert), str(tls.client_key))
    return context


@pytest.mark.parametrize("processes", ["1", "2"])
async def test_parallel_calls_publish_what_they_publish_one_by_one(
    collector: Collector, broker: Mosquitto, env: dict[str, str], tmp_path: Path, processes: str
) -> None:
    """`--parallel 2`: each call's events on its own topic, numbered 1.. without a gap or a
    stranger's event, and each script's retained result is its own result file; the same
    when the calls run in two call hosts (`--processes 2`), whose events are sent over to
    shopper's process live."""
    second = tmp_path / "second-line.yaml"
    second.write_text(
        SCRIPT.read_text()
        .replace("name: Quick line reaches a person", "name: Second line")
        .replace("target: ivr.yaml", f"target: {SCRIPT.parent / 'ivr.yaml'}")
    )
    out = tmp_path / "c"
    args = run_args(broker.url(), out, str(second), "--parallel", "2", "--processes", processes)
    code, _, err = await finished(await shopper(env, *args))
    assert code == 0, err
    results = [json.loads(f.read_text()) for f in out.glob("*/result.json")]
    by_script = {"quick-line": results[0], "second-line": results[1]}
    if results[0]["script"]["name"] == "Second line":
        by_script = {"quick-line": results[1], "second-line": results[0]}
    for script, result in by_script.items():
        await collector.wait_for(lambda s=script: bool(collector.on(f"/results/{s}")), 30)
        assert collector.on(f"/{SITE}/results/{script}")[-1]["result"] == result
        events: dict[int, dict[str, Any]] = {}
        for payload in collector.on(f"/calls/{result['call_id']}/events"):
            assert events.setdefault(payload["seq"], payload)["id"] == payload["id"]
            assert payload["script_id"] == script
        assert sorted(events) == list(range(1, len(result["events"]) + 1))
        heard = sorted((e["t_s"], e["type"]) for e in events.values())
        assert heard == sorted((e["t_s"], e["type"]) for e in result["events"])
