"""A fleet worker killed in the middle of a SIP call: the worker that takes its run back hangs
the call up with a BYE from a socket of its own. A first process places the call to a real
SIPp UAS, reports its leg as a fleet worker does (again once answered, with the dialog) and
is SIGKILLed; the hang-up hook then runs in this process from the recorded leg (through its
JSON, as the fleet's ledger keeps it). SIPp's exit status is the verdict: its scenario fails
unless a BYE with the dialog's route set comes, is challenged, and comes again with the
trunk's digest."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from killed_worker import legs_of_a_killed_worker
from sip_peers import Sipp
from sipserve_peers import Server

from shopper.monitor.fleet.hangup import Leg, hang_up_leftover

IVRS = Path(__file__).resolve().parent / "data" / "sipserve"
pytestmark = [
    pytest.mark.skipif(
        shutil.which("sipp") is None, reason="SIPp (Debian sip-tester) is not installed"
    ),
    pytest.mark.realtime,
]


async def answered_leg_of_a_killed_worker(uri: str) -> Leg:
    """Place a call from another process, read its legs until the answered one, SIGKILL it."""
    legs = await legs_of_a_killed_worker(uri, lambda leg: leg.sip_dialog is not None, 20)
    assert legs[0].sip_dialog is None and legs[0].carrier_id  # placed: the Call-ID only
    return legs[-1]


async def test_a_killed_workers_sip_call_is_hung_up_from_another_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sipp = Sipp("uas_answer_await_bye.xml", tmp_path, bye_ms="20000")
    try:
        leg = await answered_leg_of_a_killed_worker(sipp.uri)
        dialog = leg.sip_dialog
        assert dialog is not None
        assert dialog.call_id == leg.carrier_id
        assert dialog.remote_target.startswith("sip:pbx@127.0.0.1")  # the 200's Contact
        assert dialog.route_set == (f"<sip:127.0.0.1:{sipp.port};lr>",)
        assert "secret" not in json.dumps(leg.to_json())
        # The worker taking the run back has the trunk's credentials in its environment.
        monkeypatch.setenv("SHOPPER_SIP_USER", "tester")
        monkeypatch.setenv("SHOPPER_SIP_PASSWORD", "secret")

        note = await hang_up_leftover(Leg.from_json(json.loads(json.dumps(leg.to_json()))))
    finally:
        status = await asyncio.to_thread(sipp.finish)
    assert status == 0, f"{note}\n{sipp.problems()}"
    assert note.startswith(f"SIP dialog {dialog.call_id} hung up with a BYE"), note
    assert note.endswith("(200 OK)"), note


async def test_a_dialog_the_far_end_no_longer_has_is_noted_as_already_gone(
    tmp_path: Path,
) -> None:
    sipp = Sipp("uas_answer_forget.xml", tmp_path)
    try:
        leg = await answered_leg_of_a_killed_worker(sipp.uri)
        note = await hang_up_leftover(leg)
    finally:
        status = await asyncio.to_thread(sipp.finish)
    assert status == 0, f"{note}\n{sipp.problems()}"
    assert note.endswith("was already gone (481 Call/Transaction Does Not Exist to the BYE)")


async def test_a_killed_workers_sip_call_over_tcp_is_hung_up_over_tcp(tmp_path: Path) -> None:
    """The dialog records its transport, and the BYE goes over a new TCP connection (the dead
    worker's closed with it). The peer is `shopper sandbox serve`: SIPp ends a call whose
    TCP connection closes, where a PBX keeps the dialog; the served IVR keeps it, and its
    truth says how the call ended."""
    server = Server(IVRS / "menu.yaml", tmp_path / "truth")
    try:
        uri = f"sip:ivr@127.0.0.1:{server.port};transport=tcp"
        leg = Leg.from_json(
            json.loads(json.dumps((await answered_leg_of_a_killed_worker(uri)).to_json()))
        )
        assert leg.sip_dialog is not None and leg.sip_dialog.transport == "tcp"
        note = await hang_up_leftover(leg)
        await asyncio.to_thread(server.wait_for_calls, 1)
    finally:
        await asyncio.to_thread(server.stop)
    assert note.endswith("(200 OK)"), note
    (truth,) = server.truths()
    assert json.loads(truth.read_text())["end"]["by"] == "caller", server.stdout
