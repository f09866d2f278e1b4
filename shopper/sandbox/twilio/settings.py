"""The emulator's command-line values, checked before anything starts: `--listen HOST:PORT`,
`--number +E164=IVR.yaml` and `--api-key SID:SECRET`."""

from __future__ import annotations

from pathlib import Path

from shopper.sandbox.twilio.rest import E164
from shopper.sandbox.twilio.server import EmulatorError


def parse_listen(text: str, option: str = "--listen") -> tuple[str, int]:
    """`127.0.0.1:8088` (port 0: any free port), given as `option`."""
    host, separator, port_text = text.rpartition(":")
    if not separator or not host:
        raise EmulatorError(f"{option} {text!r}: give HOST:PORT, e.g. {option} 127.0.0.1:8088")
    try:
        port = int(port_text)
    except ValueError:
        raise EmulatorError(f"{option} {text!r}: port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise EmulatorError(f"{option} {text!r}: port {port} is out of range (0-65535)")
    return host.removeprefix("[").removesuffix("]"), port


def parse_number(text: str) -> tuple[str, Path]:
    """`+15550100001=scripts/acme/ivr.yaml`: calls to that number reach that IVR."""
    number, separator, path = text.partition("=")
    if not separator or not path:
        raise EmulatorError(
            f"--number {text!r}: give NUMBER=IVR.yaml, e.g. --number +15550100001=ivr.yaml"
        )
    if not E164.fullmatch(number):
        raise EmulatorError(
            f"--number {text!r}: {number!r} is not an E.164 number (+, country code, digits)"
        )
    return number, Path(path)


def parse_api_key(text: str) -> tuple[str, str]:
    """`SKxxxx:secret`: an API key that may act for the account."""
    sid, separator, secret = text.partition(":")
    if not separator or not sid.startswith("SK") or not secret:
        raise EmulatorError("--api-key: give SID:SECRET with an SK... key SID (value not shown)")
    return sid, secret
