"""Ctrl-C and SIGTERM during `shopper run`: the call is hung up, its evidence written with
outcome `error` and the reason, the exit code names the signal, and no child process outlives
shopper. Real processes, real signals."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from proc_table import session_processes

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).parent.parent / "scripts"

LONG_HOLD = """
name: Long hold
target: {ivr}
steps:
  - expect: thank you for calling
  - press: "0"
  - hold: {{max: 10m}}
"""


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_hangs_up_and_keeps_the_evidence(
    tmp_path: Path, sent: signal.Signals, code: int
) -> None:
    script = tmp_path / "long.yaml"
    script.write_text(LONG_HOLD.format(ivr=SCRIPTS / "acme/ivr.yaml"))
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "shopper", "run", "--realtime", str(script), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.rglob("recording.wav")):
        time.sleep(0.2)  # a call's recording starts as it is dialled (its model loaded)
    time.sleep(12)
    process.send_signal(sent)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    (folder,) = out.iterdir()
    result = json.loads((folder / "result.json").read_text())
    assert result["outcome"] == "error"
    assert result["failure"]["message"] == f"interrupted by {sent.name}"
    assert result["ended_by"] == "tester"
    assert result["metrics"]["duration_s"] > 5
    assert (folder / "recording.wav").stat().st_size > 8000 * 4 * 5
    assert json.loads((folder / "transcript.json").read_text())
    assert re.search(rf"error at step \d: interrupted by {sent.name}", stdout)
    time.sleep(1)
    assert session_processes(process.pid) == []
