"""What a `carrier: sip` script's target means: a SIP URI, or a number sent to the trunk.

`sip:+15551234567@pbx.example.com`, `sip:ivr@10.0.0.5:5080;transport=tcp` and a bare number
in international form (`+15551234567`, then `[sip] domain` names the trunk) are accepted. The
user part of a URI that is a number in international form is checked by the safety rules like
any number; a short user part is a PBX extension, allowed unless it is an emergency number.
Imports nothing heavy: the script loader checks targets with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shopper.carriers.safety import (
    EMERGENCY_NUMBERS,
    UnsafeNumberError,
    check_dialable,
    looks_like_phone_number,
)
from shopper.carriers.sip.settings import TRANSPORTS, Transport
from shopper.errors import ShopperError

DEFAULT_PORT = 5060
_URI = re.compile(
    r"^sips?:(?:(?P<user>[^@;?]+)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<params>(?:;[^;?]*)*)$"
)


class SipTargetError(ShopperError):
    """A target the SIP carrier cannot call; the message says what to write instead."""


@dataclass(frozen=True, slots=True)
class SipTarget:
    user: str | None
    host: str | None
    """None for a bare number: the trunk (`[sip] domain`) is the host."""
    port: int | None
    transport: Transport | None
    """The URI's `;transport=` (udp or tcp), None when it has none: `[sip] transport` then."""

    def uri(self, domain: str | None) -> str:
        """The Request-URI, with `domain` standing in for a bare number's host."""
        host = self.host or domain
        if host is None:
            raise SipTargetError(
                f"target {self.user!r} is a number but no SIP trunk is configured: add "
                '[sip] domain = "pbx.example.com" to the config file, or write the target '
                f'as a SIP URI like "sip:{self.user}@pbx.example.com"'
            )
        port = f":{self.port}" if self.port is not None else ""
        user = f"{self.user}@" if self.user else ""
        transport = f";transport={self.transport}" if self.transport is not None else ""
        return f"sip:{user}{host}{port}{transport}"


def parse_sip_target(text: str) -> SipTarget:
    """Read a target; raise SipTargetError (or UnsafeNumberError) naming the problem."""
    text = text.strip()
    if looks_like_phone_number(text):
        check_dialable(text)
        return SipTarget(_digits(text), None, None, None)
    if text.lower().startswith("sips:"):
        raise SipTargetError(
            f"target {text!r}: sips: (SIP over TLS) is not supported yet; use sip: over UDP "
            "or TCP (;transport=tcp)"
        )
    match = _URI.match(text)
    if match is None or not text.lower().startswith("sip:"):
        raise SipTargetError(
            f"target {text!r} is neither a SIP URI nor a phone number (write "
            '"sip:ivr@pbx.example.com", "sip:+15550100000@10.0.0.5:5080" or "+15550100000")'
        )
    user, host, port = match["user"], match["host"], match["port"]
    if user is not None:
        _check_user(user)
    params = _params(match["params"] or "")
    transport = _transport(text, params.get("transport"))
    number = int(port) if port is not None else None
    if number is not None and not 0 < number < 65536:
        raise SipTargetError(f"target {text!r}: port {number} is not a port (1-65535)")
    return SipTarget(user, host.strip("[]"), number, transport)


def _transport(text: str, value: str | None) -> Transport | None:
    if value is None:
        return None
    for transport in TRANSPORTS:
        if value.lower() == transport:
            return transport
    raise SipTargetError(
        f"target {text!r}: transport={value} is not supported (write ;transport=udp or "
        ";transport=tcp; TLS is not supported yet)"
    )


def _check_user(user: str) -> None:
    """A number in international form is checked by every safety rule; a PBX extension
    (`sip:1000@pbx`) is not a public number, but an emergency number never passes."""
    if not looks_like_phone_number(user):
        return
    if user.lstrip().startswith("+"):
        check_dialable(user)
    elif re.sub(r"[^0-9]", "", user) in EMERGENCY_NUMBERS:
        raise UnsafeNumberError(
            f"{user!r} is an emergency number: shopper never dials emergency services"
        )


def _digits(number: str) -> str:
    return "+" + re.sub(r"[^0-9]", "", number)


def _params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in text.split(";"):
        if part:
            name, _, value = part.partition("=")
            params[name.strip().lower()] = value.strip()
    return params
