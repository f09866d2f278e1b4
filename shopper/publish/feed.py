"""What one script's call puts in the outbox: its live events, then its result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopper.engine.timeline import Event
from shopper.publish.envelope import event_payload, result_payload
from shopper.publish.publisher import Publisher
from shopper.publish.topics import Topics
from shopper.results.record import CallRecord
from shopper.scripts.runner import CallContext


@dataclass(frozen=True, slots=True)
class CallDialled:
    """The call's id, before its first event: the topic its events go to."""

    call_id: str


LiveItem = CallDialled | Event
"""What a call's feed takes: its id, then each timeline event as it happens."""


def follow(context: CallContext, take: Callable[[LiveItem], None]) -> None:
    """Give `take` the call's id, what its timeline already holds (dialing), then each event
    live. Where the call runs in another process (shopper.hosts), `take` sends them over."""
    take(CallDialled(context.call_id))
    for event in context.session.timeline:
        take(event)
    context.session.timeline.subscribe(take)


class CallFeed:
    """Give `attach` to `run_script(on_call=...)` (or `take` what `follow` gives elsewhere);
    call `finish` with the record."""

    def __init__(self, publisher: Publisher, script_id: str) -> None:
        self.publisher = publisher
        self.script_id = script_id
        self.call_id = ""
        self._seq = 0

    def attach(self, context: CallContext) -> None:
        """Catch up on what the timeline already holds (dialing), then follow it live."""
        follow(context, self.take)

    def take(self, item: LiveItem) -> None:
        if isinstance(item, CallDialled):
            self.call_id = item.call_id
        else:
            self._add(item)

    def finish(self, record: CallRecord) -> None:
        self.finish_result(record.result)

    def finish_result(self, result: dict[str, Any]) -> None:
        """The call's result document, retained on the script's topic."""
        self.publisher.enqueue(
            Topics.result(self.script_id), result_payload(result, self.script_id), retain=True
        )

    def _add(self, event: Event) -> None:
        self._seq += 1
        payload = event_payload(event, self.call_id, self.script_id, self._seq)
        self.publisher.enqueue(Topics.events(self.call_id), payload)
