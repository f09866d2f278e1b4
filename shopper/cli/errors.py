"""How every command reports a user-fixable problem: one line on stderr and exit code 2."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from shopper.errors import ShopperError

USAGE_ERROR = 2


@contextmanager
def one_line_errors() -> Iterator[None]:
    try:
        yield
    except ShopperError as error:
        typer.echo(f"shopper: {error}", err=True)
        raise typer.Exit(USAGE_ERROR) from None


def print_ivr_warnings(ivr_files: Iterable[Path]) -> None:
    """Print each sandbox IVR's warnings (`FILE:LINE: warning: ...`, e.g. unreachable nodes)
    once on stderr: legal but almost always a mistake, so the user should see them before the
    call rather than find the node never visited. The command, as the runner, may read the
    definition; the call engine never does."""
    from shopper.sandbox.loader import load_ivr

    for path in dict.fromkeys(ivr_files):
        for warning in load_ivr(path).warnings:
            typer.echo(warning, err=True)
