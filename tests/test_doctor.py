"""`shopper doctor` on this machine, with a real broker that wants a password, and with the
programs it needs taken off PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mosquitto import Mosquitto

pytestmark = pytest.mark.slow

SECRET = "right-secret"


def doctor(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopper", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


@pytest.fixture
def locked_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "broker", users={"ops": SECRET})
    server.start()
    yield server
    server.stop()


def test_ready_after_setup() -> None:
    done = doctor()
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1] == "ready"
    assert "ok       speech: moonshine" in done.stdout
    assert "speech: auto: auto picks" in done.stdout


def test_the_broker_login_is_checked_and_no_password_printed(locked_broker: Mosquitto) -> None:
    wrong = doctor(SHOPPER_MQTT_URL=locked_broker.url("ops:wrong-secret"))
    assert wrong.returncode == 1
    assert "missing  mqtt: mqtt://ops:***@127.0.0.1" in wrong.stdout
    assert "wrong-secret" not in wrong.stdout + wrong.stderr
    assert wrong.stdout.splitlines()[-1] == "not ready: fix mqtt"
    right = doctor(SHOPPER_MQTT_URL=locked_broker.url("ops"), SHOPPER_MQTT_PASSWORD=SECRET)
    assert right.returncode == 0, right.stdout
    assert (
        "ok       mqtt: mqtt://ops:***@127.0.0.1" in right.stdout
        and "login accepted" in right.stdout
    )
    assert SECRET not in right.stdout + right.stderr


def test_missing_programs_are_named_with_their_fix(tmp_path: Path) -> None:
    done = doctor(PATH=str(tmp_path))
    assert done.returncode == 1
    for program in ("espeak-ng", "flite", "ffmpeg"):
        assert f"missing  {program}: not on PATH" in done.stdout
        assert f"apt-get install {program}" in done.stdout
