"""Publishing calls over MQTT through a durable outbox (docs/mqtt.md).

The public surface: `mqtt_settings` reads the configuration, `publishing` opens the outbox
and its background publisher for a run, `Publisher.enqueue(topic_suffix, payload, retain)`
is how anything (calls, the crawler) hands a payload over, and `CallFeed` is what a call
script's run puts in it.
"""

from shopper.publish.feed import CallFeed
from shopper.publish.outbox import Outbox
from shopper.publish.publisher import Publisher, publishing
from shopper.publish.settings import MqttSettings, MqttSettingsError, mqtt_settings
from shopper.publish.topics import Topics, script_id

__all__ = [
    "CallFeed",
    "MqttSettings",
    "MqttSettingsError",
    "Outbox",
    "Publisher",
    "Topics",
    "mqtt_settings",
    "publishing",
    "script_id",
]
