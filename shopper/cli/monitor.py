"""`shopper monitor`: run a schedule of checks, or (sub-commands) look at what it recorded.

`shopper monitor SCHEDULE.yaml` is short for `shopper monitor run SCHEDULE.yaml`: the group
takes sub-commands (`status`, ...) by name and treats anything else as the schedule to run,
so the everyday command stays one word long.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from shopper.carriers.options import DialOptions, SandboxOptions, SipOptions, TwilioGiven
from shopper.carriers.pacing import TargetCaps, configured_caps
from shopper.carriers.twilio.settings import twilio_settings
from shopper.cli.errors import one_line_errors, print_ivr_warnings
from shopper.cli.interrupts import Interrupts, interrupts
from shopper.cli.monitor_status import status
from shopper.cli.mqtt import (
    MqttCa,
    MqttCert,
    MqttClientId,
    MqttDelivery,
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
from shopper.monitor.alert_observer import alerting
from shopper.monitor.alert_states import AlertStates
from shopper.monitor.cadence import cadence_of
from shopper.monitor.calendar import closed_reason
from shopper.monitor.checks import CheckContext, ScheduledRun
from shopper.monitor.dashboard import DashboardObserver
from shopper.monitor.dispatch import CallHere, Dispatch
from shopper.monitor.history import HISTORY_FILE, History, opened_history
from shopper.monitor.metrics import metrics_observer
from shopper.monitor.observers import RunObserver
from shopper.monitor.records import RunRecord, SkippedRun, SkipReason
from shopper.monitor.retention import RetentionObserver
from shopper.monitor.schedule import load_schedule
from shopper.monitor.scheduler import Monitor
from shopper.monitor.spec import CheckSpec, Cron, Every, Lines, Schedule
from shopper.monitor.webhooks import WEBHOOK_OUTBOX_FILE
from shopper.publish.outbox import OUTBOX_FILE, state_dir
from shopper.publish.publisher import Publisher, publishing
from shopper.scripts.loader import load_script

RUN_COMMAND = "run"
DRY_RUN_HORIZON = 100_000
"""Fire times a dry run looks through per check for its next runs (69 days of a 1-minute
cadence), so a check that is never active is reported rather than searched for ever."""


class ScheduleOrCommand(TyperGroup):
    """A group whose first argument is a sub-command's name, or else the schedule to run."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Typer's own Click context
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [RUN_COMMAND, *args]
        return super().parse_args(ctx, args)


monitor_app = typer.Typer(
    cls=ScheduleOrCommand,
    no_args_is_help=True,
    help="Call on a schedule and keep the history: shopper monitor SCHEDULE.yaml.",
)


monitor_app.command("status")(status)


