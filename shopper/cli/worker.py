"""`shopper worker`: take scheduled runs from a fleet's queue and call them.

Start any number, on any machines that see the same schedule files and scripts:
`shopper worker --queue postgresql://... --lines 4`. Runs come from the monitors
(`shopper monitor SCHEDULE --queue ...`); each result is written into the queue's database
(the fleet's history, followed by the monitors) and published over MQTT like `shopper run`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shopper.asr.types import SpeechEngine
from shopper.carriers.options import DialOptions, SandboxOptions, SipOptions, TwilioGiven
from shopper.carriers.pacing import configured_caps
from shopper.cli.errors import one_line_errors
from shopper.cli.interrupts import interrupts
from shopper.cli.mqtt import (
    MqttCa,
    MqttCert,
    MqttClientId,
    MqttDrain,
    MqttKeepalive,
    MqttKey,
    MqttOptions,
    MqttPrefix,
    MqttQos,
    MqttSite,
    MqttUrl,
    warn,
)
from shopper.cli.options import Engine, Seed, SpeechOptions, VoskModel
from shopper.cli.twilio import Listen, PublicUrl, TwilioApiUrl, TwilioDtmf, TwilioFrom
from shopper.monitor.checks import CheckContext
from shopper.monitor.schedule import load_schedule
from shopper.publish.outbox import OUTBOX_FILE, state_dir
from shopper.publish.publisher import publishing
from shopper.publish.settings import MqttSettings

if TYPE_CHECKING:
    from shopper.monitor.fleet.worker import WorkerSettings


def worker(
    *,
    queue: Annotated[
        str,
        typer.Option(
            help="The fleet's PostgreSQL database, e.g. postgresql://user@host/shopper "
            "(the password from PGPASSWORD or ~/.pgpass rather than the URL).",
        ),
    ],
    lines: Annotated[
        int, typer.Option(min=1, help="Calls at once on this worker (one per target line).")
    ] = 1,
    out: Annotated[Path, typer.Option(help="Write each call into OUT/<check>/<call id>.")] = Path(
        "recordings/monitor"
    ),
    state_dir_option: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            envvar="SHOPPER_STATE_DIR",
            help="Folder of the MQTT outbox and of the ledger of call folders this worker "
            "wrote, which it deletes after the schedule's keep_days (default: the user's state "
            "folder).",
        ),
    ] = None,
    name: Annotated[
        str, typer.Option(help="This worker's name in the fleet's tables (default host-pid).")
    ] = "",
    heartbeat: Annotated[
        float, typer.Option(min=0.1, help="Seconds between this worker's heartbeats.")
    ] = 10.0,
    stalled_after: Annotated[
        float,
        typer.Option(
            min=0.2,
            help="Seconds without a heartbeat after which a worker is taken for dead and its "
            "runs are called again (at least twice --heartbeat).",
        ),
    ] = 30.0,
    grace: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="On SIGTERM/Ctrl-C, seconds to let calls in progress finish; then they are "
            "hung up and their runs go back in the queue.",
        ),
    ] = 120.0,
    engine: Engine = "auto",
    vosk_model: VoskModel = None,
    realtime: Annotated[
        bool,
        typer.Option(
            help="Run the simulated phone system in real time instead of its virtual clock."
        ),
    ] = False,
    seed: Seed = 0,
    sip_trace: Annotated[
        Path | None,
        typer.Option(help="Append every SIP message of this worker's calls to this file."),
    ] = None,
    twilio_from: TwilioFrom = None,
    public_url: PublicUrl = None,
    listen: Listen = None,
    twilio_api_url: TwilioApiUrl = None,
    twilio_dtmf: TwilioDtmf = None,
    mqtt: MqttUrl = None,
    mqtt_ca: MqttCa = None,
    mqtt_cert: MqttCert = None,
    mqtt_key: MqttKey = None,
    mqtt_site: MqttSite = None,
    mqtt_prefix: MqttPrefix = None,
    mqtt_client_id: MqttClientId = None,
    mqtt_qos: MqttQos = None,
    mqtt_keepalive: MqttKeepalive = None,
    mqtt_drain: MqttDrain = 10.0,
) -> None:
    """Take runs from the fleet's queue and call them until SIGTERM or Ctrl-C."""
    # The fleet's modules load psycopg, which needs libpq: only the fleet's commands do.
    from shopper.monitor.fleet.queue import prepare
    from shopper.monitor.fleet.worker import WorkerSettings

    logging.basicConfig(level=logging.WARNING, format="shopper worker: %(message)s")
    broker = MqttOptions(
        url=mqtt,
        ca=mqtt_ca,
        cert=mqtt_cert,
        key=mqtt_key,
        site=mqtt_site,
        prefix=mqtt_prefix,
        client_id=mqtt_client_id,
        qos=mqtt_qos,
        keepalive=mqtt_keepalive,
    )
    with one_line_errors():
        settings = WorkerSettings(
            dsn=queue,
            lines=lines,
            name=name,
            heartbeat_s=heartbeat,
            stalled_after_s=stalled_after,
            shutdown_grace_s=grace,
        ).checked()
        asyncio.run(prepare(settings.dsn))  # an unreachable queue: said before anything loads
        mqtt_settings = broker.settings()
        options = DialOptions(
            caps=configured_caps(),
            sandbox=SandboxOptions(seed=seed, realtime=realtime),
            sip=SipOptions(trace=sip_trace),
            twilio=TwilioGiven(twilio_from, public_url, listen, twilio_api_url, twilio_dtmf),
        )
        speech = SpeechOptions(engine, vosk_model).select()
        places = WorkerPlaces(out=out.resolve(), state=state_dir_option or state_dir())
        asyncio.run(_serve(settings, speech, options, places, mqtt_settings, mqtt_drain))


@dataclass(frozen=True, slots=True)
class WorkerPlaces:
    out: Path
    """Absolute: the ledger and the fleet's history name call folders by it."""
    state: Path


async def _serve(
    settings: WorkerSettings,
    speech: SpeechEngine,
    options: DialOptions,
    places: WorkerPlaces,
    mqtt_settings: MqttSettings | None,
    drain_s: float,
) -> None:
    """Serve until a signal: the first SIGTERM/Ctrl-C stops taking runs and lets the calls
    in progress finish within the grace time; what is left in the outbox is then drained.
    Meanwhile the call folders this worker wrote are deleted after the schedule's keep_days
    (hourly)."""
    from shopper.monitor.fleet.calls import CheckCalls
    from shopper.monitor.fleet.evidence import EVIDENCE_FILE, EvidenceLedger, WorkerRetention
    from shopper.monitor.fleet.worker import FleetWorker

    ledger = EvidenceLedger(places.state / EVIDENCE_FILE)
    outbox = places.state / OUTBOX_FILE
    async with publishing(mqtt_settings, warn, outbox) as publisher:
        context = CheckContext(speech=speech, options=options, out=places.out, publisher=publisher)
        fleet = FleetWorker(settings, CheckCalls(context, load_schedule, ledger))
        retention = asyncio.create_task(WorkerRetention(ledger, places.out).keep_applying())
        stop = asyncio.Event()
        try:
            with interrupts() as signals:
                # A stand-in the first signal cancels: its end is the worker's cue to stop.
                cue = asyncio.create_task(asyncio.Event().wait())
                cue.add_done_callback(lambda _: stop.set())
                signals.cancels(cue)
                try:
                    await fleet.serve(stop)
                finally:
                    cue.cancel()
        finally:
            retention.cancel()
            await asyncio.gather(retention, return_exceptions=True)
            ledger.close()
        if publisher is not None:
            await publisher.drain_and_report(drain_s)
