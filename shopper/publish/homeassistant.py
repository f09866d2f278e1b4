"""Home Assistant MQTT discovery: two sensors per script, fed by its retained result message.

Home Assistant creates an entity for every retained config under
`<discovery_prefix>/sensor/<node_id>/<object_id>/config` and then reads the topics named
there itself, so shopper publishes nothing extra per call: the sensors' state is the result
message already retained at `<prefix>/<site>/results/<script_id>`, their availability the
tester's status message. Configs go through the outbox like everything else.
"""

from __future__ import annotations

import re
from typing import Any

from shopper import __version__
from shopper.publish.publisher import Publisher
from shopper.publish.topics import Topics

SENSORS: dict[str, tuple[str, str, dict[str, str]]] = {
    "time_to_human": (
        "time to human",
        "{{ value_json.result.metrics.time_to_human_s }}",
        {"unit_of_measurement": "s", "device_class": "duration", "state_class": "measurement"},
    ),
    "last_outcome": ("last outcome", "{{ value_json.result.outcome }}", {}),
}
"""object id suffix -> (name, value_template, sensor options). A null time to human renders
`None`, which Home Assistant shows as unknown."""


def discovery_id(text: str) -> str:
    """Home Assistant accepts only letters, digits, `_` and `-` in node and object ids."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


class Discovery:
    """`announce` each script before its call; repeats within one run publish nothing."""

    def __init__(self, publisher: Publisher, discovery_prefix: str) -> None:
        self.publisher = publisher
        self.discovery_prefix = discovery_prefix
        self._announced: set[str] = set()

    def announce(self, script_id: str, script_name: str) -> None:
        if script_id in self._announced:
            return
        self._announced.add(script_id)
        for suffix in SENSORS:
            topic, config = self.config(script_id, script_name, suffix)
            self.publisher.enqueue_topic(topic, config, retain=True)

    def config(self, script_id: str, script_name: str, suffix: str) -> tuple[str, dict[str, Any]]:
        """The config topic and payload of one sensor (a SENSORS key) of one script."""
        name, template, options = SENSORS[suffix]
        topics = self.publisher.topics
        site = topics.site
        node_id = discovery_id(f"shopper_{site}")
        object_id = discovery_id(f"{script_id}_{suffix}")
        payload = {
            "name": f"{script_name}: {name}",
            "unique_id": f"{node_id}_{object_id}",
            "state_topic": topics.full(Topics.result(script_id)),
            "value_template": template,
            **options,
            "availability": [
                {
                    "topic": topics.status,
                    "value_template": "{{ value_json.state }}",
                    "payload_available": "online",
                    "payload_not_available": "offline",
                }
            ],
            "device": {
                "identifiers": [node_id],
                "name": f"shopper {site}",
                "sw_version": __version__,
            },
            "origin": {"name": "shopper", "sw_version": __version__},
        }
        topic = f"{self.discovery_prefix}/sensor/{node_id}/{object_id}/config"
        return topic, payload
