"""How every command reports a user-fixable problem: one line on stderr and exit code 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
