"""A fleet worker killed while its SIP call rings: the worker that takes its run back CANCELs
the INVITE from the ledger's record of it. A first process places the call, reports its legs
as a fleet worker does (the INVITE, then the early dialog its 180 began) and is SIGKILLed
while the far end rings; the hang-up hook then runs in this process from the recorded leg
(through its JSON, as the fleet's ledger keeps it).

The far end is the real thing in each case: `shopper sandbox serve` ringing forever (its
truth file says how the call ended), or SIPp, whose exit status is the verdict of its
scenario (it fails unless the CANCEL, and the ACK of its 487 or the ACK and BYE of an answer
nobody took, come as they must). The last test runs the whole chain through the fleet: a
worker process records the legs in PostgreSQL, and a worker takes its run back after stall
detection."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from killed_worker import legs_of_a_killed_worker
from monitor_runs import passed_now, serve_until_finished
from sip_peers import Sipp
from sipserve_peers import Server

from shopper.monitor.fleet import ledger
from shopper.monitor.fleet.enqueue import enqueue_run
from shopper.monitor.fleet.hangup import Leg, hang_up_leftover
from shopper.monitor.fleet.queue import connect, fleet_app, prepare
from shopper.monitor.fleet.runs import FleetRun
from shopper.monitor.fleet.worker import FleetWorker, WorkerSettings
from shopper.monitor.records import RunRecord

pytestmark = pytest.mark.realtime  # wall-clock bound: CI runs these beside the others
needs_sipp = pytest.mark.skipif(
    shutil.which("sipp") is None, reason="SIPp (Debian sip-tester) is not installed"
)

RINGING = Path(__file__).resolve().parent / "data" / "sipserve" / "ringing.yaml"


async def ringing_leg_of_a_killed_worker(uri: str) -> Leg:
    """Place a call from another process, read its legs until the far end rings (the early
    dialog is recorded), SIGKILL it; the last leg, as read back from the ledger's JSON."""
    legs = await legs_of_a_killed_worker(uri, _rings, 30, ring_timeout_s=600)
    first = legs[0]
    assert first.sip_invite is not None and first.sip_dialog is None  # reported with the INVITE
    assert first.sip_invite.call_id == first.carrier_id
    assert first.sip_invite.remote_tag is None  # nothing heard yet when the call was placed
    return Leg.from_json(json.loads(json.dumps(legs[-1].to_json())))


def _rings(leg: Leg) -> bool:
    """Whether `leg` has the early dialog of a provisional response (the far end rings)."""
    return leg.sip_invite is not None and bool(leg.sip_invite.remote_tag)


async def test_a_ringing_call_is_cancelled_from_another_machine(tmp_path: Path) -> None:
    """The dead worker's address is taken here, as on another machine: the CANCEL goes from
    a socket of its own, with the INVITE's Via, and its 200 comes back by rport."""
    server = await asyncio.to_thread(Server, RINGING, tmp_path / "truth")
    try:
        leg = await ringing_leg_of_a_killed_worker(f"sip:ivr@127.0.0.1:{server.port}")
        invite = leg.sip_invite
        assert invite is not None and ";rport" in invite.via
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(invite.sent_by)
            note = await hang_up_leftover(leg)
        await asyncio.to_thread(server.wait_for_calls, 1)
        truths = server.truths()
    finally:
        await asyncio.to_thread(server.stop)
    where = f"127.0.0.1:{server.port}"
    assert note == f"SIP INVITE {invite.call_id} cancelled (200 OK to the CANCEL sent to {where})"
    assert len(truths) == 1 and invite.call_id.split("@")[0] in truths[0].name  # that call
    truth = json.loads(truths[0].read_text())
    assert truth["answer"]["answered_s"] is None
    assert (truth["end"]["by"], truth["end"]["reason"]) == ("caller", "caller sent CANCEL")


@needs_sipp
async def test_a_ringing_call_is_cancelled_from_the_dead_workers_address(tmp_path: Path) -> None:
    """On the dead worker's machine its address is free: the CANCEL goes from it, so the
    answers to the INVITE come too. SIPp answers only there (it ignores rport), and its
    scenario fails unless the CANCEL comes and the 487 is ACKed."""
    sipp = Sipp("uas_ring_forever.xml", tmp_path)
    try:
        leg = await ringing_leg_of_a_killed_worker(sipp.uri)
        note = await hang_up_leftover(leg)
    finally:
        status = await asyncio.to_thread(sipp.finish)
    assert status == 0, f"{note}\n{sipp.problems()}"
    assert leg.sip_invite is not None
    assert note == (
        f"SIP INVITE {leg.sip_invite.call_id} cancelled: 200 OK to the CANCEL sent to "
        f"127.0.0.1:{sipp.port}, 487 Request Terminated to the INVITE (ACKed)"
    )


