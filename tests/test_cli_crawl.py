"""`shopper crawl` end to end: one-line input errors, the scorecard, the policy's exit code,
the incremental re-crawl against the map an earlier crawl left in --out, and the crawl's
retained message on a real broker."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import pytest
from mosquitto import Mosquitto

pytestmark = pytest.mark.slow

SHOPPER = [sys.executable, "-m", "shopper", "crawl", "--engine", "moonshine", "--lines", "1"]
SHOP = """\
name: Corner Shop
voice: {tts: espeak-ng, voice: en-us, speed: 165}
start: main
answer: {after: 1s}
nodes:
  main:
    say: "Corner shop. For opening times, press 1."
    menu: {options: {"1": times}, timeout: 6s, retries: 1, on_exhausted: bye}
  times: {say: "We open every day from nine until five. Goodbye.", hangup: true}
  bye: {say: "Goodbye.", hangup: true}
"""


CRAWL_MESSAGE_SCHEMA = (
    Path(__file__).parent.parent / "shopper" / "crawl" / "schema" / "crawl-message.schema.json"
)


def shopper_crawl(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHOPPER, *args], capture_output=True, text=True, timeout=600, env=env)


async def retained_crawl(broker: Mosquitto) -> tuple[str, dict[str, Any]]:
    """What a dashboard subscribing after the crawl finds retained under crawls/."""
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe("shopper/v1/lab/crawls/#", qos=1)
        async with asyncio.timeout(20):
            async for message in client.messages:
                assert message.retain and isinstance(message.payload, bytes)
                return str(message.topic), json.loads(message.payload)
    raise AssertionError("no retained crawl message")


def test_bad_policy_and_previous_map_are_one_line_and_exit_2(tmp_path: Path) -> None:
    ivr = tmp_path / "shop.yaml"
    ivr.write_text(SHOP)
    policy = tmp_path / "policy.yaml"
    policy.write_text("fail_on: [loop, dropd]\n")
    run = shopper_crawl(str(ivr), "--out", str(tmp_path / "out"), "--policy", str(policy))
    assert run.returncode == 2, run.stdout
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert str(policy) in run.stderr and "dropd" in run.stderr
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "map.json").write_text('{"schema": "something else"}')
    run = shopper_crawl(str(ivr), "--out", str(tmp_path / "out"))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "map.json" in run.stderr and "--previous" in run.stderr


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("911", "is an emergency number"),
        ("+1 900 555 0100", "is a premium-rate number"),
        ("+1 555 010 0000", "crawled through Twilio, and a Twilio call needs account_sid"),
        ("(415) 555-0100", "is not in international form"),
        ("sip:911@pbx.example.com", "is an emergency number"),
        ("sip:+19005550100@pbx.example.com", "is a premium-rate number"),
        ("sips:ivr@pbx.example.com", "sips: (SIP over TLS) is not supported yet"),
        ("sip:ivr@pbx.example.com;transport=tls", "transport=tls is not supported"),
        ("/tmp", "is a folder"),
        ("nowhere.yaml", "file not found"),
    ],
)
def test_targets_that_cannot_be_crawled_are_one_line(target: str, says: str) -> None:
    run = shopper_crawl(target)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and says in run.stderr and "Traceback" not in run.stderr


def test_a_twilio_crawl_that_could_not_speak_to_a_person_is_one_line(tmp_path: Path) -> None:
    twilio = {
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "SHOPPER_TWILIO_FROM": "+15550109999",
        "SHOPPER_TWILIO_PUBLIC_URL": "https://tunnel.example.com",
    }
    run = shopper_crawl("+15550100100", "--twilio-dtmf", "twiml", env=os.environ | twilio)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "crawl with --twilio-dtmf inband" in run.stderr


def test_at_is_refused_for_a_sip_target_which_keeps_its_own_clock() -> None:
    run = shopper_crawl("sip:ivr@127.0.0.1:5080", "--at", "2024-05-06T10:00")
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "--at 2024-05-06T10:00" in run.stderr
    assert "give --at to the server" in run.stderr


def test_crawl_grades_with_the_policy_and_compares_with_the_last_crawl(
    tmp_path: Path, broker: Mosquitto
) -> None:
    ivr = tmp_path / "shop.yaml"
    ivr.write_text(SHOP)
    out = tmp_path / "out"
    policy = tmp_path / "policy.yaml"
    policy.write_text("fail_on: [no-human-path]\n")
    first = shopper_crawl(str(ivr), "--out", str(out), "--try-keys", "", "--policy", str(policy))
    assert first.returncode == 1, first.stdout + first.stderr
    assert "every menu reaches a human: 0/1" in first.stdout
    assert "FAIL: 1 no-human-path finding(s) at main" in first.stdout
    crawl_map = json.loads((out / "map.json").read_text())
    assert [node["kind"] for node in crawl_map["nodes"]] == ["menu", "message", "message"]
    waited = next(o for o in crawl_map["nodes"][0]["options"] if o["key"] == "")
    assert waited["label"] == "no input", "left without a key, the menu says goodbye (bye)"
    assert {f["kind"] for f in crawl_map["findings"]} >= {"no-human-path"}
    assert (out / "index.html").is_file() and list((out / "scripts").glob("*.yaml"))
    assert not (out / "changes.json").exists()
    broker.start()
    env = {**os.environ, "SHOPPER_STATE_DIR": str(tmp_path / "state")}
    second = shopper_crawl(
        str(ivr),
        "--out",
        str(out),
        "--try-keys",
        "",
        "--mqtt",
        broker.url(),
        "--mqtt-site",
        "lab",
        env=env,
    )
    assert "changes since the previous crawl: 0" in second.stdout, second.stdout
    assert "outbox" not in second.stderr, second.stderr
    topic, message = asyncio.run(retained_crawl(broker))
    assert topic == f"shopper/v1/lab/crawls/{tmp_path.name.lower().replace('_', '-')}-shop"
    jsonschema.validate(message, json.loads(CRAWL_MESSAGE_SCHEMA.read_text()))
    assert message["changes"] == []
    assert message["scorecard"]["menus"] == 1 and message["scorecard"]["menus_reaching_human"] == 0
    assert message["findings"] == json.loads((out / "map.json").read_text())["findings"]
    assert json.loads((out / "changes.json").read_text()) == []
