"""MQTT on the command line: the shared options, `shopper publish` and `shopper tail`."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import typer

from shopper.cli.errors import USAGE_ERROR, one_line_errors
from shopper.publish.outbox import Outbox, default_outbox_path
from shopper.publish.publisher import describe, publishing
from shopper.publish.settings import MqttSettings, MqttSettingsError, mqtt_settings
from shopper.publish.tail import event_line
from shopper.publish.topics import Topics

MQTT_URL = typer.Option(
    None,
    "--mqtt",
    help="Broker: mqtt://[user[:password]@]host[:port] or mqtts://... (or SHOPPER_MQTT_URL).",
)
MQTT_CA = typer.Option(None, "--mqtt-ca", help="CA file for mqtts:// (default: system CAs).")
MQTT_CERT = typer.Option(None, "--mqtt-cert", help="Client certificate (PEM) for mqtts://.")
MQTT_KEY = typer.Option(None, "--mqtt-key", help="Key of the client certificate (PEM).")
MQTT_SITE = typer.Option(None, "--mqtt-site", help="Topic level naming this tester (host name).")
MQTT_PREFIX = typer.Option(None, "--mqtt-prefix", help="Topic prefix (default shopper/v1).")
MQTT_CLIENT_ID = typer.Option(None, "--mqtt-client-id", help="MQTT client id.")
MQTT_QOS = typer.Option(None, "--mqtt-qos", help="QoS of events and results (default 1).")
MQTT_KEEPALIVE = typer.Option(None, "--mqtt-keepalive", help="Keepalive in seconds (60).")
MQTT_HA_DISCOVERY = typer.Option(
    False, "--mqtt-ha-discovery", help="Announce Home Assistant sensors for each script."
)
MQTT_HA_PREFIX = typer.Option(
    None, "--mqtt-ha-prefix", help="Home Assistant discovery prefix (default homeassistant)."
)


def warn(message: str) -> None:
    typer.secho(f"shopper: {message}", err=True, fg="yellow")


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttOptions:
    """The `--mqtt-*` options as given on the command line (None: not given, so the
    environment and the config file decide). One object instead of eleven arguments in a row,
    which were easy to pass in the wrong order."""

    url: str | None = None
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    site: str | None = None
    prefix: str | None = None
    client_id: str | None = None
    qos: int | None = None
    keepalive: int | None = None
    ha_discovery: bool = False
    """False leaves the environment and config file to decide."""
    ha_prefix: str | None = None

    def settings(self) -> MqttSettings | None:
        """The MQTT settings these options, the environment and the config file make."""
        given: dict[str, str | int | Path | None] = {
            "url": self.url,
            "ca": self.ca,
            "cert": self.cert,
            "key": self.key,
            "site": self.site,
            "prefix": self.prefix,
            "client_id": self.client_id,
            "qos": self.qos,
            "keepalive": self.keepalive,
            "ha_discovery": "true" if self.ha_discovery else None,
            "ha_prefix": self.ha_prefix,
        }
        return mqtt_settings(given)


def publish(
    drain: bool = typer.Option(False, "--drain", help="Deliver what waits in the outbox."),
    timeout: float = typer.Option(30.0, help="Give up draining after this many seconds."),
    url: str | None = MQTT_URL,
    ca: Path | None = MQTT_CA,
    cert: Path | None = MQTT_CERT,
    key: Path | None = MQTT_KEY,
    site: str | None = MQTT_SITE,
    prefix: str | None = MQTT_PREFIX,
    client_id: str | None = MQTT_CLIENT_ID,
    qos: int | None = MQTT_QOS,
    keepalive: int | None = MQTT_KEEPALIVE,
) -> None:
    """Show the MQTT outbox, or with --drain deliver it: exit 0 when empty, 2 when not."""
    with one_line_errors():
        settings = MqttOptions(
            url=url,
            ca=ca,
            cert=cert,
            key=key,
            site=site,
            prefix=prefix,
            client_id=client_id,
            qos=qos,
            keepalive=keepalive,
        ).settings()
        if drain and settings is None:
            raise MqttSettingsError("publish --drain needs a broker: --mqtt or SHOPPER_MQTT_URL")
    path = default_outbox_path()
    if not drain:
        outbox = Outbox(path, warn=warn)
        typer.echo(f"{len(outbox)} entries wait in {path}")
        outbox.close()
        return
    left, before, problem = asyncio.run(_drain(settings, timeout))
    if left:
        typer.echo(
            f"shopper: delivered {before - left} of {before} entries; {left} wait in {path}"
            + (f" ({problem})" if problem else ""),
            err=True,
        )
        raise typer.Exit(USAGE_ERROR)
    typer.echo(f"delivered {before} entries from {path}")


async def _drain(settings: MqttSettings | None, timeout_s: float) -> tuple[int, int, str | None]:
    async with publishing(settings, warn) as publisher:
        if publisher is None:
            return 0, 0, None
        before = len(publisher.outbox)
        left = await publisher.drain(timeout_s)
        return left, before, publisher.problem


def tail(
    json_lines: bool = typer.Option(False, "--json", help="Print each event's JSON payload."),
    count: int | None = typer.Option(None, help="Exit after this many events."),
    url: str | None = MQTT_URL,
    ca: Path | None = MQTT_CA,
    cert: Path | None = MQTT_CERT,
    key: Path | None = MQTT_KEY,
    site: str | None = typer.Option(None, "--site", help="Only this site (default: all)."),
    prefix: str | None = MQTT_PREFIX,
    keepalive: int | None = MQTT_KEEPALIVE,
) -> None:
    """Follow the live events of every call published to the broker."""
    with one_line_errors():
        settings = MqttOptions(
            url=url, ca=ca, cert=cert, key=key, site=site, prefix=prefix, keepalive=keepalive
        ).settings()
        if settings is None:
            raise MqttSettingsError("tail needs a broker: --mqtt or SHOPPER_MQTT_URL")
        if settings.broker is None:
            raise MqttSettingsError(settings.broker_problem or "no broker")
        try:
            asyncio.run(_tail(settings, site, json_lines, count))
        except aiomqtt.MqttError as error:
            raise MqttSettingsError(
                f"MQTT broker {settings.broker.url}: {describe(error)}"
            ) from None
        except KeyboardInterrupt:
            pass


async def _tail(settings: MqttSettings, site: str | None, as_json: bool, count: int | None) -> None:
    broker = settings.broker
    assert broker is not None
    topic = Topics(settings.prefix, settings.site).all_events(site)
    seen = 0
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username=broker.username,
        password=broker.password,
        identifier=f"shopper-tail-{secrets.token_hex(4)}",
        keepalive=settings.keepalive,
        tls_context=broker.tls_context(),
    ) as client:
        await client.subscribe(topic, qos=1)
        typer.echo(f"following {topic} on {broker.url}", err=True)
        async for message in client.messages:
            payload = _json(message.payload)
            if payload is None:
                continue
            text = json.dumps(payload, ensure_ascii=False)
            typer.echo(text if as_json else event_line(str(message.topic), payload))
            seen += 1
            if count is not None and seen >= count:
                break


def _json(raw: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None
