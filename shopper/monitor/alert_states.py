"""Where the alert observer keeps each check's alert state, and how it claims a change.

A change is judged against the state as it stands (`Known`), claimed against it, announced
(MQTT outbox, console, webhooks), and then marked announced. On one machine the state lives
in the monitor's SQLite history (`HistoryStates`): the claim always holds and the state is
saved once announced, so a crash in between announces the change again after a restart (at
least once) rather than never. A fleet's monitors share their states in PostgreSQL
(shopper.monitor.fleet.alerts), where a claim can lose to another monitor's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from shopper.monitor.history import History
from shopper.monitor.records import AlertState


@dataclass(frozen=True, slots=True)
class Known:
    """A check's alert state as it stands, and which saved state it is (0: none yet), so
    that a change is claimed as the successor of the state it was judged against."""

    state: AlertState | None
    version: int = 0


@dataclass(frozen=True, slots=True)
class Claim:
    """A change this monitor may announce: its new state and its document."""

    state: AlertState
    payload: dict[str, Any]
    version: int = 0


class AlertStates(Protocol):
    async def current(self, check: str) -> Known:
        """The check's alert state as it stands."""

    async def claim(
        self, state: AlertState, against: Known, payload: dict[str, Any]
    ) -> Claim | None:
        """Reserve the change to `state` (announced by `payload`) as the successor of
        `against`; None when that state already has a successor (another monitor's)."""

    async def announced(self, claim: Claim) -> None:
        """The claimed change went out (into the outbox, to the webhooks' outbox)."""

    async def unannounced(self) -> list[Claim]:
        """Changes claimed and never marked announced: their monitor died in between."""


class HistoryStates:
    """One monitor's alert states, in its SQLite history."""

    def __init__(self, history: History) -> None:
        self.history = history

    async def current(self, check: str) -> Known:
        return Known(self.history.alert(check))

    async def claim(self, state: AlertState, against: Known, payload: dict[str, Any]) -> Claim:
        return Claim(state, payload)

    async def announced(self, claim: Claim) -> None:
        self.history.save_alert(claim.state)

    async def unannounced(self) -> list[Claim]:
        return []