@monitor_app.callback()
def monitor_group() -> None:
    """Scheduled synthetic monitoring: `shopper monitor SCHEDULE.yaml` runs the schedule's
    checks until stopped (Ctrl-C or SIGTERM hang up the calls in progress and keep them)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorSetup:
    """Everything the observers of a monitor may need (alerts, metrics, the dashboard)."""

    schedule: Schedule
    history: History
    out: Path
    state: Path
    publisher: Publisher | None
    console: Console
    metrics_port: int | None
    alert_states: AlertStates | None = None
    """Where alert states are kept (None: the history; a fleet shares them in PostgreSQL)."""
    deletes_evidence: bool = True
    """Retention deletes the call folders of forgotten runs (not in a fleet's monitor: its
    runs' folders are the workers', who delete those they wrote)."""


@monitor_app.command(RUN_COMMAND)
def monitor_run(
    schedule: Annotated[Path, typer.Argument(help="Schedule file (docs/monitor.md).")],
    *,
    out: Annotated[Path, typer.Option(help="Write each call into OUT/<check>/<call id>.")] = Path(
        "recordings/monitor"
    ),
    state_dir_option: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            envvar="SHOPPER_STATE_DIR",
            help="Folder of the run history and the MQTT outbox (default: the user's state "
            "folder).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print when each check calls next (and its run ids); call nobody."
        ),
    ] = False,
    count: Annotated[int, typer.Option(min=1, help="Runs per check that --dry-run shows.")] = 5,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Serve Prometheus metrics on this port (all interfaces; 0: any free port).",
        ),
    ] = None,
    queue: Annotated[
        str | None,
        typer.Option(
            help="Enqueue each run in this PostgreSQL database for `shopper worker`s instead "
            "of calling (postgresql://user@host/db; docs/monitor.md, Running a fleet).",
        ),
    ] = None,
    engine: Engine = "auto",
    vosk_model: VoskModel = None,
    realtime: Annotated[
        bool,
        typer.Option(
            help="Run the simulated phone system in real time instead of its virtual clock."
        ),
    ] = False,
    seed: Seed = 0,
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
    """Run every check of SCHEDULE on its cadence until stopped (exit 130/143 on a signal)."""
    console = Console(soft_wrap=True)
    with one_line_errors():
        loaded = load_schedule(schedule)
    if dry_run:
        console.print(next_runs_text(loaded, datetime.now(UTC), count))
        return
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
    if queue is not None:
        with one_line_errors():
            places = Places(
                schedule=loaded,
                out=out.resolve(),
                state=state_dir_option or state_dir(),
                console=console,
                delivery=MqttDelivery(broker.settings(), mqtt_drain),
            )
            exit_code = asyncio.run(_monitor_fleet(places, queue, schedule))
        typer.echo("shopper: stopped; the runs already enqueued stay in the queue", err=True)
        raise typer.Exit(exit_code)
    with one_line_errors():
        scripts = [load_script(check.script) for check in loaded.checks]
        print_ivr_warnings(Path(s.target) for s in scripts if s.carrier == "sandbox")
        delivery = MqttDelivery(broker.settings(), mqtt_drain)
        caps = schedule_caps(loaded.lines, configured_caps())
        twilio = TwilioGiven(twilio_from, public_url, listen, twilio_api_url, twilio_dtmf)
        if any(script.carrier == "twilio" for script in scripts):
            twilio_settings(twilio)
        speech = SpeechOptions(engine, vosk_model).select()
    console.print(f"engine: {speech.name}")
    options = DialOptions(
        caps=caps,
        sandbox=SandboxOptions(seed=seed, realtime=realtime),
        sip=SipOptions(),
        twilio=twilio,
    )
    state = state_dir_option or state_dir()
    out = out.resolve()  # the history names evidence folders wherever it is read from

    def call_here(publisher: Publisher | None) -> Dispatch:
        context = CheckContext(speech=speech, options=options, out=out, publisher=publisher)
        return CallHere(context, loaded.lines.max_parallel)

    places = Places(
        schedule=loaded,
        out=out,
        state=state,
        console=console,
        delivery=delivery,
        metrics_port=metrics_port,
    )
    exit_code = asyncio.run(_monitor(places, call_here))
    typer.echo("shopper: stopped; the calls in progress were hung up and kept", err=True)
    raise typer.Exit(exit_code)


def schedule_caps(lines: Lines, configured: TargetCaps) -> TargetCaps:
    """The schedule's `lines` per target, never looser than the config's `[safety]` caps:
    a schedule may dial a line more gently than the operator allows, not harder."""
    return TargetCaps(
        at_once=min(lines.per_target, configured.at_once),
        per_second=min(lines.cps, configured.per_second),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Places:
    """Where a monitor keeps things: the schedule it runs, call folders, state, the console,
    the MQTT delivery and the metrics port."""

    schedule: Schedule
    out: Path
    state: Path
    console: Console
    delivery: MqttDelivery
    metrics_port: int | None = None


DispatchFor = Callable[[Publisher | None], Dispatch]
"""What fires do, made once the MQTT publisher is open (None: not publishing): calls placed
here (`CallHere`), or runs enqueued for a fleet."""


async def _monitor(places: Places, dispatch_for: DispatchFor) -> int:
    """The monitor until a signal stops it; returns the signal's exit code."""
    schedule = places.schedule
    async with _monitoring(places) as (setup, heard_by):
        monitor = Monitor(
            schedule, setup.history, dispatch_for(setup.publisher), heard_by, warn=warn
        )
        places.console.print(
            f"monitoring {', '.join(c.name for c in schedule.checks)} "
            f"({schedule.path}); history in {setup.history.path}"
        )

        def start(stop: Interrupts) -> Coroutine[Any, Any, None]:
            monitor.on_fire = stop.cancels
            return monitor.run()

        return await _until_signal(start)


