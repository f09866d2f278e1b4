"""A monitor's alert side in a process of its own, for the webhook durability test.

    python webhook_monitor.py STATE_DIR URL RUNS SECONDS

It judges RUNS failed runs of one check (history and webhook outbox in STATE_DIR; the alert
is POSTed to URL, retried every 0.1 s), says `ready` on stdout, and stops after SECONDS of
wall time the way `shopper monitor` stops (leaving the webhook sender), unless killed first.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from monitor_runs import EVERY, T0, Clock, check_spec, run_record

from shopper.monitor.alert_observer import AlertObserver
from shopper.monitor.history import opened_history
from shopper.monitor.webhooks import WEBHOOK_OUTBOX_FILE, Backoff, Webhooks

RETRY = Backoff(attempts=100, first_s=0.1, max_s=0.1, jitter_s=0.0, timeout_s=5.0)


async def main(state: Path, url: str, runs: int, seconds: float) -> None:
    clock = Clock(T0)
    with opened_history(state / "monitor.sqlite3") as history:
        async with Webhooks(state / WEBHOOK_OUTBOX_FILE, print, RETRY, drain_s=0.2) as hooks:
            observer = AlertObserver(
                [check_spec(webhooks=(url,))], history, webhooks=hooks, announce=print, clock=clock
            )
            for n in range(runs):
                clock.now = T0 + n * EVERY
                run = run_record(n, "failed")
                history.add_run(run)
                await observer.run_ended(run)
            print("ready", flush=True)
            await asyncio.sleep(seconds)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
