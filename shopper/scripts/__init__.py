"""Call scripts: load them from YAML, run them, or place calls from Python.

The names are imported on first use, not with the package, because the pytest plugin lives
in this package and loads in every pytest run of anyone who installs shopper: importing it
must not pull in the speech engines, numpy or the carriers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopper.scripts.loader import ScriptError, load_script
    from shopper.scripts.runner import open_call, run_script

__all__ = ["ScriptError", "load_script", "open_call", "run_script"]

_HOMES = {
    "ScriptError": "shopper.scripts.loader",
    "load_script": "shopper.scripts.loader",
    "open_call": "shopper.scripts.runner",
    "run_script": "shopper.scripts.runner",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
