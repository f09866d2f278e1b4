"""`--sip HOST:PORT`: where the served phone system listens, checked before anything starts."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from shopper.errors import ShopperError


class ServeError(ShopperError):
    """The phone system cannot be served as asked (bad address, port in use)."""


@dataclass(frozen=True, slots=True)
class SipAddress:
    """A concrete IP address and UDP port: callers' requests and RTP use the address as given,
    so it must be one they can reach (not 0.0.0.0, which names no host)."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_sip_address(text: str) -> SipAddress:
    """`127.0.0.1:5080`, `[::1]:5080` or `localhost:5080` (resolved once, here)."""
    host, separator, port_text = text.rpartition(":")
    if not separator or not host:
        raise ServeError(f"--sip {text!r}: give HOST:PORT, e.g. --sip 127.0.0.1:5080")
    host = host.removeprefix("[").removesuffix("]")
    try:
        port = int(port_text)
    except ValueError:
        raise ServeError(f"--sip {text!r}: port {port_text!r} is not a number (1-65535)") from None
    if not 1 <= port <= 65535:
        raise ServeError(f"--sip {text!r}: port {port} is out of range (1-65535)")
    ip = _resolve(host, text)
    if ipaddress.ip_address(ip).is_unspecified:
        raise ServeError(
            f"--sip {text!r}: {host} names no host callers can reach; give the address they "
            "dial, e.g. 127.0.0.1 or this machine's LAN address"
        )
    return SipAddress(ip, port)


def _resolve(host: str, text: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except socket.gaierror as error:
        raise ServeError(
            f"--sip {text!r}: cannot resolve host {host!r} ({error.strerror})"
        ) from None
    return str(infos[0][4][0])
