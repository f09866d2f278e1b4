"""The observer that turns finished runs into alert changes and sends them out.

After each run it judges the check's history (shopper.monitor.alerts), and for a change or
a due reminder: puts the `shopper.alert/1` document in the MQTT outbox (retained on
`<prefix>/<site>/alerts/<check>`), saves the state in the history, and starts the webhook
POSTs. Outbox first, history second: a crash between the two announces the change again
after a restart (at least once, like everything on MQTT) rather than never.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta

from shopper.monitor.alert_message import alert_payload, alert_topic
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
    None: no POSTs. `announce` gets each change's one-line text (the monitor's console)."""

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
    ) -> None:
        self.checks = {check.name: check for check in checks}
        self.history = history
        self.publisher = publisher
        self.webhooks = webhooks
        self._announce = announce or _log.warning
        self._clock = clock

    async def run_ended(self, run: RunRecord) -> None:
        check = self.checks.get(run.check)
        if check is None:
            return
        now = self._clock()
        current = self.history.alert(check.name)
        change = evaluate(check.alert, check.slos, self._recent(check, now), current, now)
        if change is not None:
            self._send(check, change)

    async def run_skipped(self, skip: SkippedRun) -> None:
        """No call, so nothing to judge; but a failing alert may be due for its reminder
        (fire times outside active hours are skipped runs too, so reminders keep coming)."""
        check = self.checks.get(skip.check)
        if check is None:
            return
        change = reminder(check.alert, self.history.alert(check.name), self._clock())
        if change is not None:
            self._send(check, change)

    def _recent(self, check: CheckSpec, now: datetime) -> list[RunRecord]:
        """Enough history for the rules: the last runs they count and every SLO window."""
        count, seconds = history_needed(check.alert, check.slos)
        runs = {run.run_id: run for run in self.history.runs(check.name, last=count)}
        if seconds > 0:
            since = now - timedelta(seconds=seconds)
            runs.update((run.run_id, run) for run in self.history.runs(check.name, since=since))
        return list(runs.values())

    def _send(self, check: CheckSpec, change: AlertChange) -> None:
        runs = self._evidence_runs(check.name, change)
        payload = alert_payload(change, runs)
        if self.publisher is not None:
            self.publisher.enqueue(alert_topic(check.name), payload, retain=True)
        self.history.save_alert(change.state)
        self._announce(f"alert: {payload['text']}")
        if self.webhooks is not None and check.webhooks:
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
    clock: Clock = utc_now,
    backoff: Backoff | None = None,
) -> AsyncIterator[AlertObserver]:
    """The monitor's AlertObserver with its webhook sender: `announce` gets each change's
    line and each webhook problem; leaving the block gives POSTs still being retried up to
    10 s (Webhooks)."""
    async with Webhooks(announce, backoff) as webhooks:
        yield AlertObserver(
            checks,
            history,
            publisher=publisher,
            webhooks=webhooks,
            announce=announce,
            clock=clock,
        )
