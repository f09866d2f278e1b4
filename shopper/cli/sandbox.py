"""`shopper sandbox ...`: the simulated phone system on its own, for other callers to dial.

`shopper sandbox serve IVR.yaml --sip 127.0.0.1:5080` answers SIP calls with the IVR the file
defines, each call a fresh phone system in real time, until Ctrl-C or SIGTERM; then it ends
the calls in progress with BYE and exits 0 (docs/sandbox.md, "Serving it over SIP").
`shopper sandbox serve IVR.yaml --twilio 127.0.0.1:8088` puts the IVR behind an emulator of
Twilio's Calls API and Media Streams, answering calls to any number; `shopper sandbox twilio
--number +15550100001=IVR.yaml ... --listen 127.0.0.1:8088` is the same emulator with a
different IVR per number, API keys and caller IDs (docs/sandbox.md, "A Twilio emulator").
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from shopper.cli.errors import one_line_errors, print_ivr_warnings
from shopper.cli.options import At, Seed
from shopper.sandbox.loader import load_ivr
from shopper.sandbox.model import IvrDefinition
from shopper.sandbox.render import SoundBank
from shopper.sandbox.sip.address import ServeError, SipAddress, parse_sip_address
from shopper.sandbox.sip.server import CallReport, SandboxSipServer, ServeSettings
from shopper.sandbox.twilio.pricing import DEFAULT_RATE, parse_rate
from shopper.sandbox.twilio.server import (
    ANY_NUMBER,
    EmulatorError,
    EmulatorSettings,
    ServedIvr,
    TwilioEmulator,
)
from shopper.sandbox.twilio.server import CallReport as TwilioCallReport
from shopper.sandbox.twilio.settings import parse_api_key, parse_listen, parse_number
from shopper.sandbox.twilio.signature import Credentials

INTERRUPTED = 130
"""Ctrl-C while the sounds render, before anything is served (128 + SIGINT)."""

sandbox_app = typer.Typer(
    help="The simulated phone system on its own: serve it over SIP or behind a Twilio emulator.",
    no_args_is_help=True,
)


AccountSid = Annotated[
    str | None,
    typer.Option(envvar="TWILIO_ACCOUNT_SID", help="The account SID clients use (Twilio)."),
]
AuthToken = Annotated[
    str | None,
    typer.Option(
        envvar="TWILIO_AUTH_TOKEN",
        show_default=False,
        help="The account's auth token (also signs callbacks); prefer the environment.",
    ),
]
PricePerMinute = Annotated[
    str,
    typer.Option(
        help="Twilio emulator: USD per started minute of an answered call, reported as the "
        "call's price (made up; not Twilio's rate)."
    ),
]


@sandbox_app.command()
def serve(
    ivr: Annotated[Path, typer.Argument(help="The sandbox IVR file (.yaml) to serve.")],
    *,
    sip: Annotated[
        str | None,
        typer.Option(help="Listen for SIP over UDP at HOST:PORT, e.g. 127.0.0.1:5080."),
    ] = None,
    twilio: Annotated[
        str | None,
        typer.Option(
            help="Emulate Twilio's REST API and Media Streams at HOST:PORT, e.g. 127.0.0.1:8088 "
            "(calls to any number reach the IVR; credentials from TWILIO_ACCOUNT_SID and "
            "TWILIO_AUTH_TOKEN)."
        ),
    ] = None,
    account_sid: AccountSid = None,
    auth_token: AuthToken = None,
    seed: Seed = 0,
    at: At = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="Write each call's truth (sandbox-truth.json) into this folder."),
    ] = None,
    price_per_minute: PricePerMinute = str(DEFAULT_RATE),
) -> None:
    """Answer SIP calls (--sip) or Twilio API calls (--twilio) with the simulated phone system
    IVR, each in real time, until stopped."""
    if twilio is not None:
        with one_line_errors():
            if sip is not None:
                raise ServeError("give --sip or --twilio, not both (run two servers for both)")
            host, port = parse_listen(twilio, "--twilio")
            rate = parse_rate(price_per_minute)
        _serve_twilio(
            {ANY_NUMBER: ivr},
            host,
            port,
            _credentials(account_sid, auth_token, None),
            EmulatorSettings(seed, at, truth, price_per_minute=rate),
        )
        return
    with one_line_errors():
        if sip is None:
            raise ServeError("give --sip HOST:PORT (SIP over UDP) or --twilio HOST:PORT (Twilio)")
        address = parse_sip_address(sip)
        definition = load_ivr(ivr)
        print_ivr_warnings([ivr])
        if truth is not None:
            _truth_folder(truth)
        typer.echo(f"rendering the sounds of {definition.name!r}...", err=True)
        try:
            sounds = SoundBank(definition)
        except KeyboardInterrupt:
            typer.echo("shopper: interrupted before serving", err=True)
            raise typer.Exit(INTERRUPTED) from None
        settings = ServeSettings(seed=seed, at=at, truth_dir=truth)
        asyncio.run(_serve(SandboxSipServer(definition, sounds, address, settings, _log), address))


async def _serve(server: SandboxSipServer, address: SipAddress) -> None:
    await server.start()
    try:
        await _until_signal(f"listening on sip:{address} (UDP and TCP); Ctrl-C to stop")
    finally:
        await server.stop()


async def _until_signal(banner: str) -> None:
    """Say `banner`, then wait for Ctrl-C or SIGTERM: a server's life. Either way it returns
    (saying so), so the caller ends the calls in progress rather than the signal cutting
    them off."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    typer.echo(banner, err=True)
    try:
        await stop.wait()
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
        typer.echo("stopping: ending the calls in progress", err=True)


