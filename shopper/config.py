"""shopper's one config file (TOML), with a table per part of shopper: `[asr]`, `[mqtt]`.

Found at $SHOPPER_CONFIG, else in the platform's config folder; a missing file is an empty
configuration, a broken one a one-line error naming the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import platformdirs

from shopper.errors import ShopperError

ENV_CONFIG = "SHOPPER_CONFIG"


class ConfigError(ShopperError):
    """The config file cannot be read or a table in it is not one."""


def config_path() -> Path:
    override = os.environ.get(ENV_CONFIG)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir("shopper")) / "config.toml"


def config_table(name: str) -> tuple[Path, dict[str, Any]]:
    """The config file's path and its `[name]` table (empty when either is missing)."""
    path = config_path()
    if not path.is_file():
        return path, {}
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    table = config.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{name}] must be a table")
    return path, table