@needs_sipp
@pytest.mark.parametrize(
    ("scenario", "how"),
    [
        # RFC 3261: the 2xx ended the INVITE transaction; the 180's dialog is all there is.
        ("uas_ring_answer_unacked.xml", "was no longer pending (481 "),
        # RFC 6026: the transaction is Accepted, the CANCEL matches it and changes nothing;
        # the 200 to the INVITE, retransmitted, comes to the dead worker's address.
        ("uas_ring_answer_accepted.xml", "was answered after its worker died (200 OK "),
    ],
)
async def test_a_call_answered_after_its_worker_died_is_acked_and_hung_up(
    tmp_path: Path, scenario: str, how: str
) -> None:
    """SIPp answers once the worker is dead and retransmits its 200 to nobody; whatever it
    says to the CANCEL, the call is ACKed and BYEd (SIPp checks the tag of both)."""
    sipp = Sipp(scenario, tmp_path, answer_ms="2000")  # the worker is killed well before
    try:
        leg = await ringing_leg_of_a_killed_worker(sipp.uri)
        async with asyncio.timeout(10):  # until SIPp has answered into nothing
            while "SIP/2.0 200 OK" not in (
                sipp.messages.read_text() if sipp.messages.exists() else ""
            ):
                await asyncio.sleep(0.05)
        note = await hang_up_leftover(leg)
    finally:
        status = await asyncio.to_thread(sipp.finish)
    assert status == 0, f"{note}\n{sipp.problems()}"
    assert leg.sip_invite is not None
    assert note.startswith(f"SIP INVITE {leg.sip_invite.call_id} {how}"), note
    assert note.endswith("; hung up with a BYE (200 OK)"), note


FLEET_WORKER = """
import asyncio, sys
from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions
from shopper.monitor.fleet.hangup import follow_legs
from shopper.monitor.fleet.worker import FleetWorker, WorkerSettings

async def ring(run, placed):
    call = (await dial(sys.argv[2], "sip", DialOptions(ring_timeout_s=600))).call
    follow_legs(call, placed)
    await asyncio.sleep(3600)

settings = WorkerSettings(
    dsn=sys.argv[1], lines=1, name="doomed", heartbeat_s=0.5, stalled_after_s=3.0
)
asyncio.run(FleetWorker(settings, ring).serve(asyncio.Event()))
"""
"""A fleet worker whose call only rings: the fleet's own recording of its legs."""


async def test_a_fleet_worker_takes_a_dead_workers_ringing_run_back_and_cancels_it(
    tmp_path: Path, postgres_dsn: str
) -> None:
    """The whole chain: a fleet worker process records its ringing call's INVITE in the
    ledger and is SIGKILLed; a worker of this process takes the run back after stall
    detection, CANCELs the INVITE from what the ledger kept, notes it, then calls again."""
    await prepare(postgres_dsn)
    server = await asyncio.to_thread(Server, RINGING, tmp_path / "truth")
    at = datetime.now(UTC).replace(microsecond=0)
    target = f"sip:ivr@127.0.0.1:{server.port}"
    run = FleetRun(
        run_id=f"ringing@{at:%Y-%m-%dT%H:%M:%SZ}",
        check="ringing",
        scheduled_at=at,
        line=f"sip:{target}",
        schedule="schedule.yaml",
    )
    app = fleet_app(postgres_dsn)
    connection = await connect(postgres_dsn)
    doomed: asyncio.subprocess.Process | None = None
    try:
        async with app.open_async():
            await enqueue_run(app, connection, run, "monitor")
        doomed = await asyncio.create_subprocess_exec(
            sys.executable, "-c", FLEET_WORKER, postgres_dsn, target
        )
        async with asyncio.timeout(30):  # until the ledger has the INVITE and its early dialog
            while not (legs := [a.leg for a in await ledger.attempts(connection) if a.leg]) or (
                legs[0].sip_invite is None or not legs[0].sip_invite.remote_tag
            ):
                await asyncio.sleep(0.1)
        doomed.kill()
        await doomed.wait()
        invite = legs[0].sip_invite
        assert invite is not None

        async def call_again(run: FleetRun, placed: Callable[[Leg], None]) -> RunRecord:
            return passed_now(run)

        settings = WorkerSettings(
            dsn=postgres_dsn, lines=1, name="heir", heartbeat_s=0.5, stalled_after_s=3.0
        )
        await serve_until_finished(FleetWorker(settings, call_again), connection, run.run_id, 60)
        attempts = await ledger.attempts(connection)
        await asyncio.to_thread(server.wait_for_calls, 1)
        truths = server.truths()
    finally:
        if doomed is not None and doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
        await connection.close()
        await asyncio.to_thread(server.stop)
    assert [(a.worker, a.ended_at is not None) for a in attempts] == [
        ("doomed", False),
        ("heir", True),
    ]
    assert attempts[0].hang_up_note == (  # from the dead worker's address, free again here
        f"SIP INVITE {invite.call_id} cancelled: 200 OK to the CANCEL sent to "
        f"127.0.0.1:{server.port}, 487 Request Terminated to the INVITE (ACKed)"
    )
    assert len(truths) == 1  # the heir's own call is a stand-in: the one call is the dead one's
    truth = json.loads(truths[0].read_text())
    assert (truth["end"]["by"], truth["end"]["reason"]) == ("caller", "caller sent CANCEL")
