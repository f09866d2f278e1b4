"""shopper's SIP carrier calling `shopper sandbox serve` over real SIP/RTP on loopback, in real
time: both of shopper's halves, each checked against the other's independent account. The
server runs as a child process and writes each call's truth; shopper's verdicts are compared
with it, never computed from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sipserve_peers import REPO, Server

IVRS = Path(__file__).resolve().parent / "data" / "sipserve"


def sip_script(folder: Path, name: str, port: int, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f'name: {name}\ncarrier: sip\ntarget: "sip:ivr@127.0.0.1:{port}"\n{body}', encoding="utf-8"
    )
    return path


def only_truth(server: Server) -> dict[str, Any]:
    (path,) = server.truths()
    truth: dict[str, Any] = json.loads(path.read_text())
    return truth


@pytest.mark.slow  # a shopper run process (the speech engine loads) and a 10 s real-time call
def test_keys_shopper_sends_over_sip_reach_the_served_ivr_and_route_the_call(
    tmp_path: Path,
) -> None:
    server = Server(IVRS / "menu.yaml", tmp_path / "truth")
    try:
        script = sip_script(
            tmp_path,
            "press-one",
            server.port,
            # The key goes in while the menu speaks (it accepts keys then): the press does not
            # wait for the speech engine, so a loaded machine cannot make the menu time out.
            'steps:\n  - wait: 1.5s\n  - press: "1"\n  - expect_hangup: {within: 15s}\n',
        )
        run = subprocess.run(
            [sys.executable, "-m", "shopper", "run", "--engine", "moonshine", str(script),
             "--out", str(tmp_path / "calls")],
            capture_output=True, text=True, timeout=300, check=False, cwd=REPO,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )  # fmt: skip
        server.wait_for_calls(1)
    finally:
        server.stop()
    truth = only_truth(server)
    assert [k["digit"] for k in truth["keys"]] == ["1"], run.stdout + run.stderr
    assert [n["node"] for n in truth["nodes"]] == ["main", "sales"]
    assert truth["end"]["by"] == "ivr"
    assert run.returncode == 0, run.stdout + run.stderr
    (path,) = (tmp_path / "calls").glob("*/result.json")
    result = json.loads(path.read_text())
    assert (result["ended_by"], result["end_cause"]) == ("remote", "hangup")
    keys = [e for e in result["events"] if e["type"] == "key"]
    assert [e["digits"] for e in keys] == ["1"]
    # The IVR heard the key (its truth) where shopper says it sent it, give or take the
    # network's and the regenerated tone's delays.
    assert abs(truth["keys"][0]["start_s"] - keys[0]["t_s"]) < 0.5
