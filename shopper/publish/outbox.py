"""The durable outbox: what must reach the broker survives a broker outage and a crash.

An entry is written to SQLite before anything tries to publish it and is deleted only after
the broker acknowledged it, so delivery is at least once (consumers de-duplicate by the
payload's id). Writing never raises: a full disk or a full outbox is a warning, never a
failed call. WAL with synchronous=NORMAL keeps every committed entry through a killed
process; a power cut can lose the last few.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

ENV_STATE_DIR = "SHOPPER_STATE_DIR"
OUTBOX_FILE = "outbox.sqlite3"

DEFAULT_MAX_ENTRIES = 100_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_AGE_S = 7 * 24 * 3600.0

Warn = Callable[[str], None]

_log = logging.getLogger("shopper.publish")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


def state_dir() -> Path:
    override = os.environ.get(ENV_STATE_DIR)
    return Path(override).expanduser() if override else Path(platformdirs.user_state_dir("shopper"))


def default_outbox_path() -> Path:
    return state_dir() / OUTBOX_FILE


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True, slots=True)
class Limits:
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_bytes: int = DEFAULT_MAX_BYTES
    max_age_s: float = DEFAULT_MAX_AGE_S
    """Entries older than this (wall clock) are dropped: nobody wants week-old live events."""


class Outbox:
    """One SQLite file shared by every shopper process of the user (run, publish --drain).

    `name` and `receiver` word its warnings (the MQTT outbox and the broker by default) and
    `shown` the topic in them: the monitor's webhook outbox (shopper.monitor.webhooks) keeps a
    URL, which may hold a token, as each entry's topic."""

    def __init__(
        self,
        path: Path,
        limits: Limits | None = None,
        warn: Warn | None = None,
        *,
        name: str = "MQTT outbox",
        receiver: str = "the broker",
        shown: Callable[[str], str] = str,
    ):
        self.path = path
        self.name = name
        self.receiver = receiver
        self._shown = shown
        self.limits = limits or Limits()
        self._warn = warn or _log.warning
        self._refused = 0
        self._on_put: list[Callable[[], None]] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self.expire()
        self._count, self._bytes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox"
        ).fetchone()
        """Kept in memory so that a put stays cheap however full the outbox is; another
        process sharing the file (publish --drain) only makes the limits approximate."""

    def close(self) -> None:
        if self._refused:
            self._warn(
                f"{self.name} {self.path} was full: {self._refused} entries were not kept "
                f"(limits {self.limits.max_entries} entries, {self.limits.max_bytes} bytes)"
            )
            self._refused = 0
        self._db.close()

    def on_put(self, callback: Callable[[], None]) -> None:
        """Called after every stored entry (the publisher wakes up on it)."""
        self._on_put.append(callback)

    def put(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        """Store one entry; False (and a warning, once per run) if it could not be kept."""
        try:
            count, size = self._count, self._bytes
            if count >= self.limits.max_entries or size + len(payload) > self.limits.max_bytes:
                if self._refused == 0:
                    self._warn(
                        f"{self.name} {self.path} is full ({count} entries, {size} bytes): "
                        f"new entries are not kept until {self.receiver} takes the waiting ones"
                    )
                self._refused += 1
                return False
            self._db.execute(
                "INSERT INTO outbox (topic, payload, qos, retain, created) VALUES (?,?,?,?,?)",
                (topic, payload, qos, int(retain), time.time()),
            )
            self._count, self._bytes = count + 1, size + len(payload)
        except sqlite3.Error as error:
            self._warn(
                f"{self.name} {self.path}: cannot store an entry for {self._shown(topic)} ({error})"
            )
            return False
        for callback in self._on_put:
            callback()
        return True

    def peek(self, limit: int) -> list[Entry]:
        """The oldest entries, in the order they were put."""
        rows = self._db.execute(
            "SELECT seq, topic, payload, qos, retain FROM outbox ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [
            Entry(seq, topic, bytes(payload), qos, bool(r)) for seq, topic, payload, qos, r in rows
        ]

    def remove(self, entries: list[Entry]) -> None:
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(e.seq,) for e in entries])
        self._count = max(0, self._count - len(entries))
        self._bytes = max(0, self._bytes - sum(len(e.payload) for e in entries))

    def __len__(self) -> int:
        count: int = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        return count

    def expire(self) -> int:
        """Drop entries past the age limit, with a warning saying how many."""
        cutoff = time.time() - self.limits.max_age_s
        try:
            dropped = self._db.execute("DELETE FROM outbox WHERE created < ?", (cutoff,)).rowcount
        except sqlite3.Error as error:
            self._warn(f"{self.name} {self.path}: cannot drop expired entries ({error})")
            return 0
        if dropped:
            self._warn(
                f"{self.name} {self.path}: dropped {dropped} entries older than "
                f"{self.limits.max_age_s / 3600:g} h that {self.receiver} never took"
            )
        return dropped