def _log(report: CallReport) -> None:
    typer.echo(report.line())


def _truth_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise ServeError(f"--truth {folder}: is a file; give a folder for the calls' truths")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ServeError(f"--truth {folder}: cannot create the folder ({error.strerror})") from None


@sandbox_app.command()
def twilio(
    number: Annotated[
        list[str],
        typer.Option(help="NUMBER=IVR.yaml: calls to NUMBER (E.164) reach that sandbox IVR."),
    ],
    listen: Annotated[
        str, typer.Option(help="Serve Twilio's REST API at HOST:PORT, e.g. 127.0.0.1:8088.")
    ],
    account_sid: AccountSid = None,
    auth_token: AuthToken = None,
    api_key: Annotated[
        list[str] | None,
        typer.Option(help="SID:SECRET of an API key that may act for the account (repeatable)."),
    ] = None,
    caller_id: Annotated[
        list[str] | None,
        typer.Option(help="A number allowed as From (repeatable); default: any E.164 number."),
    ] = None,
    seed: Seed = 0,
    at: At = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="Write each call's truth (sandbox-truth.json) into this folder."),
    ] = None,
    price_per_minute: PricePerMinute = str(DEFAULT_RATE),
) -> None:
    """Emulate Twilio's Calls API and Media Streams, each number reaching its own sandbox IVR."""
    with one_line_errors():
        host, port = parse_listen(listen)
        paths = dict(parse_number(text) for text in number)
        rate = parse_rate(price_per_minute)
    _serve_twilio(
        paths,
        host,
        port,
        _credentials(account_sid, auth_token, api_key),
        EmulatorSettings(seed, at, truth, frozenset(caller_id or []), rate),
    )


def _credentials(
    account_sid: str | None, auth_token: str | None, api_keys: list[str] | None
) -> Credentials:
    with one_line_errors():
        if not account_sid or not auth_token:
            missing = "TWILIO_ACCOUNT_SID" if not account_sid else "TWILIO_AUTH_TOKEN"
            raise EmulatorError(
                f"the Twilio emulator serves one account: set {missing} (or --"
                f"{'account-sid' if not account_sid else 'auth-token'}); any values do, "
                "as long as the caller uses the same"
            )
        keys = dict(parse_api_key(text) for text in api_keys or [])
    return Credentials(account_sid, auth_token, keys)


def _serve_twilio(
    paths: dict[str, Path],
    host: str,
    port: int,
    credentials: Credentials,
    settings: EmulatorSettings,
) -> None:
    """The emulator for `paths` (number, or ANY_NUMBER, to IVR file) until Ctrl-C/SIGTERM."""
    with one_line_errors():
        definitions = {served: load_ivr(path) for served, path in paths.items()}
        print_ivr_warnings(list(paths.values()))
        if settings.truth_dir is not None:
            _truth_folder(settings.truth_dir)
        try:
            ivrs = {
                served: ServedIvr(definition, _rendered(definition))
                for served, definition in definitions.items()
            }
        except KeyboardInterrupt:
            typer.echo("shopper: interrupted before serving", err=True)
            raise typer.Exit(INTERRUPTED) from None
        emulator = TwilioEmulator(ivrs, credentials, settings, _log_twilio)
        asyncio.run(_emulate(emulator, host, port))


def _rendered(definition: IvrDefinition) -> SoundBank:
    typer.echo(f"rendering the sounds of {definition.name!r}...", err=True)
    return SoundBank(definition)


async def _emulate(emulator: TwilioEmulator, host: str, port: int) -> None:
    bound = await emulator.start(host, port)
    try:
        await _until_signal(f"Twilio emulator at http://{host}:{bound} ; Ctrl-C to stop")
    finally:
        await emulator.stop()


def _log_twilio(report: TwilioCallReport) -> None:
    typer.echo(report.line())
