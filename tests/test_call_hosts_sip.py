"""A call host killed under a real SIP call: shopper's own process hangs that call up with a
BYE from what the host reported of it (its leg, as a fleet worker's is kept), so the far end
does not keep a dead caller's dialog until its session timer. The far end is `shopper sandbox
serve`, whose truth says who ended each call; shopper's verdicts are never computed from it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from sipserve_peers import Server
from test_call_hosts import finish, hosts_with_speech
from test_cli_run_parallel import LONG_HOLD_LINE, start_shopper_run

pytestmark = [pytest.mark.realtime, pytest.mark.slow]


def test_a_killed_hosts_sip_call_is_hung_up_by_shopper(tmp_path: Path) -> None:
    ivr = tmp_path / "long-ivr.yaml"
    ivr.write_text(LONG_HOLD_LINE)
    server = Server(ivr, tmp_path / "truth")
    try:
        script = tmp_path / "hang-on.yaml"
        script.write_text(
            f'name: hang on\ncarrier: sip\ntarget: "sip:ivr@127.0.0.1:{server.port}"\n'
            "steps:\n  - expect: please hold\n    within: 15s\n  - hold: {max: 30m}\n"
        )
        config, out = tmp_path / "config.toml", tmp_path / "out"
        config.write_text("")
        process = start_shopper_run(
            config, script, script, "--parallel", "2", "--processes", "2", "--out", out
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(hosts_with_speech(process.pid)) < 2:
            time.sleep(0.5)
        assert len(hosts_with_speech(process.pid)) == 2, "each host has a call to hear"
        while time.monotonic() < deadline and len(list(out.rglob("recording.wav"))) < 2:
            time.sleep(0.2)  # a call's recording starts as it is dialled (its model loaded)
        time.sleep(3)  # both answered (the second dialled a second after the first)
        os.kill(hosts_with_speech(process.pid)[0], signal.SIGKILL)
        stdout, stderr = finish(process)
        server.wait_for_calls(2)
    finally:
        server.stop()
    assert process.returncode == 2, stdout + stderr
    (line,) = [line for line in stderr.splitlines() if "ended unexpectedly" in line]
    assert "its call: SIP dialog" in line and "hung up with a BYE" in line, line
    assert line.endswith("(200 OK)"), line
    ends = [json.loads(path.read_text())["end"]["by"] for path in server.truths()]
    assert ends == ["caller", "caller"], server.stdout
