"""Publishing calls over MQTT through a durable outbox (docs/mqtt.md).

The public surface: `mqtt_settings` reads the configuration, `publishing` opens the outbox
and its background publisher for a run, `Publisher.enqueue(topic_suffix, payload, retain)`
is how anything (calls, the crawler) hands a payload over, `CallFeed` is what a call
script's run puts in it, and `Discovery` announces Home Assistant sensors for a script.
"""

from shopper.publish.feed import CallFeed
from shopper.publish.homeassistant import Discovery
from shopper.publish.outbox import Outbox
from shopper.publish.publisher import Publisher, publishing
from shopper.publish.settings import MqttSettings, MqttSettingsError, mqtt_settings
from shopper.publish.topics import Topics, script_id

__all__ = [
    "CallFeed",
    "Discovery",
    "MqttSettings",
    "MqttSettingsError",
    "Outbox",
    "Publisher",
    "Topics",
    "mqtt_settings",
    "publishing",
    "script_id",
]
