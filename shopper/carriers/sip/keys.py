"""How the SIP carrier sends keys: the methods a PBX may expect, and the SIP INFO body.

- `rfc4733` (default): telephone-event packets in the RTP stream, what nearly every PBX and
  SBC negotiates;
- `inband`: the DTMF tones themselves in the audio, for far ends that offer no
  telephone-event or only listen for tones (they survive G.711, not compressed codecs);
- `info`: one SIP INFO request per key with an `application/dtmf-relay` body (`Signal=` and
  `Duration=` in milliseconds), the older signalling method some PBXes are set to.

Whatever the method, the key is sent at the media time of the outgoing frame it starts in,
and the recording's tester channel holds its tone, so timelines and acknowledgement windows
are the same for all three.
"""

from __future__ import annotations

from typing import Literal

DtmfMethod = Literal["rfc4733", "inband", "info"]
DTMF_METHODS: tuple[DtmfMethod, ...] = ("rfc4733", "inband", "info")
DTMF_RELAY = "application/dtmf-relay"
"""The Content-Type of a key sent as SIP INFO."""


def dtmf_relay_body(key: str, duration_ms: int) -> str:
    """The body of a SIP INFO carrying `key` (as PBXes such as Asterisk and Cisco write it)."""
    return f"Signal={key}\r\nDuration={duration_ms}\r\n"
