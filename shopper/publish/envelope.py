"""Payloads as they go on the wire: each carries `schema`, a unique `id` and a `timestamp`.

QoS 1 means at least once: a consumer sees an entry again after a reconnect or a restart of
shopper, and de-duplicates by `id`. `timestamp` is the wall-clock UTC moment the payload was
made (when it entered the outbox); everything about the call itself stays in media time.
"""

from __future__ import annotations

import json
import socket
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from shopper import __version__
from shopper.engine.timeline import Event

EVENT_SCHEMA = "shopper.event/1"
RESULT_MESSAGE_SCHEMA = "shopper.result-message/1"
STATUS_SCHEMA = "shopper.status/1"


def _envelope(schema: str) -> dict[str, Any]:
    return {
        "schema": schema,
        "id": uuid.uuid4().hex,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def event_payload(event: Event, call_id: str, script_id: str, seq: int) -> dict[str, Any]:
    """One timeline event; `seq` counts from 1 per call in the order events became known."""
    return {
        **_envelope(EVENT_SCHEMA),
        "call_id": call_id,
        "script_id": script_id,
        "seq": seq,
        "t_s": round(event.t_s, 3),
        "type": event.TYPE,
        "data": event.data(),
    }


def result_payload(result: dict[str, Any], script_id: str) -> dict[str, Any]:
    """The result document, unchanged, inside an envelope (its own schema forbids extra keys)."""
    return {**_envelope(RESULT_MESSAGE_SCHEMA), "script_id": script_id, "result": result}


def status_payload(state: Literal["online", "offline"], client_id: str) -> dict[str, Any]:
    return {
        **_envelope(STATUS_SCHEMA),
        "state": state,
        "version": __version__,
        "host": socket.gethostname(),
        "client_id": client_id,
    }


def stamped(payload: dict[str, Any]) -> dict[str, Any]:
    """A document that names its own schema (a crawl's), with the id and timestamp every
    message carries."""
    return {**payload, **_envelope(payload["schema"])}


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
