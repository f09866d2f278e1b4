"""`--sip-trace FILE`: every SIP message of every call, as a PBX administrator reads them.

Each message is written whole, after a line saying when (wall clock and the call's media
time), which way, and the address. Credentials never reach the file: the digest `response`
and `cnonce` of Authorization and Proxy-Authorization headers are masked (the username,
realm and nonce stay, since they are what an administrator checks), and the configured
password is masked wherever it would appear.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from shopper.errors import ShopperError

MASK = "********"
_AUTH_LINE = re.compile(r"^(proxy-authorization|authorization)\s*:(.*)$", re.I | re.M)
_SECRET_PARAM = re.compile(r'\b(response|cnonce)\s*=\s*("[^"]*"|[^,\s]*)', re.I)

_MASKED_PARAM = r"\1=" + MASK
Direction = Literal["sent", "received"]


class SipTrace:
    """Appends one call's messages to the trace file (several calls may share it)."""

    def __init__(
        self, path: Path, call_id: str, password: str | None, transport: str = "UDP"
    ) -> None:
        self._path = path
        self._transport = transport
        self._call_id = call_id
        self._password = password
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8"):
                pass
        except OSError as error:
            raise ShopperError(f"--sip-trace {path}: cannot write ({error.strerror})") from None

    def message(
        self, direction: Direction, address: tuple[str, int], text: str, media_s: float
    ) -> None:
        arrow = "to" if direction == "sent" else "from"
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        header = (
            f"----- {stamp} call {self._call_id} media {media_s:.3f} s: "
            f"{direction} {arrow} {address[0]}:{address[1]} ({self._transport})"
        )
        with self._path.open("a", encoding="utf-8") as out:
            out.write(f"{header}\n{mask_secrets(text, self._password).rstrip()}\n\n")


def mask_secrets(text: str, password: str | None) -> str:
    """The message with digest responses and the password masked."""
    masked = _AUTH_LINE.sub(
        lambda line: f"{line[1]}:{_SECRET_PARAM.sub(_MASKED_PARAM, line[2])}", text
    )
    if password:
        masked = masked.replace(password, MASK)
    return masked
