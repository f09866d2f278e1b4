"""The `shopper` command: one sub-command per job a QA engineer or operator runs."""

from __future__ import annotations

import typer

from shopper import __version__
from shopper.cli.analyze import analyze
from shopper.cli.bench import bench_app
from shopper.cli.crawl import crawl_command
from shopper.cli.doctor import doctor
from shopper.cli.models import models_app
from shopper.cli.monitor import monitor_app
from shopper.cli.mqtt import publish, tail
from shopper.cli.run import run
from shopper.cli.sandbox import sandbox_app
from shopper.cli.worker import worker

app = typer.Typer(
    help="A mystery shopper for phone systems: call IVRs, listen, press keys, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(run)
app.command()(analyze)
app.command("crawl")(crawl_command)
app.command()(publish)
app.command()(tail)
app.command()(doctor)
app.add_typer(models_app, name="models")
app.add_typer(bench_app, name="bench")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(monitor_app, name="monitor")
app.command()(worker)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shopper {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """shopper calls phone systems the way customers do and reports what they go through."""
