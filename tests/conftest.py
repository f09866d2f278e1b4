"""Shared fixtures: a real mosquitto broker (tests/mosquitto.py) stopped after each test; and
a test session isolated from the developer's own machine.

Isolation: every `SHOPPER_*` variable of the developer's shell is removed (a configured broker,
model or config file would change what the tests see), and shopper's config file, state
(outbox) and cache live in folders of the test session's own. The cache (text-to-speech renders)
is kept between sessions in pytest's cache folder, so re-runs stay fast without ever reading or
writing the developer's real one. Variables named `SHOPPER_TEST_*` are the tests' own opt-ins
(e.g. `SHOPPER_TEST_VOSK_MODEL`, an English Vosk model to test with) and are kept.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from mosquitto import Mosquitto
from postgres import Postgres, available

_SESSION_DIR = "shopper_test_session_dir"


LIVE_TWILIO = (
    "SHOPPER_TWILIO_TEST_NUMBER",
    "SHOPPER_TWILIO_FROM",
    "SHOPPER_TWILIO_PUBLIC_URL",
    "SHOPPER_TWILIO_LISTEN",
    "SHOPPER_TWILIO_API_URL",
)
"""What the opt-in live Twilio test needs besides Twilio's own TWILIO_* credentials: kept aside
before the isolation below removes them (tests/test_twilio_live.py)."""
_LIVE_TWILIO_KEY = "shopper_live_twilio"


def pytest_configure(config: pytest.Config) -> None:
    live = {name: os.environ[name] for name in LIVE_TWILIO if os.environ.get(name)}
    setattr(config, _LIVE_TWILIO_KEY, live)
    for name in [name for name in os.environ if name.startswith("SHOPPER_")]:
        if not name.startswith("SHOPPER_TEST_"):
            del os.environ[name]
    session = Path(tempfile.mkdtemp(prefix="shopper-tests-"))
    setattr(config, _SESSION_DIR, session)
    os.environ["SHOPPER_CONFIG"] = str(session / "config.toml")
    os.environ["SHOPPER_STATE_DIR"] = str(session / "state")
    os.environ["SHOPPER_CACHE_DIR"] = str(config.cache.mkdir("shopper-cache"))


def pytest_unconfigure(config: pytest.Config) -> None:
    session = getattr(config, _SESSION_DIR, None)
    if session is not None:
        shutil.rmtree(session, ignore_errors=True)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """An anonymous broker on a free loopback port, not yet started (tests decide when)."""
    server = Mosquitto(tmp_path / "broker")
    yield server
    server.stop()


@pytest.fixture
def live_twilio(request: pytest.FixtureRequest) -> dict[str, str]:
    """The developer's live Twilio settings (LIVE_TWILIO) as they were before isolation."""
    live: dict[str, str] = getattr(request.config, _LIVE_TWILIO_KEY, {})
    return live


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[Postgres]:
    """Debian's PostgreSQL in a temp folder on a free port (tests/postgres.py), one per test
    module; stopped by PID at the module's end."""
    if not available():
        pytest.skip("PostgreSQL's server is not installed here (CI installs Debian's postgresql)")
    server = Postgres()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def postgres_dsn(postgres_server: Postgres) -> str:
    """A fresh, empty database of its own for each test on the module's server."""
    name = f"test_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    return postgres_server.dsn.rsplit("/", 1)[0] + "/" + name
