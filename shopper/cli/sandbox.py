"""`shopper sandbox ...`: the simulated phone system on its own, for other callers to dial.

`shopper sandbox serve IVR.yaml --sip 127.0.0.1:5080` answers SIP calls with the IVR the file
defines, each call a fresh phone system in real time, until Ctrl-C or SIGTERM; then it ends
the calls in progress with BYE and exits 0 (docs/sandbox.md, "Serving it over SIP").
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
from shopper.sandbox.render import SoundBank
from shopper.sandbox.sip.address import ServeError, SipAddress, parse_sip_address
from shopper.sandbox.sip.server import CallReport, SandboxSipServer, ServeSettings

INTERRUPTED = 130
"""Ctrl-C while the sounds render, before anything is served (128 + SIGINT)."""

sandbox_app = typer.Typer(
    help="The simulated phone system on its own: serve it for any SIP phone to call.",
    no_args_is_help=True,
)


@sandbox_app.command()
def serve(
    ivr: Annotated[Path, typer.Argument(help="The sandbox IVR file (.yaml) to serve.")],
    *,
    sip: Annotated[
        str,
        typer.Option(help="Listen for SIP over UDP at HOST:PORT, e.g. 127.0.0.1:5080."),
    ],
    seed: Seed = 0,
    at: At = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="Write each call's truth (sandbox-truth.json) into this folder."),
    ] = None,
) -> None:
    """Answer SIP calls with the simulated phone system IVR, each in real time, until stopped."""
    with one_line_errors():
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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    typer.echo(f"listening on sip:{address} (UDP); Ctrl-C to stop", err=True)
    try:
        await stop.wait()
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
        typer.echo("stopping: ending the calls in progress", err=True)
        await server.stop()


def _log(report: CallReport) -> None:
    typer.echo(report.line())


def _truth_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise ServeError(f"--truth {folder}: is a file; give a folder for the calls' truths")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ServeError(f"--truth {folder}: cannot create the folder ({error.strerror})") from None
