"""The record of everything that happened on a call, in media time.

Results, transcripts, the HTML report and live MQTT events are all views of this one list,
so they can never disagree about when something happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from shopper.audio.frame import TELEPHONY_RATE

EventListener = Callable[["Event"], None]


@dataclass(frozen=True, slots=True)
class Event:
    t: int
    """Media time in samples since the call was placed."""
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def t_s(self) -> float:
        return self.t / TELEPHONY_RATE

    def to_json(self) -> dict[str, Any]:
        return {"t_s": round(self.t_s, 3), "type": self.type, **self.data}


class Timeline:
    """Events in the order they became known; listeners see each one as it is added."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._listeners: list[EventListener] = []

    def subscribe(self, listener: EventListener) -> None:
        self._listeners.append(listener)

    def add(self, t: int, type: str, **data: Any) -> Event:
        event = Event(t, type, data)
        self._events.append(event)
        for listener in self._listeners:
            listener(event)
        return event

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def of_type(self, type: str) -> list[Event]:
        return [event for event in self._events if event.type == type]

    def to_json(self) -> list[dict[str, Any]]:
        """Sorted by media time (events can become known after the moment they describe)."""
        return [event.to_json() for event in sorted(self._events, key=lambda e: e.t)]
