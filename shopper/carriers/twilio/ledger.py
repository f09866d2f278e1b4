"""The calls shopper placed through Twilio and has not yet seen completed: a crash's leftovers.

A real call costs money and occupies the far end's line until someone hangs it up. shopper
hangs up through the REST API on every exit path it controls; a SIGKILL, a power cut or a
lost network is not one of them. So every call is written here (state folder,
`twilio-calls.json`) as soon as Twilio gives its SID, and struck off once it is known to be
over. The next process that places a Twilio call first hangs up whatever is left that no
running shopper process owns (`leftovers`).

Entries hold the call SID, the account SID, the process id and host of the process that
placed it, and when: no secret. A lock file keeps concurrent processes from losing each
other's entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from shopper.publish.outbox import state_dir

LEDGER_FILE = "twilio-calls.json"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    call_sid: str
    account_sid: str
    pid: int
    host: str
    placed_at: float
    """Unix time."""

    def owned_by_live_process(self) -> bool:
        """Placed by a shopper process on this host that is still running (its own calls)."""
        if self.host != socket.gethostname():
            return True  # another machine's calls are its own business
        if self.pid == os.getpid():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class CallLedger:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / LEDGER_FILE

    def add(self, call_sid: str, account_sid: str) -> None:
        entry = LedgerEntry(call_sid, account_sid, os.getpid(), socket.gethostname(), time.time())
        with self._locked() as entries:
            entries[call_sid] = entry

    def remove(self, call_sid: str) -> None:
        with self._locked() as entries:
            entries.pop(call_sid, None)

    def leftovers(self, account_sid: str) -> list[LedgerEntry]:
        """This account's calls placed by processes that are no longer running."""
        with self._locked() as entries:
            return [
                entry
                for entry in entries.values()
                if entry.account_sid == account_sid and not entry.owned_by_live_process()
            ]

    def entries(self) -> list[LedgerEntry]:
        with self._locked() as entries:
            return list(entries.values())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, LedgerEntry]]:
        """The entries, read under the lock and written back when the block ends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_suffix(".lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self._read()
            before = dict(entries)
            yield entries
            if entries != before:
                self._write(entries)

    def _read(self) -> dict[str, LedgerEntry]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {item["call_sid"]: LedgerEntry(**item) for item in raw}
        except FileNotFoundError:
            return {}
        except (ValueError, TypeError, KeyError):
            # A damaged ledger must not stop calls; its calls are visible in Twilio's console.
            log.warning("%s is damaged: its calls are no longer tracked", self.path)
            return {}

    def _write(self, entries: dict[str, LedgerEntry]) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps([asdict(entry) for entry in entries.values()], indent=1), encoding="utf-8"
        )
        temporary.replace(self.path)
