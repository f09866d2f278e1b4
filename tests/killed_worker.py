"""A fleet worker killed in the middle of its SIP call, for the tests of the worker that takes
its run back (BYE and CANCEL from another process): a process dials, reports its legs as a
fleet worker does, and is SIGKILLed once a leg shows the call as far as the test needs."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable

from shopper.carriers.options import DialOptions
from shopper.monitor.fleet.hangup import Leg

WORKER = """
import asyncio, json, sys
from shopper.carriers.dial import dial
from shopper.carriers.options import DialOptions
from shopper.monitor.fleet.hangup import follow_legs

async def main() -> None:
    placed = await dial(sys.argv[1], "sip", DialOptions(ring_timeout_s=float(sys.argv[2])))
    follow_legs(placed.call, lambda leg: print(json.dumps(leg.to_json()), flush=True))
    await asyncio.sleep(3600)

asyncio.run(main())
"""
"""A worker's call, reduced to what matters here: dial, report the legs, stay up."""


async def legs_of_a_killed_worker(
    uri: str,
    until: Callable[[Leg], bool],
    within_s: float,
    ring_timeout_s: float = DialOptions().ring_timeout_s,
) -> list[Leg]:
    """Place a call to `uri` from another process, read the legs it reports (through their
    JSON, as the fleet's ledger keeps them) until one is `until`, SIGKILL the process; the
    legs read. Fails if the process ends first or no such leg comes within `within_s`."""
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, uri, str(ring_timeout_s), stdout=asyncio.subprocess.PIPE
    )
    assert worker.stdout is not None
    legs: list[Leg] = []
    try:
        async with asyncio.timeout(within_s):
            while not legs or not until(legs[-1]):
                line = await worker.stdout.readline()
                assert line, "the worker ended before its call got as far as the test waits for"
                legs.append(Leg.from_json(json.loads(line)))
    finally:
        worker.kill()
        await worker.wait()
    assert worker.returncode == -signal.SIGKILL
    return legs
