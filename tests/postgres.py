"""A real Debian PostgreSQL for tests: initdb into a temp folder, a free loopback port, its
unix socket in that folder, stopped by PID.

`Postgres(folder).start()` then `dsn`; `stop()` sends SIGINT (PostgreSQL's fast shutdown) to
the postmaster's PID and waits for it. The server refuses to run as root, so when the tests
run as root (containers) it runs as the `postgres` user the Debian package creates (else
`nobody`), in a folder that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from mosquitto import free_port


def _server_bin() -> Path:
    """Debian's newest installed server version (15 on bookworm, others on Ubuntu), or the
    folder in SHOPPER_TEST_PG_BIN."""
    given = os.environ.get("SHOPPER_TEST_PG_BIN")
    if given:
        return Path(given)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else Path("/usr/lib/postgresql/15/bin")


BIN = _server_bin()
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def available() -> bool:
    return (BIN / "initdb").is_file() and (BIN / "postgres").is_file()


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when the tests run as root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


class Postgres:
    """One PostgreSQL server with its own cluster; trust authentication on loopback only."""

    def __init__(self) -> None:
        # Not under pytest's tmp_path: its parents are private to root, and the server may
        # run as another user who must reach its folder.
        self.folder = Path(tempfile.mkdtemp(prefix="shopper-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.port = free_port()
        self._user = _server_user()
        self._process: subprocess.Popen[bytes] | None = None
        if self._user is not None:
            os.chown(self.folder, self._user.pw_uid, self._user.pw_gid)
        self._as_server(
            [str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"],
            "-E",
            "UTF8",
        )

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def _command(self, argv: list[str]) -> list[str]:
        if self._user is None:
            return argv
        return [
            "setpriv",
            f"--reuid={self._user.pw_uid}",
            f"--regid={self._user.pw_gid}",
            "--clear-groups",
            *argv,
        ]

    def _as_server(self, argv: list[str], *more: str) -> None:
        done = subprocess.run(
            self._command([*argv, *more]), capture_output=True, timeout=120, cwd=self.folder
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr.decode()[-2000:]}")

    def start(self) -> None:
        server = [
            str(BIN / "postgres"),
            "-D", str(self.data),
            "-p", str(self.port),
            "-k", str(self.folder),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                self._command(server), stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
            )
        # setpriv execs the server, so this PID is the postmaster's.
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log.read_text()[-2000:]}")
            ready = subprocess.run(
                [str(BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                timeout=10,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not accept connections within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster): open sessions are ended, data kept."""
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
