"""The observer that turns finished runs into alert changes and sends them out.

After each run it judges the check's history (shopper.monitor.alerts) against the check's
alert state (shopper.monitor.alert_states), and for a change or a due reminder: claims it,
puts the `shopper.alert/1` document in the MQTT outbox (retained on
`<prefix>/<site>/alerts/<check>`) and in the webhooks' outbox, and then marks it announced.
On one machine the claim always holds and marking saves the state in the history, so a crash
between the outbox and the history announces the change again after a restart (at least
once, like everything on MQTT) rather than never. In a fleet the states are shared in
PostgreSQL: a change is announced by the monitor whose claim won, once, and one claimed by a
monitor that died before announcing it is announced by the next reporter (`resume`), with
the same document (the same `id`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shopper.monitor.alert_message import alert_payload, alert_topic
from shopper.monitor.alert_states import AlertStates, Claim, HistoryStates, Known
from shopper.monitor.alerts import AlertChange, evaluate, history_needed, reminder
from shopper.monitor.history import History
from shopper.monitor.records import RunRecord, SkippedRun
from shopper.monitor.spec import CheckSpec
from shopper.monitor.webhooks import Backoff, Webhooks
from shopper.publish.outbox import Warn
from shopper.publish.publisher import Publisher

Clock = Callable[[], datetime]

_log = logging.getLogger("shopper.monitor")


def utc_now() -> datetime:
    return datetime.now(UTC)


class AlertObserver:
    """A RunObserver: alert rules per check, announced over MQTT and webhooks.

    `publisher` None: MQTT is off (changes are still saved and sent to webhooks); `webhooks`
    None: no POSTs. `announce` gets each change's one-line text (the monitor's console).
    `states`: where alert states are kept (default: the history)."""

    notifies = True
    """It sends notifications: in a fleet only the reporting monitor's AlertObserver hears of
    runs (shopper.monitor.fleet.monitor.notifies), so each change goes out once."""

    def __init__(
        self,
        checks: Iterable[CheckSpec],
        history: History,
        *,
        publisher: Publisher | None = None,
        webhooks: Webhooks | None = None,
        announce: Warn | None = None,
        clock: Clock = utc_now,
        states: AlertStates | None = None,
    ) -> None:
        self.checks = {check.name: check for check in checks}
        self.history = history
        self.states: AlertStates = states or HistoryStates(history)
        self.publisher = publisher
        self.webhooks = webhooks
        self._announce = announce or _log.warning
        self._clock = clock

    async def run_ended(self, run: RunRecord) -> None:
        check = self.checks.get(run.check)
        if check is None:
            return
        now = self._clock()
        known = await self.states.current(check.name)
        change = evaluate(check.alert, check.slos, self._recent(check, now), known.state, now)
        if change is not None:
            await self._claim_and_send(check, change, known)

    async def run_skipped(self, skip: SkippedRun) -> None:
        """No call, so nothing to judge; but a failing alert may be due for its reminder
        (fire times outside active hours are skipped runs too, so reminders keep coming)."""
        check = self.checks.get(skip.check)
        if check is None:
            return
        known = await self.states.current(check.name)
        change = reminder(check.alert, known.state, self._clock())
        if change is not None:
            await self._claim_and_send(check, change, known)

    async def resume(self) -> None:
        """Announce the changes claimed by a monitor that died before announcing them (a
        fleet's new reporter calls this when it takes over)."""
        for claim in await self.states.unannounced():
            self._send(claim)
            await self.states.announced(claim)

    def _recent(self, check: CheckSpec, now: datetime) -> list[RunRecord]:
        """Enough history for the rules: the last runs they count and every SLO window."""
        count, seconds = history_needed(check.alert, check.slos)
        runs = {run.run_id: run for run in self.history.runs(check.name, last=count)}
        if seconds > 0:
            since = now - timedelta(seconds=seconds)
            runs.update((run.run_id, run) for run in self.history.runs(check.name, since=since))
        return list(runs.values())

    async def _claim_and_send(self, check: CheckSpec, change: AlertChange, known: Known) -> None:
        payload = alert_payload(change, self._evidence_runs(check.name, change))
        claim = await self.states.claim(change.state, known, payload)
        if claim is None:
            _log.info("%s: another monitor announced this alert change", check.name)
            return
        self._send(claim)
        await self.states.announced(claim)

    def _send(self, claim: Claim) -> None:
        """Into the MQTT outbox, onto the console, into the webhooks' outbox."""
        name, payload = claim.state.check, claim.payload
        if self.publisher is not None:
            self.publisher.enqueue(alert_topic(name), payload, retain=True)
        self._announce(f"alert: {payload['text']}")
        check = self.checks.get(name)
        if self.webhooks is not None and check is not None and check.webhooks:
            self.webhooks.post(check.webhooks, payload)

    def _evidence_runs(self, check: str, change: AlertChange) -> dict[str, RunRecord]:
        """The runs the state names, by id: all are at or before the state's `since`."""
        wanted = set(change.state.evidence)
        if not wanted:
            return {}
        found: dict[str, RunRecord] = {}
        for run in self.history.runs(check):
            if run.run_id in wanted:
                found[run.run_id] = run
        return found


@contextlib.asynccontextmanager
async def alerting(
    checks: Iterable[CheckSpec],
    history: History,
    *,
    publisher: Publisher | None,
    announce: Warn,
    webhook_outbox: Path,
    clock: Clock = utc_now,
    backoff: Backoff | None = None,
    states: AlertStates | None = None,
) -> AsyncIterator[AlertObserver]:
    """The monitor's AlertObserver with its webhook sender: `announce` gets each change's
    line and each webhook problem; POSTs wait in `webhook_outbox` until delivered, and
    leaving the block gives those still being retried up to 10 s (Webhooks) before leaving
    them there for the next start."""
    async with Webhooks(webhook_outbox, announce, backoff) as webhooks:
        yield AlertObserver(
            checks,
            history,
            publisher=publisher,
            webhooks=webhooks,
            announce=announce,
            clock=clock,
            states=states,
        )
