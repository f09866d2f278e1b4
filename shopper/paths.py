"""Paths named inside definition files, resolved without tracebacks."""

from __future__ import annotations

from pathlib import Path

from shopper.errors import ShopperError


class PathError(ShopperError):
    """A path that cannot be resolved; the message names it and says what to fix."""


def resolve_reference(reference: str, base: Path) -> Path:
    """Absolute path of `reference` (relative ones start at `base`, `~` expands); the file need
    not exist. A symbolic-link loop raises PathError (pathlib raises RuntimeError or OSError,
    depending on the Python version)."""
    try:
        return (base / Path(reference).expanduser()).resolve()
    except (RuntimeError, OSError):
        raise PathError(
            f"{reference!r} is a loop of symbolic links (point it at a real file)"
        ) from None
