"""Where and how results leave the machine: the broker URL and everything around it.

Settings come from the command line, then the environment (SHOPPER_MQTT_*), then the
`[mqtt]` table of the config file shopper already reads (SHOPPER_CONFIG). Passwords are kept
out of every string this module produces, so settings can be printed and logged freely.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from shopper.config import config_table
from shopper.errors import ShopperError

DEFAULT_PREFIX = "shopper/v1"
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
ENV_PREFIX = "SHOPPER_MQTT_"
SETTING_NAMES = (
    "url",
    "password",
    "ca",
    "cert",
    "key",
    "site",
    "prefix",
    "client_id",
    "qos",
    "keepalive",
    "ha_discovery",
    "ha_prefix",
)
"""Each is `--mqtt-<name>` (`--mqtt` for url), SHOPPER_MQTT_<NAME> and `[mqtt] <name>`."""
DEFAULT_HA_PREFIX = "homeassistant"
_YES = ("1", "true", "yes", "on")
_NO = ("0", "false", "no", "off")

_TOPIC_LEVEL = re.compile(r"[A-Za-z0-9._-]+")


class MqttSettingsError(ShopperError):
    """A setting that cannot be used; the message names where it came from and the fix."""


@dataclass(frozen=True, slots=True)
class Broker:
    """How to reach and log in to the broker; a problem here never stops a call."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def url(self) -> str:
        """The URL with the password masked: safe for logs, warnings and reports."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = ""
        if self.username is not None:
            user = self.username + (":***" if self.password else "") + "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext | None:
        """System CAs unless a CA file is given; a client certificate when one is configured."""
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except (OSError, ssl.SSLError) as error:
            raise MqttSettingsError(
                f"{self.ca_file}: cannot use it as the broker's CA ({_reason(error)}); "
                "give a PEM file with --mqtt-ca"
            ) from None
        if self.cert_file is not None:
            try:
                context.load_cert_chain(
                    str(self.cert_file), str(self.key_file) if self.key_file else None
                )
            except (OSError, ssl.SSLError) as error:
                raise MqttSettingsError(
                    f"{self.cert_file}: cannot use it as the client certificate "
                    f"({_reason(error)}); give PEM files with --mqtt-cert and --mqtt-key"
                ) from None
        return context


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Everything about publishing; `broker` is None when its URL could not be understood."""

    broker: Broker | None
    broker_problem: str | None
    """Why there is no usable broker (one line, no secrets); entries then wait in the outbox."""
    site: str
    prefix: str = DEFAULT_PREFIX
    client_id: str = ""
    qos: int = 1
    keepalive: int = 60
    ha_discovery_prefix: str | None = None
    """Where Home Assistant discovery configs go; None when discovery is off."""


