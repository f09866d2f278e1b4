"""Home Assistant discovery (docs/mqtt.md): what a fresh Home Assistant would find retained.

The end-to-end test runs the short sandbox line of tests/data/mqtt with discovery on, then
subscribes like Home Assistant does after the run (everything it gets is retained) and
follows each config's own pointers: its state_topic to the result message, its
value_template (as a JSON path written down here) to the figure, its availability topic to
the status.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from mosquitto import Mosquitto

from shopper import __version__
from shopper.publish.homeassistant import Discovery
from shopper.publish.outbox import Outbox
from shopper.publish.publisher import Publisher
from shopper.publish.settings import MqttSettingsError, mqtt_settings

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "tests" / "data" / "mqtt" / "quick-line.yaml"
RUN_TIMEOUT_S = 180.0
CONFIG_KEYS = {
    "name", "unique_id", "state_topic", "value_template", "availability", "device", "origin",
}  # fmt: skip
TEMPLATE_PATHS = {
    "{{ value_json.result.metrics.time_to_human_s }}": ("result", "metrics", "time_to_human_s"),
    "{{ value_json.result.outcome }}": ("result", "outcome"),
    "{{ value_json.state }}": ("state",),
}
"""What each template Home Assistant renders reads from the JSON payload."""


@pytest.fixture(autouse=True)
def no_outside_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPPER_CONFIG", str(tmp_path / "config.toml"))
    for name in ("URL", "SITE", "PREFIX", "HA_DISCOVERY", "HA_PREFIX"):
        monkeypatch.delenv(f"SHOPPER_MQTT_{name}", raising=False)


def extract(template: str, payload: dict[str, Any]) -> Any:
    value: Any = payload
    for key in TEMPLATE_PATHS[template]:
        value = value[key]
    return value


async def retained(broker: Mosquitto, topics: list[str], wanted: int) -> dict[str, Any]:
    """topic -> payload of the retained messages a new subscriber gets (at least `wanted`)."""
    found: dict[str, Any] = {}
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)
        async with asyncio.timeout(20):
            async for message in client.messages:
                assert message.retain, f"{message.topic} arrived but is not retained"
                assert isinstance(message.payload, bytes)
                found[str(message.topic)] = json.loads(message.payload)
                if len(found) >= wanted:
                    break
    return found


async def test_a_run_leaves_two_sensors_per_script_that_point_at_its_result(
    broker: Mosquitto, tmp_path: Path
) -> None:
    broker.start()
    env = {
        **os.environ, "SHOPPER_STATE_DIR": str(tmp_path / "state"),
        "SHOPPER_CONFIG": str(tmp_path / "no-config.toml"), "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shopper", "run", str(SCRIPT), "--engine", "moonshine",
        "--out", str(tmp_path / "c"), "--mqtt", broker.url(), "--mqtt-site", "lab.2",
        "--mqtt-ha-discovery", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(run.communicate(), RUN_TIMEOUT_S)
    assert run.returncode == 0, err.decode()
    [folder] = (tmp_path / "c").iterdir()
    result = json.loads((folder / "result.json").read_text())

    configs = await retained(broker, ["homeassistant/#"], 2)
    assert sorted(configs) == [
        "homeassistant/sensor/shopper_lab_2/quick-line_last_outcome/config",
        "homeassistant/sensor/shopper_lab_2/quick-line_time_to_human/config",
    ]
    time_to_human = configs["homeassistant/sensor/shopper_lab_2/quick-line_time_to_human/config"]
    outcome = configs["homeassistant/sensor/shopper_lab_2/quick-line_last_outcome/config"]
    assert set(outcome) == CONFIG_KEYS
    measured = {k: time_to_human.pop(k) for k in set(time_to_human) - CONFIG_KEYS}
    assert measured == {
        "unit_of_measurement": "s", "device_class": "duration", "state_class": "measurement",
    }  # fmt: skip
    assert time_to_human["unique_id"] != outcome["unique_id"]
    assert time_to_human["device"] == outcome["device"] == {
        "identifiers": ["shopper_lab_2"], "name": "shopper lab.2", "sw_version": __version__,
    }  # fmt: skip
    assert time_to_human["name"] == "Quick line reaches a person: time to human"

    state_topic = time_to_human["state_topic"]
    assert outcome["state_topic"] == state_topic == "shopper/v1/lab.2/results/quick-line"
    [availability] = time_to_human["availability"]
    assert outcome["availability"] == [availability]
    state = await retained(broker, [state_topic, availability["topic"]], 2)
    message = state[state_topic]
    assert message["result"] == result
    assert result["metrics"]["time_to_human_s"] is not None
    assert extract(time_to_human["value_template"], message) == result["metrics"]["time_to_human_s"]
    assert extract(outcome["value_template"], message) == result["outcome"] == "passed"
    status = extract(availability["value_template"], state[availability["topic"]])
    assert status == availability["payload_not_available"] == "offline"
    assert availability["payload_available"] == "online"


def test_each_script_is_announced_once_per_run(tmp_path: Path) -> None:
    settings = mqtt_settings({"url": "mqtt://127.0.0.1:1", "site": "lab", "ha_prefix": "ha/x"})
    assert settings is not None and settings.ha_discovery_prefix is None
    outbox = Outbox(tmp_path / "outbox.sqlite3", warn=print)
    discovery = Discovery(Publisher(settings, outbox, print), "ha/x")
    for _ in range(3):
        discovery.announce("billing", "Billing")
    discovery.announce("sales", "Sales")
    entries = outbox.peek(10)
    assert [e.topic.split("/")[4] for e in entries] == [
        "billing_time_to_human", "billing_last_outcome",
        "sales_time_to_human", "sales_last_outcome",
    ]  # fmt: skip
    assert all(e.retain and e.topic.startswith("ha/x/sensor/shopper_lab/") for e in entries)
    outbox.close()


def test_discovery_is_switched_on_by_flag_environment_or_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def prefix() -> str | None:
        settings = mqtt_settings({"url": "mqtt://h"})
        assert settings is not None
        return settings.ha_discovery_prefix

    assert prefix() is None
    (tmp_path / "config.toml").write_text('[mqtt]\nha_discovery = true\nha_prefix = "hass"\n')
    assert prefix() == "hass"
    monkeypatch.setenv("SHOPPER_MQTT_HA_DISCOVERY", "no")
    assert prefix() is None
    monkeypatch.setenv("SHOPPER_MQTT_HA_DISCOVERY", "maybe")
    with pytest.raises(MqttSettingsError, match="SHOPPER_MQTT_HA_DISCOVERY: ha_discovery 'maybe'"):
        prefix()
    with pytest.raises(MqttSettingsError, match="--mqtt-ha-prefix: ha_prefix 'a b'"):
        mqtt_settings({"url": "mqtt://h", "ha_discovery": "1", "ha_prefix": "a b"})
