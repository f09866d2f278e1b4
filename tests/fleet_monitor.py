"""One monitor process of a fleet, for the tests: the real scheduler (shopper.monitor.scheduler)
firing every check on its cadence, with the fleet's dispatch (enqueue) and result follower.

    python fleet_monitor.py DSN SCHEDULE.yaml HISTORY.sqlite3 SECONDS

It logs what it enqueues (INFO) on stderr, runs for SECONDS of wall time and stops like
`shopper monitor` on SIGTERM would (cancelled).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from shopper.monitor.fleet.monitor import FleetResults, enqueueing, monitor_fleet
from shopper.monitor.history import opened_history
from shopper.monitor.schedule import load_schedule
from shopper.monitor.scheduler import Monitor


async def main(dsn: str, schedule_path: Path, history_path: Path, seconds: float) -> None:
    schedule = load_schedule(schedule_path)
    with opened_history(history_path) as history:
        async with enqueueing(dsn, schedule_path) as dispatch:
            monitor = Monitor(schedule, history, dispatch)
            results = FleetResults(dsn, history, [], poll_s=0.5)
            try:
                async with asyncio.timeout(seconds):
                    await monitor_fleet(monitor, results)
            except TimeoutError:
                pass


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])))
