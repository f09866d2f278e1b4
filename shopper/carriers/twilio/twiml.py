"""The TwiML shopper gives Twilio for a call: where to stream its audio, and keys to play.

`inband` (the default) connects a bidirectional stream (`<Connect><Stream>`): the far end's
audio comes to shopper, and shopper's audio and DTMF tones go back on the same stream.
`twiml` forks a listen-only stream (`<Start><Stream>`) and parks the call on `<Pause>`; keys
then go as call updates with `<Play digits>`, which Twilio sends to the far end itself.
Either way the stream carries the call's token as a `<Parameter>`, by which the built-in
server routes it to its call.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, Start, VoiceResponse

from shopper.carriers.twilio.server import TOKEN_PARAMETER

PAUSE_MAX_S = 14400
"""`<Pause>` longer than any call shopper keeps (the call's time_limit ends it first)."""


def connect_stream(stream_url: str, token: str) -> str:
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url)
    stream.parameter(name=TOKEN_PARAMETER, value=token)
    response.append(connect)
    return str(response)


def fork_stream(stream_url: str, token: str, pause_s: float) -> str:
    response = VoiceResponse()
    start = Start()
    stream = start.stream(url=stream_url, track="inbound_track")
    stream.parameter(name=TOKEN_PARAMETER, value=token)
    response.append(start)
    response.pause(length=_pause(pause_s))
    return str(response)


def play_digits(digits: str, pause_s: float) -> str:
    """Keys to the far end, then park the call again (the fork keeps streaming)."""
    response = VoiceResponse()
    response.play(digits=digits)
    response.pause(length=_pause(pause_s))
    return str(response)


def _pause(seconds: float) -> int:
    return max(1, min(PAUSE_MAX_S, round(seconds)))