async def _monitor_fleet(places: Places, queue: str, given: Path) -> int:
    """The monitor of a fleet until a signal stops it: each fire is enqueued (the job names
    the schedule file as given, for workers to read it from their own folder), and the
    fleet's results come back into the history and to the observers (those that notify:
    from the reporting monitor only; shopper.monitor.fleet.monitor)."""
    # The fleet's modules load psycopg, which needs libpq: only a fleet's monitor does.
    from shopper.monitor.fleet.alerts import FleetAlertStates
    from shopper.monitor.fleet.monitor import (
        FleetResults,
        enqueueing,
        monitor_fleet,
        monitor_name,
    )
    from shopper.monitor.fleet.queue import safe_dsn

    schedule = places.schedule
    shared: FleetAlertStates | None = None

    def alert_states(history: History) -> AlertStates:
        """The fleet's shared alert states, kept in this monitor's history as they change."""
        nonlocal shared
        shared = FleetAlertStates(history, monitor_name())
        return shared

    async with (
        _monitoring(places, alert_states, fleet=True) as (setup, told),
        enqueueing(queue, given) as dispatch,
    ):
        history = setup.history
        assert shared is not None  # made with the observers
        results = FleetResults(
            queue, history, told, warn=warn, keep_days=schedule.keep_days, alerts=shared
        )
        monitor = Monitor(schedule, history, dispatch, results.for_fires(told), warn=warn)
        places.console.print(
            f"monitoring {', '.join(c.name for c in schedule.checks)} ({schedule.path}) "
            f"for the workers of {safe_dsn(queue)}; history in {history.path}"
        )
        return await _until_signal(lambda _: monitor_fleet(monitor, results))


@asynccontextmanager
async def _monitoring(
    places: Places,
    alert_states: Callable[[History], AlertStates | None] = lambda _: None,
    *,
    fleet: bool = False,
) -> AsyncIterator[tuple[MonitorSetup, list[RunObserver]]]:
    """What every monitor runs with: its history, the MQTT publisher and the observers; the
    outbox is drained on the way out, after the observers' last word. A fleet's monitor
    keeps its alert states where `alert_states` says and deletes no call folder (the
    workers delete those they wrote)."""
    with opened_history(places.state / HISTORY_FILE) as history:
        outbox = places.state / OUTBOX_FILE
        async with publishing(places.delivery.settings, warn, outbox) as publisher:
            setup = MonitorSetup(
                schedule=places.schedule,
                history=history,
                out=places.out,
                state=places.state,
                publisher=publisher,
                console=places.console,
                metrics_port=places.metrics_port,
                alert_states=alert_states(history),
                deletes_evidence=not fleet,
            )
            async with observing(setup) as heard_by:
                yield setup, heard_by
            if publisher is not None:
                await publisher.drain_and_report(places.delivery.drain_s)


async def _until_signal(start: Callable[[Interrupts], Coroutine[Any, Any, None]]) -> int:
    """Run what `start` returns until Ctrl-C or SIGTERM cancels it; returns the signal's
    exit code. An error that is not a signal is raised as it is."""
    with interrupts() as stop:
        task = asyncio.create_task(start(stop))
        stop.cancels(task)
        await asyncio.wait([task])
        if not task.cancelled():
            task.result()
    return stop.exit_code or 1


@asynccontextmanager
async def observing(setup: MonitorSetup) -> AsyncIterator[list[RunObserver]]:
    """What hears of each run and skip, in this order, after it is in the history: alert
    rules first, so that what shows runs (metrics, the dashboard, the console) sees their
    state; retention before the dashboard, so the page never links to deleted evidence.
    The alert sender and the metrics server live as long as the block."""
    async with AsyncExitStack() as stack:
        alerts = await stack.enter_async_context(
            alerting(
                setup.schedule.checks,
                setup.history,
                publisher=setup.publisher,
                announce=warn,
                webhook_outbox=setup.state / WEBHOOK_OUTBOX_FILE,
                states=setup.alert_states,
            )
        )
        heard_by: list[RunObserver] = [alerts]
        if setup.metrics_port is not None:
            names = [check.name for check in setup.schedule.checks]
            metrics, port = await stack.enter_async_context(
                metrics_observer(setup.history, names, setup.metrics_port)
            )
            setup.console.print(f"metrics on http://0.0.0.0:{port}/metrics")
            heard_by.append(metrics)
        dashboard = DashboardObserver(
            setup.history,
            setup.out,
            timezone=setup.schedule.timezone,
            scheduled=[check.name for check in setup.schedule.checks],
        )
        heard_by += [
            RetentionObserver(
                setup.history,
                setup.out if setup.deletes_evidence else None,
                setup.schedule.keep_days,
            ),
            dashboard,
            ConsoleObserver(setup.console),
        ]
        page = await dashboard.refresh()  # there from the start, not only after a run
        setup.console.print(f"dashboard: {page}")
        yield heard_by


