"""MQTT on the command line: the shared options, `shopper publish` and `shopper tail`."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import aiomqtt
import typer

from shopper.cli.errors import USAGE_ERROR, one_line_errors
from shopper.publish.outbox import Outbox, default_outbox_path
from shopper.publish.publisher import describe, publishing
from shopper.publish.settings import MqttSettings, MqttSettingsError, mqtt_settings
from shopper.publish.tail import event_line
from shopper.publish.topics import Topics

# The `--mqtt-*` options, declared once for every command that talks to a broker.
MqttUrl = Annotated[
    str | None,
    typer.Option(
        "--mqtt",
        help="Broker: mqtt://[user[:password]@]host[:port] or mqtts://... (or SHOPPER_MQTT_URL).",
    ),
]
MqttCa = Annotated[
    Path | None, typer.Option("--mqtt-ca", help="CA file for mqtts:// (default: system CAs).")
]
MqttCert = Annotated[
    Path | None, typer.Option("--mqtt-cert", help="Client certificate (PEM) for mqtts://.")
]
MqttKey = Annotated[
    Path | None, typer.Option("--mqtt-key", help="Key of the client certificate (PEM).")
]
MqttSite = Annotated[
    str | None, typer.Option("--mqtt-site", help="Topic level naming this tester (host name).")
]
MqttPrefix = Annotated[
    str | None, typer.Option("--mqtt-prefix", help="Topic prefix (default shopper/v1).")
]
MqttClientId = Annotated[str | None, typer.Option("--mqtt-client-id", help="MQTT client id.")]
MqttQos = Annotated[
    int | None, typer.Option("--mqtt-qos", help="QoS of events and results (default 1).")
]
MqttKeepalive = Annotated[
    int | None, typer.Option("--mqtt-keepalive", help="Keepalive in seconds (60).")
]
MqttHaDiscovery = Annotated[
    bool,
    typer.Option("--mqtt-ha-discovery", help="Announce Home Assistant sensors for each script."),
]
MqttHaPrefix = Annotated[
    str | None,
    typer.Option(
        "--mqtt-ha-prefix", help="Home Assistant discovery prefix (default homeassistant)."
    ),
]
MqttDrain = Annotated[
    float,
    typer.Option(
        "--mqtt-drain", help="Seconds to wait at the end for the broker to take what is left."
    ),
]


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


@dataclass(frozen=True, slots=True)
class MqttDelivery:
    """Where a command publishes (None: publishing off) and how long it waits at its end for
    the broker to take what is left in the outbox (`--mqtt-drain`)."""

    settings: MqttSettings | None
    drain_s: float


def publish(
    *,
    drain: Annotated[
        bool, typer.Option("--drain", help="Deliver what waits in the outbox.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Give up draining after this many seconds.")
    ] = 30.0,
    url: MqttUrl = None,
    ca: MqttCa = None,
    cert: MqttCert = None,
    key: MqttKey = None,
    site: MqttSite = None,
    prefix: MqttPrefix = None,
    client_id: MqttClientId = None,
    qos: MqttQos = None,
    keepalive: MqttKeepalive = None,
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
    *,
    json_lines: Annotated[
        bool, typer.Option("--json", help="Print each event's JSON payload.")
    ] = False,
    count: Annotated[int | None, typer.Option(help="Exit after this many events.")] = None,
    url: MqttUrl = None,
    ca: MqttCa = None,
    cert: MqttCert = None,
    key: MqttKey = None,
    site: Annotated[
        str | None, typer.Option("--site", help="Only this site (default: all).")
    ] = None,
    prefix: MqttPrefix = None,
    keepalive: MqttKeepalive = None,
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
