"""The `--twilio-*` options of the commands that place calls (secrets have none: a process
list shows arguments; they come from the environment or the config file)."""

from __future__ import annotations

from typing import Annotated

import typer

TwilioFrom = Annotated[
    str | None,
    typer.Option(
        "--twilio-from", help="Calling number for Twilio calls, E.164 (or SHOPPER_TWILIO_FROM)."
    ),
]
PublicUrl = Annotated[
    str | None,
    typer.Option(
        "--public-url",
        help="https:// URL where Twilio reaches shopper's server: a tunnel to --listen "
        "(or SHOPPER_TWILIO_PUBLIC_URL).",
    ),
]
Listen = Annotated[
    str | None,
    typer.Option(
        "--listen", help="HOST:PORT of the server Twilio calls back (default 127.0.0.1:8765)."
    ),
]
TwilioApiUrl = Annotated[
    str | None,
    typer.Option(
        "--twilio-api-url",
        help="Base URL of Twilio's REST API (default https://api.twilio.com; an emulator's).",
    ),
]
TwilioDtmf = Annotated[
    str | None,
    typer.Option("--twilio-dtmf", help="Keys as inband tones (default) or twiml <Play digits>."),
]
