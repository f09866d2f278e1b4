"""`shopper models`: see which speech models shopper can use, and install the downloadable ones."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from shopper.asr.models import REGISTRY, download_model, find_vosk_model, list_models
from shopper.cli.errors import one_line_errors

models_app = typer.Typer(
    help="List installed speech models and download the ones shopper knows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@models_app.command("download")
def download(
    name: str = typer.Argument(..., help=f"Model to install: {', '.join(sorted(REGISTRY))}."),
) -> None:
    """Download NAME into the user cache, check its sha256 and unpack it."""
    console = Console(stderr=True)
    with (
        one_line_errors(),
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as bar,
    ):
        task: TaskID = bar.add_task(name, total=None)

        def advance(received: int, total: int | None) -> None:
            bar.update(task, completed=received, total=total)

        installed = download_model(name, progress=advance)
    typer.echo(str(installed))


@models_app.command("list")
def list_command() -> None:
    """Show the installed models, which Vosk model is used, and what can be downloaded."""
    with one_line_errors():
        installed = list_models()
        chosen = find_vosk_model()
    console = Console()
    table = Table("model", "engine", "source", box=None, pad_edge=False)
    table.add_column("path", overflow="fold")
    for model in installed:
        mark = " (used)" if chosen is not None and model.path == chosen else ""
        table.add_row(model.name + mark, model.engine, model.source, str(model.path))
    console.print(table)
    present = {model.name for model in installed}
    available = [entry for entry in REGISTRY.values() if entry.folder not in present]
    for entry in available:
        console.print(
            f"not installed: {entry.name} ({entry.description}); "
            f"run `shopper models download {entry.name}`",
            soft_wrap=True,
        )
