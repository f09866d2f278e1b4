"""The SQLite outbox: survives reopening, keeps order, and warns when it drops or refuses."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from shopper.publish.outbox import Limits, Outbox


def test_entries_survive_reopening_in_order(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.sqlite3"
    outbox = Outbox(path, warn=lambda _: None)
    for n in range(5):
        assert outbox.put(f"t/{n}", f"payload {n}".encode(), 1, n == 4)
    outbox.remove(outbox.peek(2))
    outbox.close()
    reopened = Outbox(path, warn=lambda _: None)
    entries = reopened.peek(10)
    assert [e.topic for e in entries] == ["t/2", "t/3", "t/4"]
    assert entries[-1].payload == b"payload 4" and entries[-1].retain
    assert not entries[0].retain and entries[0].qos == 1
    reopened.close()


def test_a_full_outbox_refuses_new_entries_with_one_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    outbox = Outbox(tmp_path / "o.sqlite3", Limits(max_entries=3), warnings.append)
    kept = [outbox.put("t", b"x", 1, False) for _ in range(6)]
    assert kept == [True, True, True, False, False, False]
    assert len(warnings) == 1 and "is full (3 entries" in warnings[0]
    outbox.close()
    assert "3 entries were not kept" in warnings[-1]
    limited = Outbox(tmp_path / "b.sqlite3", Limits(max_bytes=10), warnings.append)
    assert limited.put("t", b"12345", 1, False) and not limited.put("t", b"123456", 1, False)
    limited.close()


def test_entries_past_the_age_limit_are_dropped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path, warn=lambda _: None)
    outbox.put("old", b"1", 1, False)
    outbox.put("new", b"2", 1, False)
    outbox.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE outbox SET created = ? WHERE topic = 'old'", (time.time() - 7200,))
    warnings: list[str] = []
    aged = Outbox(path, Limits(max_age_s=3600), warnings.append)
    assert [e.topic for e in aged.peek(10)] == ["new"]
    assert len(warnings) == 1 and "dropped 1 entries older than 1 h" in warnings[0]
    aged.close()


def test_a_broken_store_is_a_warning_not_an_exception(tmp_path: Path) -> None:
    warnings: list[str] = []
    outbox = Outbox(tmp_path / "o.sqlite3", warn=warnings.append)
    outbox._db.execute("DROP TABLE outbox")  # what a corrupted or vanished file looks like
    assert outbox.put("t", b"x", 1, False) is False
    assert len(warnings) == 1 and "cannot store an entry for t" in warnings[0]
    outbox.close()
