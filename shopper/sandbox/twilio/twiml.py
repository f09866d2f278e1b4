"""TwiML, the part of it the emulator runs: `<Connect><Stream>`, `<Start><Stream>`,
`<Play digits>`, `<Pause>` and `<Hangup>`.

Other verbs (`<Say>`, `<Play>` of a URL, `<Gather>`, `<Dial>`, `<Record>`, `<Redirect>`...)
are skipped with a warning in the server's log: the emulator cannot speak or fetch media, and
a test that needs them needs Twilio. Malformed XML is a `TwimlError` (Twilio's error 12100).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from shopper.errors import ShopperError

DIGIT_PAUSE_S = 0.5
"""`w` in `<Play digits>`: half a second of pause (Twilio's documented value)."""
DEFAULT_PAUSE_S = 1.0


class TwimlError(ShopperError):
    """TwiML the emulator cannot read."""


@dataclass(frozen=True, slots=True)
class Stream:
    """A Media Streams WebSocket: `bidirectional` for `<Connect>`, one-way for `<Start>`."""

    url: str
    bidirectional: bool
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlayDigits:
    """`<Play digits="...">`: DTMF tones sent to the called party (`w` pauses 0.5 s, `W` 1 s)."""

    digits: str


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class Skipped:
    """A verb the emulator does not run."""

    verb: str


Verb = Stream | PlayDigits | Pause | Hangup | Skipped


def parse_twiml(text: str) -> list[Verb]:
    """The verbs of a TwiML `<Response>`, in order."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise TwimlError(f"TwiML is not well-formed XML ({error})") from None
    if root.tag != "Response":
        raise TwimlError(f"TwiML must be a <Response>, not <{root.tag}>")
    return [verb for element in root for verb in _verbs(element)]


def _verbs(element: ET.Element) -> list[Verb]:
    if element.tag in ("Connect", "Start"):
        return [_stream(child, element.tag == "Connect") for child in element]
    if element.tag == "Play" and element.get("digits") is not None:
        return [PlayDigits(_digits(element.get("digits", "")))]
    if element.tag == "Pause":
        return [Pause(_seconds(element.get("length"), "Pause length"))]
    if element.tag == "Hangup":
        return [Hangup()]
    return [Skipped(element.tag)]


def _stream(element: ET.Element, bidirectional: bool) -> Stream:
    if element.tag != "Stream":
        raise TwimlError(f"<{element.tag}> inside <Connect>/<Start>: only <Stream> is emulated")
    url = element.get("url")
    if not url or not url.startswith(("ws://", "wss://")):
        raise TwimlError(f"<Stream url={url!r}>: the url must be a ws:// or wss:// URL")
    parameters = {
        child.get("name", ""): child.get("value", "")
        for child in element
        if child.tag == "Parameter" and child.get("name")
    }
    return Stream(url, bidirectional, parameters)


def _digits(digits: str) -> str:
    allowed = set("0123456789*#ABCDabcdwW")
    wrong = [digit for digit in digits if digit not in allowed]
    if wrong:
        raise TwimlError(f"<Play digits={digits!r}>: {wrong[0]!r} is not a key or w")
    return digits.translate(str.maketrans("abcd", "ABCD"))


def _seconds(value: str | None, what: str) -> float:
    if value is None:
        return DEFAULT_PAUSE_S
    try:
        seconds = float(value)
    except ValueError:
        raise TwimlError(f"{what} {value!r} is not a number of seconds") from None
    if seconds < 0:
        raise TwimlError(f"{what} {value!r} is negative")
    return seconds
