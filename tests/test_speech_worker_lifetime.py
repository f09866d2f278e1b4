"""Speech workers never outlive shopper and never print tracebacks when it goes away early."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from test_interrupts import session_processes

pytestmark = pytest.mark.slow

STARTED_THEN_EXIT = """
import time
from shopper.asr.moonshine_engine import MoonshineEngine
engine = MoonshineEngine()
time.sleep(0.5)  # the workers are still loading the model when the process ends
"""

READY_THEN_WAIT = """
import sys, time
import numpy as np
from shopper.asr.moonshine_engine import MoonshineEngine
engine = MoonshineEngine()
engine.transcribe(np.zeros(8000, dtype=np.int16))
print("ready", flush=True)
time.sleep(600)
"""


def test_exiting_while_workers_load_prints_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STARTED_THEN_EXIT],
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert done.returncode == 0
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_workers_end_when_shopper_is_killed_outright() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", READY_THEN_WAIT],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    assert len(session_processes(process.pid)) >= 2  # shopper and at least one worker
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    deadline = time.monotonic() + 20
    while session_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session_processes(process.pid) == []
