"""The live processes of this machine as /proc shows them. The tests that interrupt or kill
shopper's processes ask which of them are left, and which are whose children."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LiveProcess:
    """One process: its id, its parent's, its session's and its command line (NUL-separated)."""

    pid: int
    parent: int
    session: int
    cmdline: bytes

    @property
    def spawned(self) -> bool:
        """Started by multiprocessing's spawn: a call host, a crawl line, a speech worker."""
        return b"spawn_main" in self.cmdline


def live_processes() -> list[LiveProcess]:
    """Every process but zombies; one that ends while it is being read is left out."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, parent, session = fields[0], int(fields[1]), int(fields[3])
        if state != "Z":
            found.append(LiveProcess(int(entry.name), parent, session, cmdline))
    return found


def session_processes(sid: int) -> list[str]:
    """Command lines of every live process in session `sid`."""
    return [
        process.cmdline.replace(b"\0", b" ").decode()
        for process in live_processes()
        if process.session == sid
    ]


def spawned_children(pid: int) -> list[LiveProcess]:
    """The processes `pid` started through multiprocessing (its resource tracker among them)."""
    return [p for p in live_processes() if p.parent == pid and p.spawned]
