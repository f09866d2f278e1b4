"""The test session never sees the developer's shopper settings, state or cache."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def test_shopper_dirs_are_the_sessions_own() -> None:
    real = {
        Path(platformdirs.user_config_dir("shopper")),
        Path(platformdirs.user_state_dir("shopper")),
        Path(platformdirs.user_cache_dir("shopper")),
    }
    for name in ("SHOPPER_CONFIG", "SHOPPER_STATE_DIR", "SHOPPER_CACHE_DIR"):
        path = Path(os.environ[name])
        assert not any(path == place or place in path.parents for place in real), name
    assert not Path(os.environ["SHOPPER_CONFIG"]).exists()


def test_no_developer_variables_leak_in() -> None:
    leaked = [
        name
        for name in os.environ
        if name.startswith("SHOPPER_")
        and not name.startswith("SHOPPER_TEST_")
        and name not in ("SHOPPER_CONFIG", "SHOPPER_STATE_DIR", "SHOPPER_CACHE_DIR")
    ]
    assert leaked == []
