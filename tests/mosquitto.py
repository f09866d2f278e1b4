"""A real Debian mosquitto broker for tests: free loopback port, generated config, `-v` log.

`Mosquitto(folder).start()`; `stop()` and `start()` again restart it on the same port with
its persistence file, so subscriptions and queued messages survive like on a real server.
`tls_material(folder)` makes a CA, a server and a client certificate with the openssl CLI.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

MOSQUITTO = "/usr/sbin/mosquitto"
START_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class TlsMaterial:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def tls_material(folder: Path) -> TlsMaterial:
    """A throwaway CA and two certificates it signed: the broker's (127.0.0.1) and a client's."""
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    ca, ca_key = folder / "ca.crt", folder / "ca.key"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(ca_key), "-out", str(ca),
    )  # fmt: skip
    signed: dict[str, tuple[Path, Path]] = {}
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.crt"
        (folder / f"{name}.ext").write_text(extension + "\n")
        openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", str(key), "-out", str(csr),
        )  # fmt: skip
        openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "2", "-extfile", str(folder / f"{name}.ext"),
            "-out", str(cert),
        )  # fmt: skip
        signed[name] = (cert, key)
    return TlsMaterial(ca, *signed["server"], *signed["client"])


class Mosquitto:
    """One broker process; anonymous by default, or TLS with passwords and client certs."""

    def __init__(
        self,
        folder: Path,
        tls: TlsMaterial | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.port = free_port()
        self.log = folder / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        lines = [
            "user root",
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {folder}/",
            "autosave_interval 1",
        ]
        if users:
            passwords = folder / "passwords"
            passwords.write_text("")
            for user, password in users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(passwords), user, password],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        if tls is not None:
            lines += [
                f"cafile {tls.ca}",
                f"certfile {tls.server_cert}",
                f"keyfile {tls.server_key}",
                "require_certificate true",
            ]
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.scheme = "mqtts" if tls is not None else "mqtt"

    def url(self, userinfo: str = "") -> str:
        return f"{self.scheme}://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.config), "-v"], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        """A clean shutdown: mosquitto saves its persistence file on SIGTERM."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


class Collector:
    """A durable subscriber to everything: persistent session, QoS 1, reconnects on its own.

    Run `collect()` as a task; `messages` fills up as they arrive, including messages queued
    for it by the broker while it (or the broker) was away.
    """

    def __init__(self, broker: Mosquitto, topic: str = "#", **client: Any) -> None:
        self.broker = broker
        self.topic = topic
        self.client = client
        self.messages: list[tuple[str, bool, dict[str, Any]]] = []
        self.identifier = f"collector-{broker.port}"
        self.ready = False
        """Subscribed at least once: from then on the broker queues for it while it is away."""

    async def collect(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    self.broker.port,
                    identifier=self.identifier,
                    clean_session=False,
                    **self.client,
                ) as client:
                    await client.subscribe(self.topic, qos=1)
                    self.ready = True
                    async for message in client.messages:
                        assert isinstance(message.payload, bytes)
                        self.messages.append(
                            (str(message.topic), message.retain, json.loads(message.payload))
                        )
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)

    def on(self, suffix: str) -> list[dict[str, Any]]:
        return [payload for topic, _, payload in self.messages if topic.endswith(suffix)]

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 60.0) -> None:
        """Poll `predicate` until it holds; fail the test after `timeout_s`."""
        async with asyncio.timeout(timeout_s):
            while not predicate():
                await asyncio.sleep(0.05)
