"""The SIP carrier's settings: the config file's `[sip]` table, overridden by environment.

```toml
[sip]
domain = "pbx.example.com"      # host for bare-number targets (the trunk)
proxy = "sbc.example.com:5060"  # outbound proxy: every request goes there (optional)
user = "shopper"                # digest username, and the From user
password = "..."                # or SHOPPER_SIP_PASSWORD in the environment (preferred)
local_address = "192.0.2.10"    # address to bind and advertise (default: the route to the PBX)
rtp_ports = "20000-20999"       # RTP port range (default: any free port)
codecs = ["PCMU", "PCMA"]       # offered in this order
dtmf = "rfc4733"                # how keys are sent: rfc4733 (default), inband or info
register = false                # REGISTER (user, password) before each call, remove it after
transport = "udp"               # signalling over udp (default) or tcp; a target's ;transport= wins
```

Every key has an environment variable (`SHOPPER_SIP_DOMAIN`, `SHOPPER_SIP_PROXY`,
`SHOPPER_SIP_USER`, `SHOPPER_SIP_PASSWORD`, `SHOPPER_SIP_LOCAL_ADDRESS`,
`SHOPPER_SIP_RTP_PORTS`, `SHOPPER_SIP_CODECS` as "PCMA,PCMU", `SHOPPER_SIP_DTMF`,
`SHOPPER_SIP_REGISTER` as true/false, `SHOPPER_SIP_TRANSPORT`) that wins over the file. The
password is kept in a field that never prints (`repr=False`) and is never traced or written
to a result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from shopper.carriers.sip.keys import DTMF_METHODS, DtmfMethod
from shopper.config import ConfigError, config_table

TABLE = "sip"
ENV_PREFIX = "SHOPPER_SIP_"
CODECS = {"PCMU": 0, "PCMA": 8}
"""The G.711 codecs shopper speaks, by their static RTP payload types."""
KEYS = (
    "domain",
    "proxy",
    "user",
    "password",
    "local_address",
    "rtp_ports",
    "codecs",
    "dtmf",
    "register",
    "transport",
)
Transport = Literal["udp", "tcp"]
TRANSPORTS: tuple[Transport, ...] = get_args(Transport)
Choice = TypeVar("Choice", bound=str)


@dataclass(frozen=True, slots=True)
class SipSettings:
    domain: str | None = None
    proxy: tuple[str, int] | None = None
    user: str = "shopper"
    password: str | None = field(default=None, repr=False)
    local_address: str | None = None
    rtp_ports: tuple[int, int] | None = None
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    dtmf: DtmfMethod = "rfc4733"
    register: bool = False
    transport: Transport = "udp"
    """What SIP goes over unless the target says (`;transport=`)."""


def load_sip_settings() -> SipSettings:
    """Read `[sip]` and the environment; a bad value is a one-line ConfigError."""
    path, table = config_table(TABLE)
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(f"{path}: [sip] has no key {unknown[0]!r} (keys: {', '.join(KEYS)})")
    values: dict[str, Any] = dict(table)
    for key in KEYS:
        env = os.environ.get(ENV_PREFIX + key.upper())
        if env:
            values[key] = env.split(",") if key == "codecs" else env
    where = _Where(path, values)
    return SipSettings(
        domain=where.text("domain"),
        proxy=where.host_port("proxy"),
        user=where.text("user") or "shopper",
        password=where.text("password"),
        local_address=where.text("local_address"),
        rtp_ports=where.port_range("rtp_ports"),
        codecs=where.codecs(),
        dtmf=where.dtmf(),
        register=where.flag("register"),
        transport=where.transport(),
    )


@dataclass(frozen=True, slots=True)
class _Where:
    path: Path
    values: dict[str, Any]

    def fail(self, key: str, message: str) -> ConfigError:
        source = (
            f"${ENV_PREFIX}{key.upper()}"
            if os.environ.get(ENV_PREFIX + key.upper())
            else (f"{self.path}: [sip] {key}")
        )
        return ConfigError(f"{source}: {message}")

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value.strip()

    def host_port(self, key: str) -> tuple[str, int] | None:
        text = self.text(key)
        if text is None:
            return None
        host, _, port = text.removeprefix("sip:").rpartition(":")
        if not host or not port.isdigit():
            return (text.removeprefix("sip:"), 5060)
        if not 0 < int(port) < 65536:
            raise self.fail(key, f"{text!r} has no valid port (write host:5060)")
        return (host, int(port))

    def port_range(self, key: str) -> tuple[int, int] | None:
        text = self.text(key)
        if text is None:
            return None
        low, _, high = text.partition("-")
        if not (low.isdigit() and high.isdigit() and 1024 <= int(low) < int(high) < 65536):
            raise self.fail(key, f'{text!r} is not a port range like "20000-20999"')
        return (int(low), int(high))

    def codecs(self) -> tuple[str, ...]:
        value = self.values.get("codecs", list(SipSettings().codecs))
        if not isinstance(value, list) or not value:
            raise self.fail("codecs", 'must be a list like ["PCMU", "PCMA"]')
        names = tuple(str(name).strip().upper() for name in value)
        unknown = [name for name in names if name not in CODECS]
        if unknown:
            raise self.fail("codecs", f"{unknown[0]!r} is not supported (PCMU, PCMA)")
        return names

    def dtmf(self) -> DtmfMethod:
        return self.one_of("dtmf", DTMF_METHODS, SipSettings().dtmf, "a way to send keys")

    def transport(self) -> Transport:
        return self.one_of(
            "transport",
            TRANSPORTS,
            SipSettings().transport,
            "a SIP transport shopper speaks",
            "; TLS is not supported yet",
        )

    def one_of(
        self, key: str, choices: tuple[Choice, ...], default: Choice, what: str, note: str = ""
    ) -> Choice:
        """`key`'s value, one of `choices` in any case (`default` when unset); else an error
        saying it is not `what` and listing the choices (and `note`)."""
        text = self.text(key)
        if text is None:
            return default
        for choice in choices:
            if text.lower() == choice:
                return choice
        raise self.fail(key, f"{text!r} is not {what} ({', '.join(choices)}{note})")

    def flag(self, key: str) -> bool:
        value = self.values.get(key, False)
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1", "false", "no", "0"):
            return text in ("true", "yes", "1")
        raise self.fail(key, f"{value!r} is not true or false")
