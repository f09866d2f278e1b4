"""Shared fixtures: a real mosquitto broker (tests/mosquitto.py) stopped after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mosquitto import Mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """An anonymous broker on a free loopback port, not yet started (tests decide when)."""
    server = Mosquitto(tmp_path / "broker")
    yield server
    server.stop()