class ConsoleObserver:
    """One line per run, and per change of why fires are skipped: a night outside active
    hours is one line when it starts, not one per fire."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._skipping: dict[str, str] = {}
        """Per check, the reason of the skips shown since its last run."""

    async def run_ended(self, run: RunRecord) -> None:
        self._skipping.pop(run.check, None)
        colour = {"passed": "green", "failed": "red"}.get(run.outcome, "yellow")
        human = "-" if run.time_to_human_s is None else f"{run.time_to_human_s:.1f} s"
        hold = "-" if run.hold_s is None else f"{run.hold_s:.1f} s"
        retried = f", {run.attempts} attempts" if run.attempts > 1 else ""
        line = f"[bold {colour}]{run.outcome.upper()}[/] {run.run_id}{retried}"
        if run.failure_kind is not None:
            line += f"\n  {run.failure_kind}: {run.failure_message}"
        line += f"\n  time to human {human}, hold {hold}"
        if run.evidence is not None:
            line += f"\n  evidence: {run.evidence}/report.html"
        self.console.print(line)

    async def run_skipped(self, skip: SkippedRun) -> None:
        if self._skipping.get(skip.check) == skip.reason:
            return
        self._skipping[skip.check] = skip.reason
        self.console.print(
            f"[dim]skipping {skip.check} from {skip.scheduled_at:%Y-%m-%dT%H:%M:%SZ}: "
            f"{SKIP_WORDS[skip.reason]}[/]"
        )


SKIP_WORDS: dict[SkipReason, str] = {
    "overlap": "its previous run is still going (overlap)",
    "inactive": "outside its active hours (inactive)",
    "maintenance": "in a maintenance window (maintenance)",
    "queued": "a run of it already waits in the queue (queued)",
}


# -- --dry-run ----------------------------------------------------------------------------


def next_runs_text(schedule: Schedule, now: datetime, count: int) -> str:
    """Each check's next `count` runs (fires that place a call), local and UTC, with the
    run id and jitter, computed by the same cadences and calendar the monitor uses."""
    blocks = [f"time zone {schedule.timezone.key}; now {_local(now, schedule)}"]
    for check in schedule.checks:
        blocks.append(_check_runs(check, schedule, now, count))
    return "\n".join(blocks)


def _check_runs(check: CheckSpec, schedule: Schedule, now: datetime, count: int) -> str:
    match check.cadence:
        case Every(seconds):
            cadence = f"every {seconds:g} s"
        case Cron(expression):
            cadence = f'cron "{expression}"'
    jitter = f", jitter up to {check.jitter_s:g} s" if check.jitter_s else ""
    lines = [f"{check.name}: {cadence}{jitter} ({check.script.name})"]
    fires = cadence_of(check, schedule.timezone)
    moment: datetime | None = now - timedelta(microseconds=1)
    skipped = 0
    shown = 0
    for _ in range(DRY_RUN_HORIZON):
        moment = fires.next_after(moment) if moment is not None else None
        if moment is None or shown == count:
            break
        reason = closed_reason(check, moment, schedule.timezone)
        if reason is not None:
            skipped += 1
            continue
        run = ScheduledRun(check=check, scheduled_at=moment)
        after = f"  (after {skipped} fires skipped: inactive or maintenance)" if skipped else ""
        lines.append(
            f"  {_local(run.due_at, schedule)}  {run.run_id}"
            + (f"  +{run.jitter_s:.1f} s" if check.jitter_s else "")
            + after
        )
        shown, skipped = shown + 1, 0
    if shown == 0:
        lines.append("  no run in the coming fire times (never active?)")
    return "\n".join(lines)


def _local(moment: datetime, schedule: Schedule) -> str:
    return f"{moment.astimezone(schedule.timezone):%a %Y-%m-%d %H:%M:%S %Z}"
