"""What one script's call puts in the outbox: its live events, then its result."""

from __future__ import annotations

from shopper.engine.timeline import Event
from shopper.publish.envelope import event_payload, result_payload
from shopper.publish.publisher import Publisher
from shopper.publish.topics import Topics
from shopper.results.record import CallRecord
from shopper.scripts.runner import CallContext


class CallFeed:
    """Give `attach` to `run_script(on_call=...)`; call `finish` with the record."""

    def __init__(self, publisher: Publisher, script_id: str) -> None:
        self.publisher = publisher
        self.script_id = script_id
        self.call_id = ""
        self._seq = 0

    def attach(self, context: CallContext) -> None:
        """Catch up on what the timeline already holds (dialing), then follow it live."""
        self.call_id = context.call_id
        for event in context.session.timeline:
            self._add(event)
        context.session.timeline.subscribe(self._add)

    def finish(self, record: CallRecord) -> None:
        self.publisher.enqueue(
            Topics.result(self.script_id),
            result_payload(record.result, self.script_id),
            retain=True,
        )

    def _add(self, event: Event) -> None:
        self._seq += 1
        payload = event_payload(event, self.call_id, self.script_id, self._seq)
        self.publisher.enqueue(Topics.events(self.call_id), payload)