def default_site() -> str:
    """The host name, so that several testers publish side by side without configuration."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", socket.gethostname()).strip("-") or "shopper"


def mqtt_settings(given: dict[str, str | int | Path | None]) -> MqttSettings | None:
    """Settings from the command line (`given`, by SETTING_NAMES), environment and config file.

    None when no broker URL is configured anywhere: publishing is off. Topic and QoS mistakes
    raise MqttSettingsError (nothing sensible could be queued); broker mistakes (URL, TLS
    files) are kept in `broker_problem` so that calls still run and their results wait.
    """
    values = _merged(given)
    if values.get("url") is None:
        return None
    site = _topic_levels(values, "site", default_site(), single=True)
    prefix = _topic_levels(values, "prefix", DEFAULT_PREFIX, single=False)
    qos = _integer(values, "qos", 1, 0, 2)
    keepalive = _integer(values, "keepalive", 60, 5, 65535)
    client_id = str(values.get("client_id") or f"shopper-{site}-{os.getpid()}")
    ha_prefix = _topic_levels(values, "ha_prefix", DEFAULT_HA_PREFIX, single=False)
    ha_discovery_prefix = ha_prefix if _flag(values, "ha_discovery") else None
    try:
        broker: Broker | None = parse_broker_url(str(values["url"][0]), values)
        problem = None
        if broker is not None:
            broker.tls_context()
    except MqttSettingsError as error:
        broker, problem = None, str(error)
    return MqttSettings(
        broker, problem, site, prefix, client_id, qos, keepalive, ha_discovery_prefix
    )


def parse_broker_url(url: str, values: dict[str, Any] | None = None) -> Broker:
    """`mqtt://[user[:password]@]host[:port]` or `mqtts://...`; files and password from values."""
    values = values or {}
    shown = _redacted(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise MqttSettingsError(
            f"MQTT URL {shown}: the port must be a number 1..65535; {_URL_FORM}"
        ) from None
    if port == 0:
        raise MqttSettingsError(f"MQTT URL {shown}: port 0 is not a port; {_URL_FORM}")
    if parts.scheme not in DEFAULT_PORTS:
        raise MqttSettingsError(f"MQTT URL {shown}: scheme must be mqtt or mqtts; {_URL_FORM}")
    if not parts.hostname:
        raise MqttSettingsError(f"MQTT URL {shown}: no host name; {_URL_FORM}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise MqttSettingsError(f"MQTT URL {shown}: unexpected path or query; {_URL_FORM}")
    password = values.get("password")
    tls = parts.scheme == "mqtts"
    files = {name: _file(values, name) for name in ("ca", "cert", "key")}
    if not tls and any(files.values()):
        raise MqttSettingsError(
            f"MQTT URL {shown}: CA and client certificate files need an mqtts:// URL"
        )
    if files["key"] is not None and files["cert"] is None:
        raise MqttSettingsError("--mqtt-key needs --mqtt-cert (the client certificate)")
    return Broker(
        host=parts.hostname,
        port=DEFAULT_PORTS[parts.scheme] if port is None else port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=str(password[0]) if password else _url_password(parts.password),
        ca_file=files["ca"],
        cert_file=files["cert"],
        key_file=files["key"],
    )


_URL_FORM = "write mqtt://[user[:password]@]host[:port] or mqtts://..."


def _url_password(raw: str | None) -> str | None:
    return unquote(raw) if raw else None


def _redacted(url: str) -> str:
    """The URL as typed with any password replaced, whatever its shape: `mqtt://u:p@h`,
    `mqtt:u:p@h`, `mqtt:/u:p@h`, `u:p@h`, and a password typed without `@` (`mqtt://u:p`, where
    it would pass for a port). Everything before the last `@` after the first `:` is secret."""
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", url)
    start = scheme.end() if scheme else 0
    userinfo, at, host = url[start:].rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        return url[:start] + user + (":***" if colon else "") + "@" + host
    return url[:start] + re.sub(r":(?!\d*/?$)[^/]*", ":***", host, count=1)


def _reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError):
        return str(error.reason or error)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def _merged(given: dict[str, str | int | Path | None]) -> dict[str, Any]:
    """name -> (value, where it came from), the first source that sets it winning."""
    merged: dict[str, tuple[Any, str]] = {}
    path, table = config_table("mqtt")
    for name, value in _mqtt_table(path, table).items():
        merged[name] = (value, f"{path}: [mqtt] {name}")
    for name in SETTING_NAMES:
        env = ENV_PREFIX + name.upper()
        if os.environ.get(env):
            merged[name] = (os.environ[env], env)
    for name, value in given.items():
        if value is not None:
            option = "--mqtt" if name == "url" else "--mqtt-" + name.replace("_", "-")
            merged[name] = (value, option)
    return merged


def _mqtt_table(path: Path, table: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(table) - set(SETTING_NAMES))
    if unknown:
        raise MqttSettingsError(
            f"{path}: [mqtt] {unknown[0]} is not a setting; use {', '.join(SETTING_NAMES)}"
        )
    return {
        name: path.parent / Path(str(value)).expanduser()
        if name in ("ca", "cert", "key")
        else value
        for name, value in table.items()
    }


def _topic_levels(values: dict[str, Any], name: str, default: str, single: bool) -> str:
    if name not in values:
        return default
    value, source = values[name]
    levels = str(value).strip("/").split("/")
    if (single and len(levels) != 1) or not all(_TOPIC_LEVEL.fullmatch(x) for x in levels):
        allowed = "letters, digits, '.', '_' and '-'" + ("" if single else " in '/'-levels")
        raise MqttSettingsError(f"{source}: {name} {value!r} is not usable in a topic; {allowed}")
    return "/".join(levels)


def _integer(values: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    if name not in values:
        return default
    value, source = values[name]
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if isinstance(value, bool) or not low <= number <= high:
        raise MqttSettingsError(f"{source}: {name} {value!r} must be a number {low}..{high}")
    return number


def _flag(values: dict[str, Any], name: str) -> bool:
    if name not in values:
        return False
    value, source = values[name]
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in _YES + _NO:
        return str(value).strip().lower() in _YES
    raise MqttSettingsError(f"{source}: {name} {value!r} must be true or false")


def _file(values: dict[str, Any], name: str) -> Path | None:
    if name not in values:
        return None
    value, source = values[name]
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise MqttSettingsError(f"{source}: {path} is not a file")
    return path
