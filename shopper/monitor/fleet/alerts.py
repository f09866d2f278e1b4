"""The fleet's alert states, shared in PostgreSQL, so each change is announced once.

Every monitor of a fleet judges the same results, and the one holding the reporter lock
announces. Were alert states each monitor's own (its SQLite history), a monitor taking over
from a dead reporter would judge against a state it never saw: re-announce an alert already
raised, or miss a recovery. So the states live in `shopper_fleet_alerts`, one row per change
or reminder, each naming the state it follows (`previous`):

- a change is claimed by inserting its row, in one statement that succeeds only while this
  monitor's session holds the reporter lock, and only if no row follows the same state yet
  (UNIQUE (check_name, previous)): two monitors can never both claim one change;
- the claimant announces it (MQTT outbox, webhooks' outbox) and marks the row announced;
- a reporter that died between its claim and the mark leaves the row unannounced: the next
  reporter announces it when it takes over, with the stored document (the same `id`, for
  consumers to de-duplicate should the dead one have put it in its outbox already).

Every statement runs on the connection that holds the reporter lock (`use`): a monitor whose
connection died cannot claim, and its lock is free for another. Every monitor copies the rows
into its own history (`copy_states`), so its status, metrics and dashboard show the fleet's
alert periods.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg.types.json import Jsonb

from shopper.monitor.alert_states import Claim, Known
from shopper.monitor.fleet.queue import REPORTER_LOCK
from shopper.monitor.history import History
from shopper.monitor.records import AlertState, AlertStatus

Connection = psycopg.AsyncConnection[tuple[Any, ...]]

_COLUMNS = "seq, check_name, status, since, reason, evidence, notified_at, payload"

_CLAIM = f"""
INSERT INTO shopper_fleet_alerts
       (check_name, previous, status, since, reason, evidence, notified_at, payload, claimed_by)
SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s
 WHERE EXISTS (SELECT 1 FROM pg_locks
                WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                  AND objsubid = 1
                  AND ((classid::bigint << 32) | objid::bigint) = {REPORTER_LOCK})
    ON CONFLICT (check_name, previous) DO NOTHING
RETURNING seq
"""
"""One statement: the lock is checked and the row inserted atomically."""


class NotReporting(Exception):
    """The alert states were used by a monitor that does not hold the reporter lock."""


class FleetAlertStates:
    """The reporting monitor's `AlertStates`, in the fleet's database."""

    def __init__(self, history: History, monitor: str) -> None:
        self._history = history
        self._monitor = monitor
        self._connection: Connection | None = None

    def use(self, connection: Connection | None) -> None:
        """The connection that holds the reporter lock (None: this monitor does not report)."""
        self._connection = connection

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise NotReporting("alert states used by a monitor that does not report")
        return self._connection

    async def current(self, check: str) -> Known:
        found = await self.connection.execute(
            f"SELECT {_COLUMNS} FROM shopper_fleet_alerts WHERE check_name = %s "
            "ORDER BY seq DESC LIMIT 1",
            (check,),
        )
        row = await found.fetchone()
        return Known(None) if row is None else Known(_state(row), int(row[0]))

    async def claim(
        self, state: AlertState, against: Known, payload: dict[str, Any]
    ) -> Claim | None:
        claimed = await self.connection.execute(
            _CLAIM,
            (
                state.check,
                against.version,
                state.status,
                state.since,
                state.reason,
                Jsonb(list(state.evidence)),
                state.notified_at,
                Jsonb(payload),
                self._monitor,
            ),
        )
        row = await claimed.fetchone()
        return None if row is None else Claim(state, payload, int(row[0]))

    async def announced(self, claim: Claim) -> None:
        await self.connection.execute(
            "UPDATE shopper_fleet_alerts SET announced_at = clock_timestamp() WHERE seq = %s",
            (claim.version,),
        )
        self._history.save_alert_once(claim.state)

    async def unannounced(self) -> list[Claim]:
        found = await self.connection.execute(
            f"SELECT {_COLUMNS} FROM shopper_fleet_alerts WHERE announced_at IS NULL ORDER BY seq"
        )
        return [
            Claim(_state(row), cast(dict[str, Any], row[7]), int(row[0]))
            for row in await found.fetchall()
        ]


async def copy_states(connection: Connection, history: History, after: int) -> int:
    """Copy the fleet's alert states after `after` (a seq) into `history`; the last seq."""
    found = await connection.execute(
        f"SELECT {_COLUMNS} FROM shopper_fleet_alerts WHERE seq > %s ORDER BY seq", (after,)
    )
    last = after
    for row in await found.fetchall():
        history.save_alert_once(_state(row))
        last = int(row[0])
    return last


def _state(row: tuple[Any, ...]) -> AlertState:
    return AlertState(
        check=str(row[1]),
        status=cast(AlertStatus, row[2]),
        since=cast(datetime, row[3]),
        reason=str(row[4]),
        evidence=tuple(str(run_id) for run_id in row[5]),
        notified_at=cast(datetime | None, row[6]),
    )
